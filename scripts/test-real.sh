#!/usr/bin/env bash
# npm run test:real: the real tier. Needs the toolchain (npm run toolchain); a missing tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .toolchain/env ]; then
  echo "test:real: .toolchain/env is missing: run npm run toolchain first" >&2
  exit 1
fi
# shellcheck disable=SC1091
source .toolchain/env
for tool in terraform consul nomad promtool amtool haproxy wg wireguard-go cloud-init ip curl openssl nft nsenter; do
  command -v "$tool" >/dev/null || { echo "test:real: $tool is not on PATH: run npm run toolchain" >&2; exit 1; }
done
REAL_TESTS=1 exec npx jest --ci --runInBand "$@"
