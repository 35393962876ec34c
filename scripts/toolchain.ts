/**
 * `npm run toolchain`: installs, idempotently, what the real test tier needs.
 *
 * - Terraform: the one on PATH when it is new enough, else the pinned release built with Go.
 * - The Terraform providers the stacks use, built with Go from their modules and laid out as a
 *   filesystem mirror, plus a CLI config that installs only from that mirror. A provider pinned
 *   with a source archive is built from the module proxy where the proxy serves it, and from
 *   the archive (sha256 checked) where it does not.
 * - Consul and Nomad agents, built with Go.
 * - The Debian packages the real tests call.
 *
 * Everything built lands in a cache outside the repository, one folder per module version, so a
 * second run only checks what is there. `.toolchain/env` (git-ignored) is written last; source it.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
/** The pins; TOOLCHAIN_VERSIONS names another file (the toolchain's own tests use it). */
const VERSIONS_FILE = process.env.TOOLCHAIN_VERSIONS ? path.resolve(process.env.TOOLCHAIN_VERSIONS) : path.join(ROOT, "toolchain", "versions.json");

interface GoModule {
  readonly module: string;
  readonly version: string;
  readonly sum?: string;
  /** Build with cgo. @default false */
  readonly cgo?: boolean;
  /** Package to build, relative to the module root. @default "." */
  readonly package?: string;
}
/** A source archive (`git archive` of a release tag) that stands in for a module the proxy does not serve. */
interface SourceArchive {
  /** Path from the repository root, e.g. `../shared/third_party/<file>.tar.gz`; unpacks into one folder named like the file. */
  readonly path: string;
  readonly sha256: string;
}
interface ProviderPin {
  readonly source: string;
  readonly version: string;
  readonly module: string;
  /** A version, or a commit hash that the proxy resolves to its pseudo-version. */
  readonly moduleVersion: string;
  readonly sum?: string;
  /** Built from this when the module proxy does not serve `module@moduleVersion`. @default - the proxy only */
  readonly archive?: SourceArchive;
}
interface Versions {
  readonly go: { readonly minimum: string };
  readonly terraform: { readonly minimum: string; readonly module: string; readonly version: string };
  readonly providers: readonly ProviderPin[];
  readonly agents: readonly (GoModule & { readonly name: string })[];
  readonly debian: readonly string[];
}

const versions: Versions = JSON.parse(fs.readFileSync(VERSIONS_FILE, "utf8"));
const CACHE = process.env.TOOLCHAIN_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "openstack-platform-toolchain");
const started = Date.now();
const report: string[] = [];

function log(msg: string): void {
  process.stdout.write(`toolchain: ${msg}\n`);
}

function fail(msg: string): never {
  process.stderr.write(`toolchain: error: ${msg}\n`);
  process.exit(1);
}

function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const res = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (res.error) fail(`${cmd} ${args.join(" ")}: ${res.error.message}`);
  if (res.status !== 0) fail(`${cmd} ${args.join(" ")} exited ${res.status}\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

function semverAtLeast(have: string, want: string): boolean {
  const a = have.replace(/^v/, "").split(/[.-]/).map((x) => parseInt(x, 10));
  const b = want.replace(/^v/, "").split(/[.-]/).map((x) => parseInt(x, 10));
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Environment for every go command: no toolchain downloads, modules only through the proxy. */
function goEnv(mod?: string, cgo = false): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: "local",
    GOFLAGS: "-mod=mod -buildvcs=false",
    // Some pinned versions are not in the checksum database; the h1: sum pinned in
    // toolchain/versions.json is checked instead (see download()).
    GONOSUMDB: [process.env.GONOSUMDB, mod].filter(Boolean).join(","),
    CGO_ENABLED: cgo ? "1" : "0",
  };
}

interface Downloaded {
  readonly dir: string;
  readonly origin: { hash?: string; time?: string };
}

/**
 * Downloads a module version through the Go proxy, checks its pinned sum, returns its folder.
 * With `optional`, a module the proxy does not serve returns undefined instead of failing. A
 * module pinned without a sum is checked by the go command against the checksum database.
 */
function download(m: GoModule, optional = false): Downloaded | undefined {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "toolchain-dl-"));
  try {
    const res = spawnSync("go", ["mod", "download", "-json", `${m.module}@${m.version}`], { cwd: tmp, env: m.sum ? goEnv(m.module) : goEnv(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    let info: { Dir?: string; Sum?: string; Error?: string; Info?: string; Origin?: { Hash?: string } } = {};
    try {
      info = JSON.parse(res.stdout);
    } catch {
      info = { Error: (res.stderr || res.error?.message || `exited ${res.status}`).trim() };
    }
    if (info.Error || !info.Dir) {
      if (optional) {
        log(`the module proxy does not serve ${m.module}@${m.version}: ${(info.Error ?? "no folder").split("\n")[0]}`);
        return undefined;
      }
      fail(`go mod download ${m.module}@${m.version}: ${info.Error ?? "no folder"}`);
    }
    if (m.sum && info.Sum !== m.sum) {
      fail(`${m.module}@${m.version}: sum ${info.Sum} does not match the pinned ${m.sum} in toolchain/versions.json`);
    }
    const time = info.Info ? (JSON.parse(fs.readFileSync(info.Info, "utf8")) as { Time?: string }).Time : undefined;
    return { dir: info.Dir, origin: { hash: info.Origin?.Hash, time } };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Builds the main package of a module into `dest`. The module is copied into a writable folder
 * and built there with its own go.mod, so that replace directives are honoured (they are not
 * with `go install module@version`).
 */
function buildModule(m: GoModule, dest: string, ldflags: string[] = [], archive?: SourceArchive): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "toolchain-build-"));
  try {
    const downloaded = download(m, archive !== undefined);
    let from = `${m.module}@${m.version}`;
    if (downloaded) {
      fs.cpSync(downloaded.dir, work, { recursive: true });
      run("chmod", ["-R", "u+w", work]);
      fixMissingLocalReplaces(work, m, downloaded.origin);
    } else {
      from = `${unpackArchive(archive as SourceArchive, work)} (source archive)`;
    }
    const t0 = Date.now();
    log(`building ${from} (this takes minutes the first time)`);
    const tmpOut = `${dest}.tmp`;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    run("go", ["build", "-trimpath", `-ldflags=-s -w ${ldflags.join(" ")}`.trim(), "-o", tmpOut, m.package ?? "."], { cwd: work, env: goEnv(m.module, m.cgo) });
    fs.renameSync(tmpOut, dest);
    log(`built ${path.basename(dest)} in ${Math.round((Date.now() - t0) / 1000)} s`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** sha256 of a file, hex. */
function sha256Of(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/**
 * Checks a source archive's sha256 and unpacks its one top folder's content into `work`
 * (writable). Returns the archive's path. A missing archive or a wrong sum fails in one line.
 */
function unpackArchive(archive: SourceArchive, work: string): string {
  const file = path.resolve(ROOT, archive.path);
  if (!fs.existsSync(file)) fail(`source archive ${archive.path} (${file}) is missing: toolchain/versions.json names it because the module proxy does not serve this module`);
  const found = sha256Of(file);
  if (found !== archive.sha256) fail(`source archive ${archive.path}: sha256 ${found}, expected ${archive.sha256} (toolchain/versions.json)`);
  const top = path.basename(file).replace(/\.tar\.gz$|\.tgz$/, "");
  run("tar", ["-xzf", file, "-C", work, "--strip-components=1", `${top}/`]);
  run("chmod", ["-R", "u+w", work]);
  return archive.path;
}

/**
 * A module zip leaves out nested modules, so a replace directive pointing at one (consul's
 * `./api`, nomad's `./api`) names a folder that is not there. It is pointed instead at the nested
 * module's pseudo-version at the same commit as the release (from the release's .info), or
 * dropped when the proxy does not serve that, so that go.mod's required version is used.
 */
function fixMissingLocalReplaces(work: string, m: GoModule, origin: { hash?: string; time?: string }): void {
  const env = goEnv(m.module);
  const gomod = JSON.parse(run("go", ["mod", "edit", "-json"], { cwd: work, env })) as {
    Replace?: { Old: { Path: string; Version?: string }; New: { Path: string } }[];
  };
  for (const r of gomod.Replace ?? []) {
    if (!/^\.\.?\//.test(r.New.Path) || fs.existsSync(path.join(work, r.New.Path))) continue;
    const old = r.Old.Version ? `${r.Old.Path}@${r.Old.Version}` : r.Old.Path;
    const pseudo = origin.hash && origin.time ? `v0.0.0-${origin.time.replace(/[-:TZ]/g, "").slice(0, 14)}-${origin.hash.slice(0, 12)}` : undefined;
    const probe = pseudo ? spawnSync("go", ["mod", "download", "-json", `${r.Old.Path}@${pseudo}`], { cwd: work, env: goEnv(r.Old.Path), encoding: "utf8" }) : undefined;
    if (pseudo && probe?.status === 0) {
      run("go", ["mod", "edit", `-replace=${old}=${r.Old.Path}@${pseudo}`], { cwd: work, env });
    } else {
      run("go", ["mod", "edit", `-dropreplace=${old}`], { cwd: work, env });
    }
  }
}

/** Cache folder name of a module build: the version and the platform. */
function key(m: GoModule): string {
  return `${m.version}-${process.platform}-${process.arch}`;
}

function ensureGo(): void {
  const goPath = which("go");
  if (!goPath) fail("Go is required to build the toolchain and was not found on PATH");
  const v = run("go", ["env", "GOVERSION"]).trim().replace(/^go/, "");
  if (!semverAtLeast(v, versions.go.minimum)) fail(`Go ${v} is too old: ${versions.go.minimum} or newer is needed`);
}

function terraformVersion(bin: string): string | undefined {
  const res = spawnSync(bin, ["version", "-json"], { encoding: "utf8" });
  if (res.status !== 0) return undefined;
  try {
    return (JSON.parse(res.stdout) as { terraform_version: string }).terraform_version;
  } catch {
    return undefined;
  }
}

function ensureTerraform(binDir: string): void {
  const onPath = which("terraform");
  const have = onPath ? terraformVersion(onPath) : undefined;
  let bin: string;
  if (onPath && have && semverAtLeast(have, versions.terraform.minimum)) {
    bin = onPath;
    report.push(`terraform ${have} (from PATH: ${onPath})`);
  } else {
    const m = { module: versions.terraform.module, version: versions.terraform.version };
    bin = path.join(CACHE, "terraform", key(m), "terraform");
    if (!fs.existsSync(bin)) buildModule(m, bin);
    report.push(`terraform ${m.version} (built: ${bin})`);
  }
  linkInto(binDir, "terraform", bin);
}

function linkInto(binDir: string, name: string, target: string): void {
  const link = path.join(binDir, name);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(target, link);
}

/** Terraform's unpacked filesystem mirror layout: HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/binary. */
function ensureProviders(mirror: string): void {
  const target = `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;
  for (const p of versions.providers) {
    const [host, ns, type] = p.source.split("/");
    const dir = path.join(mirror, host, ns, type, p.version, target);
    const bin = path.join(dir, `terraform-provider-${type}_v${p.version}`);
    if (!fs.existsSync(bin)) buildModule({ module: p.module, version: p.moduleVersion, ...(p.sum ? { sum: p.sum } : {}) }, bin, [], p.archive);
    report.push(`provider ${p.source} ${p.version} (${bin})`);
  }
}

function ensureAgents(binDir: string): void {
  for (const a of versions.agents) {
    const bin = path.join(CACHE, a.name, key(a), a.name);
    if (!fs.existsSync(bin)) buildModule(a, bin);
    linkInto(binDir, a.name, bin);
    report.push(`${a.name} ${a.version} (${bin})`);
  }
}

function ensureDebian(): void {
  const missing = versions.debian.filter((pkg) => spawnSync("dpkg", ["-s", pkg], { stdio: "ignore" }).status !== 0);
  if (missing.length > 0) {
    if (!which("apt-get")) fail(`Debian packages missing and no apt-get: ${missing.join(", ")}`);
    log(`installing Debian packages: ${missing.join(", ")}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update", "-qq"], { env });
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env });
  }
  report.push(`debian: ${versions.debian.join(", ")}`);
}

function writeEnv(binDir: string, mirror: string): void {
  const outDir = path.join(ROOT, ".toolchain");
  fs.mkdirSync(outDir, { recursive: true });
  const rc = path.join(outDir, "terraformrc");
  // Only the mirror: with no `direct {}` block terraform never asks a registry.
  fs.writeFileSync(
    rc,
    [
      "# Written by npm run toolchain. Providers come only from the local filesystem mirror.",
      "provider_installation {",
      "  filesystem_mirror {",
      `    path    = ${JSON.stringify(mirror)}`,
      `    include = ["registry.terraform.io/*/*"]`,
      "  }",
      "}",
      "disable_checkpoint = true",
      "",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(outDir, "env"),
    [
      "# Written by npm run toolchain; source it.",
      `export PATH=${JSON.stringify(binDir)}:"$PATH"`,
      `export TF_CLI_CONFIG_FILE=${JSON.stringify(rc)}`,
      `export TOOLCHAIN_MIRROR=${JSON.stringify(mirror)}`,
      "export CHECKPOINT_DISABLE=1",
      "",
    ].join("\n"),
  );
}

function main(): void {
  ensureGo();
  fs.mkdirSync(CACHE, { recursive: true });
  const binDir = path.join(CACHE, "bin");
  const mirror = path.join(CACHE, "mirror");
  fs.mkdirSync(binDir, { recursive: true });
  fs.mkdirSync(mirror, { recursive: true });
  const only = process.argv.slice(2);
  const want = (part: string): boolean => only.length === 0 || only.includes(part);
  if (want("debian")) ensureDebian();
  if (want("terraform")) ensureTerraform(binDir);
  if (want("providers")) ensureProviders(mirror);
  if (want("agents")) ensureAgents(binDir);
  writeEnv(binDir, mirror);
  for (const line of report) log(line);
  log(`env written to ${path.join(ROOT, ".toolchain", "env")} (source it); cache ${CACHE}; ${Math.round((Date.now() - started) / 1000)} s`);
}

main();
