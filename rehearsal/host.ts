/**
 * The rehearsal's hold on this machine: network namespaces (all named `rh-...`), one holder
 * process per VM that keeps the VM's mount and UTS namespaces alive, commands run inside a VM,
 * and the teardown that ends every process and namespace the rehearsal started. Nothing is
 * configured on the host's own interfaces: every address lives inside a namespace made here.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Every namespace the rehearsal creates starts with this, so that a later run can clean up. */
export const NS_PREFIX = "rh-";

export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly uid?: number;
  readonly gid?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/**
 * Applies `.toolchain/env` (written by `npm run toolchain`) to this process, so that terraform,
 * the agents and the providers' mirror are found. Returns false when the file is missing.
 */
export function loadToolchainEnv(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^export ([A-Z_]+)="([^"]*)"(:"\$PATH")?$/.exec(line.trim());
    if (m) process.env[m[1]] = m[3] ? `${m[2]}:${process.env.PATH}` : m[2];
  }
  return true;
}

/** Thrown when a command the rehearsal needs fails; one line: what ran, where, and its error. */
export class HostError extends Error {}

export function sh(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): ExecResult {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : { stdio: ["ignore", "pipe", "pipe"] }),
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") throw new HostError(`${cmd} is not installed (run npm run toolchain)`);
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** `sh`, without blocking: the boots of a site's VMs run side by side, as on a cloud. */
export function shAsync(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], ...(opts.env ? { env: opts.env } : {}) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    let settled = false;
    const settle = (status: number | null) => { if (!settled) { settled = true; clearTimeout(timer); resolve({ status, stdout, stderr }); } };
    child.on("error", (e) => { stderr += String(e); settle(127); });
    child.on("close", (status) => settle(status));
    // A process it left in the background (a daemon) may hold the pipes open: the exit is the end,
    // with a second's grace for the output still in them.
    child.on("exit", (status) => setTimeout(() => settle(status), 1000));
    child.stdin.on("error", () => { /* the command did not read its input */ });
    child.stdin.end(opts.input ?? "");
  });
}

export function shOk(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const r = sh(cmd, args, opts);
  if (r.status !== 0) throw new HostError(`${[cmd, ...args].join(" ")}: exit ${r.status}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`);
  return r.stdout;
}

/**
 * One rehearsal at a time on a machine: the namespaces are named alike and a new run removes
 * what a previous one left. Takes the lock file (holding this process's pid), or throws naming
 * the live process that holds it; a lock whose process is gone is taken over. Returns the release.
 */
export function acquireLock(file: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => { try { if (fs.readFileSync(file, "utf8") === String(process.pid)) fs.rmSync(file); } catch { /* gone */ } };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(fs.readFileSync(file, "utf8"));
      let alive = false;
      try { process.kill(pid, 0); alive = pid > 0 && pid !== process.pid; } catch { alive = false; }
      if (alive) throw new HostError(`another rehearsal is running (pid ${pid}, lock ${file}): wait for it to end, or end it`);
      fs.rmSync(file, { force: true });
    }
  }
  throw new HostError(`cannot take the rehearsal lock ${file}`);
}

/** The namespaces a previous run left, and their processes, ended; its folder removed. */
export function cleanLeftovers(root: string): string[] {
  const names = sh("ip", ["netns", "list"]).stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(NS_PREFIX));
  for (const ns of names) killNamespace(ns);
  fs.rmSync(root, { recursive: true, force: true });
  return names;
}

function killNamespace(ns: string): void {
  for (let i = 0; i < 20; i++) {
    const pids = sh("ip", ["netns", "pids", ns]).stdout.split("\n").filter(Boolean);
    if (pids.length === 0) break;
    for (const pid of pids) try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
    spawnSync("sleep", ["0.1"]);
  }
  sh("ip", ["netns", "del", ns]);
}

/** A network namespace made by the rehearsal. */
export class Netns {
  constructor(readonly name: string) {}

  /** Runs `ip ...` inside the namespace. */
  ip(...args: string[]): string {
    return shOk("ip", ["-n", this.name, ...args]);
  }

  exec(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): ExecResult {
    return sh("ip", ["netns", "exec", this.name, ...argv], opts);
  }

  execOk(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    return shOk("ip", ["netns", "exec", this.name, ...argv], opts);
  }
}

/**
 * The host side of a rehearsal: its folder, its namespaces and its processes, all ended by
 * `destroy`, which is safe to call more than once and after a failure half-way.
 */
export class Host {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(readonly root: string) {
    fs.mkdirSync(root, { recursive: true });
  }

  netns(name: string): Netns {
    const ns = `${NS_PREFIX}${name}`;
    if (ns.length > 60) throw new HostError(`namespace name ${ns} is too long`);
    shOk("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    const n = new Netns(ns);
    n.ip("link", "set", "lo", "up");
    return n;
  }

  /**
   * A process that holds a private mount and UTS namespace inside `ns` (the VM's root and
   * hostname). Returns its pid; `nsenter -t pid` enters the VM.
   */
  holder(ns: Netns): number {
    const child = spawn("ip", ["netns", "exec", ns.name, "unshare", "--mount", "--uts", "--propagation", "private", "sleep", "infinity"], { stdio: "ignore", detached: true });
    this.children.push(child);
    if (!child.pid) throw new HostError(`cannot start the holder of ${ns.name}`);
    // ip netns exec and unshare exec in place: the child's pid is the holder's. Wait until it has unshared.
    const self = fs.readlinkSync("/proc/self/ns/mnt");
    for (let i = 0; i < 100; i++) {
      try {
        if (fs.readlinkSync(`/proc/${child.pid}/ns/mnt`) !== self && fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").startsWith("sleep")) return child.pid;
      } catch { /* not yet */ }
      spawnSync("sleep", ["0.05"]);
    }
    throw new HostError(`the holder of ${ns.name} did not start`);
  }

  /** Starts a long-running process (an agent) and keeps it for the teardown. */
  daemon(argv: readonly string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, "a");
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd], detached: true, env });
    fs.closeSync(fd);
    this.children.push(child);
    return child;
  }

  destroy(): void {
    for (const ns of [...this.namespaces].reverse()) killNamespace(ns);
    this.namespaces.length = 0;
    for (const c of this.children) if (c.exitCode === null && c.pid) try { process.kill(c.pid, "SIGKILL"); } catch { /* gone */ }
    this.children.length = 0;
  }
}
