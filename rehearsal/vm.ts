/**
 * One VM of the rehearsal: a network namespace at the address the plan gives it, a mount
 * namespace whose /etc, /opt, /srv, /usr/local, /usr/bin and /var are overlays of the host's (so
 * that the VM's files are its own, in its folder), a private /run, and its hostname. It boots as
 * cloud-init would: the files (written by cloud-init's own write_files module), the packages
 * (emulated, see boot.ts), the deferred files, then each runcmd step.
 */
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { classifySteps, CloudConfig, fileContent, PACKAGES, packageName, parseUnit, parseUserData, Step, sysctlSettings, Unit, WriteFile } from "./boot";
import { ExecOptions, ExecResult, Host, HostError, Netns, sh, shAsync } from "./host";
import { Vm } from "./plan";

/** The folders of the host a VM gets as its own (overlays, writes stay in the VM's folder). */
export const VM_OVERLAYS = ["/etc", "/opt", "/srv", "/usr/local", "/usr/bin", "/var"];

/** The Python that runs cloud-init (Debian's package), whose modules the rehearsal uses. */
export const CLOUD_INIT_PYTHON = "/usr/bin/python3";

/** Writes write_files entries with cloud-init's own module (cloudinit.config.cc_write_files). */
const WRITE_FILES_PY = [
  "import json, sys",
  "from cloudinit.config.cc_write_files import write_files",
  "write_files('write_files', json.load(sys.stdin), 'root:root')",
].join("\n");

/** Said in the output and the README: the rehearsal's one addition to a rendered file. */
export const RAW_EXEC_CHANGE = "raw_exec plugin enabled, for the rehearsal's test job only (cgroup v1 here: exec does not start; no Docker)";

/** How long one runcmd step may take (the bootstrap waits for a quorum) before the boot fails. */
export const BOOT_STEP_TIMEOUT_MS = 180_000;

export interface BootEvent {
  readonly vm: string;
  readonly step: string;
  /** What the rehearsal did instead of the step, and why; undefined when it ran as rendered. */
  readonly instead?: string;
}

/** The hard limit of open files this process may give its children. */
function hardNofile(): number {
  const out = sh("sh", ["-c", "ulimit -Hn"]).stdout.trim();
  return out === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(out);
}

export class RehearsalVm {
  readonly dir: string;
  readonly cfg: CloudConfig;
  readonly steps: readonly Step[];
  private holderPid = 0;
  private readonly agents = new Map<string, { unit: Unit; child: ChildProcess; log: string }>();

  constructor(
    readonly host: Host,
    readonly site: string,
    readonly vm: Vm,
    readonly ns: Netns,
    userData: string,
    /** The toolchain's binaries by name (consul, nomad). */
    readonly binaries: Readonly<Record<string, string>>,
    /** How many times the VM was replaced before (a replacement has a root of its own). @default 0 */
    readonly generation = 0,
  ) {
    this.dir = path.join(host.root, generation === 0 ? vm.name : `${vm.name}.${generation}`);
    this.cfg = parseUserData(userData, vm.name);
    this.steps = classifySteps(this.cfg);
  }

  /** A path of the VM's filesystem, seen from the host (the overlay's upper folder). */
  file(p: string): string {
    const top = VM_OVERLAYS.find((o) => p === o || p.startsWith(`${o}/`));
    if (!top) throw new HostError(`${this.vm.name}: ${p} is outside the VM's own folders`);
    return path.join(this.dir, "upper", top.slice(1).replace(/\//g, "_"), p.slice(top.length));
  }

  readFile(p: string): string | undefined {
    try { return fs.readFileSync(this.file(p), "utf8"); } catch { return undefined; }
  }

  /** A file as the VM's user data writes it (before it has booted, too). */
  writtenFile(p: string): string | undefined {
    const f = (this.cfg.write_files ?? []).find((w) => w.path === p);
    return f ? fileContent(f).toString("utf8") : undefined;
  }

  /** Creates the mount and UTS namespaces: overlays, a private /run, the hostname. */
  prepare(): void {
    this.holderPid = this.host.holder(this.ns);
    const script: string[] = ["set -e"];
    for (const o of VM_OVERLAYS) {
      const key = o.slice(1).replace(/\//g, "_");
      const upper = path.join(this.dir, "upper", key);
      const work = path.join(this.dir, "work", key);
      fs.mkdirSync(upper, { recursive: true });
      fs.mkdirSync(work, { recursive: true });
      script.push(`mount -t overlay overlay -o lowerdir=${o},upperdir=${upper},workdir=${work} ${o}`);
    }
    script.push("mount -t tmpfs -o mode=755 tmpfs /run", `hostname ${this.cfg.hostname ?? this.vm.name}`);
    this.execOk(["sh", "-c", script.join("\n")]);
  }

  private nsenter(argv: readonly string[], opts: ExecOptions): string[] {
    if (!this.holderPid) throw new HostError(`${this.vm.name} is not prepared`);
    const ids = opts.uid !== undefined ? ["-S", String(opts.uid), "-G", String(opts.gid ?? opts.uid)] : [];
    return ["-t", String(this.holderPid), "-m", "-u", "-n", ...ids, "--", ...(opts.env ? ["env", "-i", ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)] : []), ...argv];
  }

  /** Runs a command inside the VM (as root unless `uid`), waiting for it. */
  exec(argv: readonly string[], opts: ExecOptions = {}): ExecResult {
    return sh("nsenter", this.nsenter(argv, opts), opts);
  }

  /** `exec` without blocking the rehearsal (the other VMs boot meanwhile). */
  execAsync(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return shAsync("nsenter", this.nsenter(argv, opts), opts);
  }

  execOk(argv: readonly string[], opts: ExecOptions = {}): string {
    const r = this.exec(argv, opts);
    if (r.status !== 0) throw new HostError(`${this.vm.name}: ${argv.join(" ")}: exit ${r.status}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`);
    return r.stdout;
  }

  private async writeFiles(files: readonly WriteFile[]): Promise<void> {
    if (files.length === 0) return;
    const r = await this.execAsync([CLOUD_INIT_PYTHON, "-c", WRITE_FILES_PY], { input: JSON.stringify(files) });
    if (r.status !== 0) throw new HostError(`${this.vm.name}: cloud-init write_files failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`);
  }

  private idOf(kind: "-u" | "-g", name: string): number {
    const out = this.execOk(["id", kind, name]).trim();
    return Number(out);
  }

  /**
   * Everything cloud-init would do on first boot, in its order: files, packages and deferred
   * files at once, then the runcmd steps, which may wait on the other VMs (the first server's
   * bootstrap waits for a quorum), so they run without blocking.
   */
  async boot(event: (e: BootEvent) => void): Promise<void> {
    const files = this.cfg.write_files ?? [];
    await this.writeFiles(files.filter((f) => !f.defer));
    event({ vm: this.vm.name, step: `write_files (${files.filter((f) => !f.defer).length} files, cloud-init's module)` });
    for (const entry of this.cfg.packages ?? []) {
      const name = packageName(entry);
      const effect = PACKAGES[name];
      if (!effect) {
        event({ vm: this.vm.name, step: `package ${entry}`, instead: "not installed: packages need the internet" });
        continue;
      }
      if (effect.user) this.execOk(["sh", "-c", `id -u ${effect.user.name} >/dev/null 2>&1 || useradd --system --home-dir ${effect.user.home} --no-create-home --shell /usr/sbin/nologin ${effect.user.name}`]);
      for (const [dir, owner] of Object.entries(effect.folders ?? {})) this.execOk(["sh", "-c", `mkdir -p ${dir} && chown ${owner} ${dir}`]);
      for (const [at, tool] of Object.entries(effect.binaries ?? {})) {
        const bin = this.binaries[tool];
        if (!bin) throw new HostError(`${this.vm.name}: package ${name} needs the toolchain's ${tool}`);
        // A bind mount, not a symlink: the toolchain's folder is not readable by the package's user.
        this.execOk(["sh", "-c", `touch ${at} && mount --bind ${bin} ${at}`]);
      }
      event({ vm: this.vm.name, step: `package ${entry}`, instead: `emulated: ${[effect.user ? `user ${effect.user.name}` : "", ...Object.keys(effect.binaries ?? {}).map((b) => `${b} from the toolchain`)].filter(Boolean).join(", ") || "nothing the rehearsal needs"}` });
    }
    const deferred = files.filter((f) => f.defer);
    await this.writeFiles(deferred);
    if (deferred.length > 0) event({ vm: this.vm.name, step: `write_files deferred (${deferred.length} files)` });
    this.enableRawExec(event);
    for (const step of this.steps) await this.runStep(step, event);
  }

  /**
   * The one setting the rehearsal adds to a Nomad client: the raw_exec driver, for its own test
   * job only (this kernel's cgroup v1 stops `exec`, and there is no Docker), so that the check
   * "the clients run work" has a driver. The rendered jobs do not use it.
   */
  private enableRawExec(event: (e: BootEvent) => void): void {
    if (this.vm.role === "server") return;
    const file = this.file("/etc/nomad.d/nomad.json");
    if (!fs.existsSync(file)) return;
    const cfg = JSON.parse(fs.readFileSync(file, "utf8")) as { plugin?: Record<string, unknown>[] };
    cfg.plugin = [...(cfg.plugin ?? []), { raw_exec: { config: { enabled: true } } }];
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
    event({ vm: this.vm.name, step: "/etc/nomad.d/nomad.json", instead: RAW_EXEC_CHANGE });
  }

  private async runStep(step: Step, event: (e: BootEvent) => void): Promise<void> {
    const what = `runcmd ${step.argv.join(" ")}`;
    switch (step.kind) {
      case "skip":
        event({ vm: this.vm.name, step: what, instead: `skipped: ${step.why}` });
        return;
      case "sysctl": {
        const { own, host } = sysctlSettings(this.cfg.write_files ?? []);
        for (const [k, v] of own) this.execOk(["sysctl", "-q", "-w", `${k}=${v}`]);
        event({ vm: this.vm.name, step: what, instead: `applied ${own.map(([k, v]) => `${k}=${v}`).join(", ") || "nothing"} in the VM's namespace${host.length ? `; not ${host.join(", ")} (the host kernel's)` : ""}` });
        return;
      }
      case "start": {
        const how = await this.start(step.unit);
        event({ vm: this.vm.name, step: what, ...(how ? { instead: how } : {}) });
        return;
      }
      case "run": {
        // cloud-init runs the steps with a plain environment, not the rehearsal's.
        const r = await this.execAsync(step.argv, { timeoutMs: BOOT_STEP_TIMEOUT_MS, env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C.UTF-8" } });
        if (r.status !== 0) throw new HostError(`${this.vm.name}: ${what} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" / ")}`);
        event({ vm: this.vm.name, step: what });
      }
    }
  }

  /**
   * Starts a systemd unit the way systemd would (ExecStart, User, Group, LimitNOFILE,
   * Environment); wg-quick@ units as wg-quick does, with wireguard-go (this kernel has no
   * WireGuard module). Returns what differs from the unit, if anything. Fails when the process
   * exits at once, with its last log lines.
   */
  async start(unitName: string): Promise<string | undefined> {
    if (!/^[A-Za-z0-9@_.-]+$/.test(unitName)) throw new HostError(`${this.vm.name}: unit name ${JSON.stringify(unitName)} is not a systemd unit name`);
    const wg = /^wg-quick@(.+)$/.exec(unitName);
    if (wg) {
      // wireguard-go goes to the background: its output goes to a file, not to our pipe.
      const log = `/var/log/wg-quick-${wg[1]}.log`;
      const r = await this.execAsync(["sh", "-c", `wg-quick up ${wg[1]} >>${log} 2>&1`], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" }, timeoutMs: 30_000 });
      if (r.status !== 0) throw new HostError(`${this.vm.name}: wg-quick up ${wg[1]} failed: ${(this.readFile(log) ?? "").trim().split("\n").slice(-3).join(" / ")}`);
      return "wg-quick up with wireguard-go (no WireGuard kernel module here)";
    }
    const text = this.readFile(`/etc/systemd/system/${unitName}.service`);
    if (text === undefined) return `skipped: no unit file /etc/systemd/system/${unitName}.service (its package is not installed)`;
    const unit = parseUnit(unitName, text);
    const uid = this.idOf("-u", unit.user);
    const gid = this.idOf("-g", unit.group);
    const log = path.join(this.dir, "logs", `${unitName}.log`);
    const hard = hardNofile();
    const nofile = unit.limitNofile !== undefined ? Math.min(unit.limitNofile, hard) : undefined;
    const argv = [
      ...(nofile ? ["prlimit", `--nofile=${nofile}:${nofile}`] : []),
      "nsenter", "-t", String(this.holderPid), "-m", "-u", "-n", "-S", String(uid), "-G", String(gid), "--",
      "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...Object.entries(unit.environment).map(([k, v]) => `${k}=${v}`),
      ...unit.execStart,
    ];
    const child = this.host.daemon(argv, log, { PATH: process.env.PATH ?? "/usr/bin:/bin" });
    this.agents.set(unitName, { unit, child, log });
    await new Promise((r) => setTimeout(r, 300));
    if (!this.running(unitName)) throw new HostError(`${this.vm.name}: ${unitName} exited at start: ${this.log(unitName).trim().split("\n").slice(-3).join(" / ")}`);
    return nofile !== unit.limitNofile ? `started, LimitNOFILE ${unit.limitNofile} lowered to ${nofile} (this machine's hard limit)` : undefined;
  }

  /** Stops a unit's process as systemd would (its KillSignal), then kills it if it lingers. */
  async stop(unitName: string, signal?: NodeJS.Signals): Promise<void> {
    const a = this.agents.get(unitName);
    if (!a || a.child.exitCode !== null || a.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => a.child.once("exit", () => r()));
    a.child.kill(signal ?? (a.unit.killSignal as NodeJS.Signals));
    const timer = setTimeout(() => a.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * The VM goes away as an instance Nova deletes: powered off (every process in it killed at
   * once: the agents do not leave, a client's node stays "ready" until its heartbeat expires),
   * its mount namespace (its root) released once they are gone. Its network namespace (its port)
   * stays.
   */
  async shutdown(): Promise<void> {
    if (!this.holderPid) return;
    const mnt = fs.readlinkSync(`/proc/${this.holderPid}/ns/mnt`);
    const inside = () => fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try { return fs.readlinkSync(`/proc/${pid}/ns/mnt`) === mnt; } catch { return false; }
    });
    for (let i = 0; i < 100; i++) {
      const pids = inside();
      if (pids.length === 0) break;
      for (const pid of pids) try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = inside();
    if (left.length > 0) throw new HostError(`${this.vm.name}: processes ${left.join(", ")} survived the power-off`);
    this.holderPid = 0;
  }

  /** The mount points of the VM's data volumes (the fstab lines its runcmd adds). */
  volumeMounts(): string[] {
    const steps = (this.cfg.runcmd ?? []).map((r) => (typeof r === "string" ? r : r.join(" ")));
    return [...new Set(steps.flatMap((t) => [...t.matchAll(/LABEL=[\w.-]+ (\/\S+) ext4/g)].map((m) => m[1])))];
  }

  running(unitName: string): boolean {
    const a = this.agents.get(unitName);
    return !!a && a.child.exitCode === null && a.child.signalCode === null;
  }

  /** The command that enters the VM (its network, mount and UTS namespaces) as root. */
  enterCommand(): string {
    return `nsenter -t ${this.holderPid} -m -u -n`;
  }

  /** The pids of the agents the VM runs. */
  pids(): number[] {
    return [...this.agents.values()].flatMap((a) => (a.child.pid && a.child.exitCode === null ? [a.child.pid] : []));
  }

  units(): string[] {
    return [...this.agents.keys()];
  }

  log(unitName: string): string {
    const a = this.agents.get(unitName);
    try { return a ? fs.readFileSync(a.log, "utf8") : ""; } catch { return ""; }
  }
}
