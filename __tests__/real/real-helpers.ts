/**
 * Helpers of the real test tier: temporary folders, commands with captured output, tools that
 * must be present (a missing tool fails the test, it never skips it), and real secrets made with
 * the real tools (openssl certificates, WireGuard keys, gossip keys).
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");

/** The toolchain's bin folder (where `npm run toolchain` links terraform, consul, nomad). */
export const TOOLCHAIN_BIN = path.join(process.env.TOOLCHAIN_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "openstack-platform-toolchain"), "bin");

/** The result of a command: never throws on a non-zero exit; see `runOk`. */
export interface RunResult {
  readonly command: string;
  /** Exit status; null when the process was killed (timeout). */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr, for assertions on what a tool printed wherever it printed it. */
  readonly output: string;
  readonly durationMs: number;
}

export interface RunOptions {
  readonly cwd?: string;
  /** Added to the environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Text written to stdin. */
  readonly input?: string;
  /** Kill after this many milliseconds. @default 120000 */
  readonly timeoutMs?: number;
}

function pathWithToolchain(): string {
  const current = process.env.PATH ?? "";
  return current.split(path.delimiter).includes(TOOLCHAIN_BIN) ? current : [current, TOOLCHAIN_BIN].join(path.delimiter);
}

/** Runs `cmd args` without a shell; the toolchain's bin folder is on PATH (after the caller's). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const started = Date.now();
  const spawnOpts: SpawnSyncOptions = {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, PATH: pathWithToolchain(), ...(opts.env ?? {}) },
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    ...(opts.input !== undefined ? { input: opts.input } : { stdio: ["ignore", "pipe", "pipe"] }),
  };
  const res = spawnSync(cmd, args, spawnOpts);
  const command = [cmd, ...args].join(" ");
  if (res.error && (res.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(`${command}: ${cmd} is not installed or not on PATH (${res.error.message})`);
  }
  const stdout = String(res.stdout ?? "");
  const stderr = String(res.stderr ?? "") + (res.error ? `\n[${res.error.message}]` : "");
  return { command, status: res.status, signal: res.signal, stdout, stderr, output: `${stdout}${stderr}`, durationMs: Date.now() - started };
}

/** Describes a result for an assertion message. */
export function describeRun(r: RunResult): string {
  return `$ ${r.command}\nexit ${r.status ?? `killed by ${r.signal}`} after ${r.durationMs} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Runs and throws, with the captured output, unless the exit status is 0. */
export function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`command failed:\n${describeRun(r)}`);
  return r;
}

/** The absolute path of an executable on PATH (or in the toolchain's bin folder), or undefined. */
export function which(name: string): string | undefined {
  for (const dir of pathWithToolchain().split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not in this folder */
    }
  }
  return undefined;
}

/**
 * The path of a tool the test needs. Throws (the test fails, it is not skipped) with what to do
 * when the tool is missing.
 */
export function requireTool(name: string): string {
  const found = which(name);
  if (!found) {
    throw new Error(
      `real tests: the tool "${name}" is missing (looked in PATH and ${TOOLCHAIN_BIN}). ` +
        "Install the toolchain with `npm run toolchain` and `source .toolchain/env`; " +
        "the Debian packages are listed in toolchain/versions.json.",
    );
  }
  return found;
}

/** Throws unless the process runs as root (network namespaces need it). */
export function requireRoot(why: string): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(`real tests: ${why} needs root (uid 0); running as uid ${process.getuid?.() ?? "unknown"}`);
  }
}

/** A fresh temporary folder; `removeDir` it in afterAll. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `content` at `dir/rel`, creating parent folders; returns the absolute path. */
export function writeFile(dir: string, rel: string, content: string | Buffer, mode?: number): string {
  const p = path.join(dir, rel.replace(/^\/+/, ""));
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content, mode !== undefined ? { mode } : {});
  return p;
}

// ---------------------------------------------------------------------------------------------
// Real secrets

/** A gossip encryption key as `consul keygen` prints it: 32 random bytes, base64. */
export function gossipKey(): string {
  return randomBytes(32).toString("base64");
}

/** A WireGuard key pair made by `wg genkey` and `wg pubkey`. */
export interface WgKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

export function wgKeyPair(): WgKeyPair {
  requireTool("wg");
  const privateKey = runOk("wg", ["genkey"]).stdout.trim();
  const publicKey = runOk("wg", ["pubkey"], { input: `${privateKey}\n` }).stdout.trim();
  return { privateKey, publicKey };
}

/** A CA made by openssl: ECDSA P-256, as the cluster's ClusterCa. */
export interface TestCa {
  readonly dir: string;
  readonly certPem: string;
  readonly keyFile: string;
  readonly certFile: string;
}

/** PEMs of an issued certificate (the shape of cloud-init's AgentTls). */
export interface IssuedCert {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

function ecKey(file: string): void {
  runOk("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
}

/** A self-signed ECDSA P-256 CA in `dir` (created if needed). */
export function createCa(dir: string, commonName: string): TestCa {
  requireTool("openssl");
  fs.mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, "ca-key.pem");
  const certFile = path.join(dir, "ca.pem");
  ecKey(keyFile);
  runOk("openssl", [
    "req", "-x509", "-new", "-key", keyFile, "-sha256", "-days", "2",
    "-subj", `/O=platform/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    "-out", certFile,
  ]);
  return { dir, keyFile, certFile, certPem: fs.readFileSync(certFile, "utf8") };
}

let serial = 0;

/**
 * An agent certificate signed by `ca`, with the SANs the cluster gives its agents: the DNS names
 * (e.g. server.dc1.consul), localhost, the IPs and 127.0.0.1; server and client auth.
 */
export function issueCert(ca: TestCa, opts: { dnsNames: readonly string[]; ipAddresses?: readonly string[] }): IssuedCert {
  const name = `cert-${process.pid}-${++serial}`;
  const keyFile = path.join(ca.dir, `${name}-key.pem`);
  const csrFile = path.join(ca.dir, `${name}.csr`);
  const certFile = path.join(ca.dir, `${name}.pem`);
  const extFile = path.join(ca.dir, `${name}.ext`);
  ecKey(keyFile);
  runOk("openssl", ["req", "-new", "-key", keyFile, "-subj", `/CN=${opts.dnsNames[0]}`, "-out", csrFile]);
  const sans = [...opts.dnsNames, "localhost"].map((d) => `DNS:${d}`).concat([...(opts.ipAddresses ?? []), "127.0.0.1"].map((ip) => `IP:${ip}`));
  fs.writeFileSync(
    extFile,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=${sans.join(",")}`,
      "",
    ].join("\n"),
  );
  runOk("openssl", ["x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-set_serial", String(Date.now() * 1000 + serial), "-days", "1", "-sha256", "-extfile", extFile, "-out", certFile]);
  runOk("openssl", ["verify", "-CAfile", ca.certFile, certFile]);
  return { caPem: ca.certPem, certPem: fs.readFileSync(certFile, "utf8"), keyPem: fs.readFileSync(keyFile, "utf8") };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Nomad agent in dev mode started by a test. */
export interface NomadDevAgent {
  /** http://127.0.0.1:<port> */
  readonly addr: string;
  readonly process: ChildProcess;
  /** The agent's output so far. */
  log(): string;
  /** SIGINT, then SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * Starts `nomad agent -dev` on loopback with random ports and a data dir under `dir`, and waits
 * (90 s at most) until it has a leader and, without ACLs, reports healthy. Consul points at a
 * closed port so the agent never registers in a Consul another test runs; cloud metadata
 * fingerprinting is off (env_aws fails when AWS_CA_BUNDLE is set). `extra` is merged into the
 * agent's config (e.g. `{ acl: { enabled: true } }`).
 */
export async function startNomadDevAgent(dir: string, name: string, extra: Record<string, unknown> = {}): Promise<NomadDevAgent> {
  const bin = requireTool("nomad");
  const [http, rpc, serf, consul] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = writeFile(
    dir,
    `${name}.json`,
    JSON.stringify(
      {
        data_dir: path.join(dir, name),
        bind_addr: "127.0.0.1",
        ports: { http, rpc, serf },
        consul: { address: `127.0.0.1:${consul}`, auto_advertise: false, server_auto_join: false, client_auto_join: false },
        disable_update_check: true,
        client: { options: { "fingerprint.denylist": "env_aws,env_gce,env_azure,env_digitalocean" } },
        ...extra,
      },
      null,
      2,
    ),
  );
  const addr = `http://127.0.0.1:${http}`;
  const logFile = path.join(dir, `${name}.log`);
  const out = fs.openSync(logFile, "w");
  const agent = spawn(bin, ["agent", "-dev", "-bind=127.0.0.1", "-network-interface=lo", `-config=${config}`], { stdio: ["ignore", out, out] });
  fs.closeSync(out);
  let exited: string | undefined;
  agent.on("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  const stop = async () => {
    if (agent.exitCode !== null || agent.signalCode !== null) return;
    const done = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGINT");
    const timedOut = await Promise.race([done.then(() => false), sleep(15_000).then(() => true)]);
    if (timedOut) agent.kill("SIGKILL");
  };
  const acl = (extra.acl as { enabled?: boolean } | undefined)?.enabled === true;
  const deadline = Date.now() + 90_000;
  let last = "";
  for (;;) {
    if (exited) break;
    try {
      const leader = await fetch(`${addr}/v1/status/leader`).then((r) => r.text());
      last = `leader ${leader}`;
      if (/:\d+"?$/.test(leader.trim())) {
        if (acl) return { addr, process: agent, log, stop };
        const health = await fetch(`${addr}/v1/agent/health`);
        last = `health ${health.status}, ${last}`;
        if (health.status === 200) return { addr, process: agent, log, stop };
      }
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  await stop();
  throw new Error(`nomad agent did not become ready (${exited ?? last}); log:\n${log().slice(-4000)}`);
}

// ---------------------------------------------------------------------------------------------
// Network namespaces that stand for a site's private network

/**
 * A network namespace made by a test, holding deployment addresses on its loopback: whatever a
 * synthesized stack dials there (a server's private address) reaches only what the test runs
 * inside it. Nothing in the host's namespace ever dials those addresses: the test reaches an
 * agent inside through `forward`, a relay from a Unix socket (the filesystem is shared) to the
 * address inside. `destroy` ends every process it started and deletes the namespace.
 */
export class TestNetns {
  private readonly children: ChildProcess[] = [];
  private readonly onExit = () => this.killAll("SIGKILL");

  private constructor(readonly name: string) {
    process.once("exit", this.onExit);
  }

  /** Creates the namespace, brings its loopback up and puts `addresses` (/32) on it. */
  static create(prefix: string, addresses: readonly string[]): TestNetns {
    requireRoot("a network namespace");
    const name = `${prefix}-${process.pid}`;
    run("ip", ["netns", "del", name]);
    runOk("ip", ["netns", "add", name]);
    const ns = new TestNetns(name);
    try {
      runOk("ip", ["-n", name, "link", "set", "lo", "up"]);
      for (const a of addresses) runOk("ip", ["-n", name, "addr", "add", `${a}/32`, "dev", "lo"]);
    } catch (e) {
      ns.destroy();
      throw e;
    }
    return ns;
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
    return run("ip", ["netns", "exec", this.name, cmd, ...args], opts);
  }

  /** Starts a long-running process inside (`ip netns exec` execs it: the pid is the process's). */
  spawn(cmd: string, args: readonly string[], logFile: string, env: Readonly<Record<string, string>> = {}): ChildProcess {
    const out = fs.openSync(logFile, "w");
    const child = spawn("ip", ["netns", "exec", this.name, cmd, ...args], { stdio: ["ignore", out, out], env: { ...process.env, PATH: pathWithToolchain(), ...env } });
    fs.closeSync(out);
    this.children.push(child);
    return child;
  }

  /**
   * A Unix socket at `socketPath` whose connections are relayed to `host:port` inside the
   * namespace (a Node relay started inside). Resolves once the socket accepts connections.
   */
  async forward(host: string, port: number, socketPath: string): Promise<string> {
    fs.rmSync(socketPath, { force: true });
    const relay = [
      "const net = require('node:net');",
      "const [sock, host, port] = process.argv.slice(1);",
      "net.createServer((c) => { const u = net.connect(Number(port), host); c.pipe(u); u.pipe(c); u.on('error', () => c.destroy()); c.on('error', () => u.destroy()); }).listen(sock);",
    ].join("\n");
    this.spawn(process.execPath, ["-e", relay, socketPath, host, String(port)], `${socketPath}.log`);
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(socketPath)) {
      if (Date.now() > deadline) throw new Error(`relay ${socketPath} -> ${host}:${port} in ${this.name} did not start: ${fs.readFileSync(`${socketPath}.log`, "utf8")}`);
      await sleep(50);
    }
    return socketPath;
  }

  private killAll(signal: NodeJS.Signals): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  }

  /** Ends every process started inside (SIGTERM, then SIGKILL after 10 s) and deletes the namespace. */
  async destroy(): Promise<void> {
    process.removeListener("exit", this.onExit);
    const alive = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = Promise.all(alive.map((c) => new Promise((r) => c.once("exit", r))));
    this.killAll("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 10_000)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.killAll("SIGKILL");
      await exited;
    }
    // Anything else left inside (a process an agent forked) goes with the namespace's pids.
    const pids = run("ip", ["netns", "pids", this.name]).stdout.split(/\s+/).filter(Boolean);
    for (const pid of pids) run("kill", ["-9", pid]);
    run("ip", ["netns", "del", this.name]);
  }
}

/** An agent started inside a namespace (`TestNetns.spawn`), logging to a file. */
export class AgentProcess {
  exited: string | undefined;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    readonly logFile: string,
  ) {
    this.proc.on("exit", (code, signal) => (this.exited = `exited with ${code ?? signal}`));
  }

  log(tail = 6000): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8").slice(-tail) : "";
  }

  /** Polls `check` (true when ready, else a status) until ready; throws with the log otherwise. */
  async waitUntil(what: string, check: () => Promise<true | string>, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (!this.exited && Date.now() < deadline) {
      try {
        const r = await check();
        if (r === true) return;
        last = r;
      } catch (e) {
        last = String(e);
      }
      await sleep(300);
    }
    throw new Error(`${this.name}: ${what} (${this.exited ?? `timed out: ${last}`}); log:\n${this.log()}`);
  }

  /** Ends the agent (`signal`, then SIGKILL after 15 s) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const done = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([done.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 15_000)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.proc.kill("SIGKILL");
      await done;
    }
  }
}
