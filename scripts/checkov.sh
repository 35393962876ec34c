#!/usr/bin/env bash
# IaC scan of synthesized cdktf stacks with checkov, pinned and installed on demand.
#
#   scripts/checkov.sh DIR [extra checkov args...]
#
# DIR holds cdktf's cdk.tf.json (one stack folder, or a folder of stack folders).
# checkov ${CHECKOV_VERSION} is installed once into a virtualenv under
# ${TOOLCHAIN_CACHE:-$HOME/.cache/openstack-platform-toolchain}/checkov-<version>; later runs reuse it.
# Check ids listed in scripts/checkov-skips.txt (`CKV_XXX_N  one-line justification`) are skipped;
# an entry without a justification is an error.
# Exit status: checkov's (0: no failed check, 1: failed checks), 2 on a usage or setup error.
#
# Framework: terraform_json reads cdk.tf.json. (`--framework terraform` finds no check in
# cdk.tf.json; on the same stack synthesized as HCL, SYNTH_HCL_OUTPUT=true, it runs the same
# checks with the same results as terraform_json here.)
set -euo pipefail

CHECKOV_VERSION="3.3.30"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
skips_file="${CHECKOV_SKIPS_FILE:-$here/checkov-skips.txt}"
cache="${TOOLCHAIN_CACHE:-$HOME/.cache/openstack-platform-toolchain}"
venv="$cache/checkov-$CHECKOV_VERSION"
checkov="$venv/bin/checkov"

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 DIR [checkov args...]  (DIR: a folder with cdk.tf.json files)" >&2
  exit 2
fi
dir="$1"
shift

# Skip list: `ID  justification` per line; blank lines and # comments ignored.
skips=()
if [ -n "${CHECKOV_SKIPS_FILE:-}" ] && [ ! -f "$skips_file" ]; then
  echo "checkov.sh: CHECKOV_SKIPS_FILE=$skips_file does not exist" >&2
  exit 2
fi
if [ -f "$skips_file" ]; then
  lineno=0
  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! "$line" =~ ^(CKV2?_[A-Z0-9]+_[0-9]+)[[:space:]]+([^[:space:]].*)$ ]]; then
      echo "checkov.sh: $skips_file:$lineno: expected 'CKV_XXX_N  justification', got: $line" >&2
      exit 2
    fi
    id="${BASH_REMATCH[1]}"
    for seen in "${skips[@]}"; do
      if [ "$seen" = "$id" ]; then
        echo "checkov.sh: $skips_file:$lineno: $id is listed twice" >&2
        exit 2
      fi
    done
    skips+=("$id")
  done < "$skips_file"
fi

# Install, once. The marker file is written last, so an interrupted install is redone, never
# used half-finished.
marker="$venv/.installed"
if [ -f "$marker" ] && [ -x "$checkov" ]; then
  echo "checkov.sh: using checkov $CHECKOV_VERSION from $venv (already installed)" >&2
else
  command -v python3 >/dev/null || { echo "checkov.sh: python3 is required to install checkov" >&2; exit 2; }
  echo "checkov.sh: installing checkov==$CHECKOV_VERSION into $venv ($(python3 --version 2>&1))" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
  installed="$("$checkov" --version)"
  if [ "$installed" != "$CHECKOV_VERSION" ]; then
    echo "checkov.sh: expected checkov $CHECKOV_VERSION, the install reports '$installed'" >&2
    exit 2
  fi
  echo "$CHECKOV_VERSION" > "$marker"
  echo "checkov.sh: installed checkov $installed" >&2
fi

args=(-d "$dir" --framework terraform_json --compact --skip-download --download-external-modules false)
# Only the failed checks on the console, unless the caller chose an output format.
quiet=(--quiet)
for a in "$@"; do
  case "$a" in -o | --output | --output=*) quiet=() ;; esac
done
args+=("${quiet[@]}")
if [ ${#skips[@]} -gt 0 ]; then
  args+=(--skip-check "$(IFS=,; echo "${skips[*]}")")
  echo "checkov.sh: skipping ${skips[*]} (justified in $skips_file)" >&2
else
  echo "checkov.sh: no check skipped ($skips_file lists none)" >&2
fi
echo "checkov.sh: checkov ${args[*]} $*" >&2
exec "$checkov" "${args[@]}" "$@"
