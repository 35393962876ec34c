/**
 * How a VM boots in the rehearsal, read from its evaluated user data: the files cloud-init
 * writes (before and after the packages), the packages (emulated: see `PACKAGES`), and each
 * runcmd step, either run as rendered inside the VM or, where it needs the VM's own kernel,
 * hardware or the internet, replaced by what the rehearsal does instead, with the reason. The
 * output lists every replacement; nothing is dropped silently.
 */
import { parse } from "yaml";

export interface WriteFile {
  readonly path: string;
  readonly content?: string;
  readonly encoding?: string;
  readonly owner?: string;
  readonly permissions?: string;
  readonly defer?: boolean;
}

export interface CloudConfig {
  readonly hostname?: string;
  readonly packages?: readonly string[];
  readonly write_files?: readonly WriteFile[];
  readonly runcmd?: readonly (string | readonly string[])[];
}

/** One runcmd step and what the rehearsal does with it. */
export type Step =
  | { readonly kind: "run"; readonly argv: readonly string[] }
  | { readonly kind: "start"; readonly unit: string; readonly argv: readonly string[] }
  | { readonly kind: "sysctl"; readonly argv: readonly string[] }
  | { readonly kind: "skip"; readonly argv: readonly string[]; readonly why: string };

/** A systemd service as the rehearsal starts it. */
export interface Unit {
  readonly name: string;
  readonly user: string;
  readonly group: string;
  readonly execStart: readonly string[];
  readonly limitNofile?: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly killSignal: string;
}

/**
 * What installing a package leaves on a VM, as far as the agents need it; the rehearsal does
 * that instead of installing (no internet). Binaries come from the toolchain.
 */
export interface PackageEffect {
  /** System user and group the package creates (uid/gid chosen by the rehearsal's useradd). */
  readonly user?: { readonly name: string; readonly home: string };
  /** Binaries the package installs, by path, and the toolchain's binary that stands in. */
  readonly binaries?: Readonly<Record<string, string>>;
  /** Folders the package creates, with their owner. */
  readonly folders?: Readonly<Record<string, string>>;
}

export const PACKAGES: Readonly<Record<string, PackageEffect>> = {
  consul: { user: { name: "consul", home: "/etc/consul.d" }, binaries: { "/usr/bin/consul": "consul" }, folders: { "/opt/consul": "consul:consul", "/etc/consul.d": "consul:consul" } },
  nomad: { binaries: { "/usr/bin/nomad": "nomad" }, folders: { "/opt/nomad": "root:root", "/etc/nomad.d": "root:root" } },
  "wireguard-tools": {},
};

/** The package name of a `name=version` entry. */
export function packageName(entry: string): string {
  return entry.split("=")[0];
}

export function parseUserData(text: string, vm: string): CloudConfig {
  if (!text.startsWith("#cloud-config\n")) throw new Error(`${vm}: user data is not a #cloud-config document`);
  return parse(text) as CloudConfig;
}

/** The decoded content of a write_files entry. */
export function fileContent(f: WriteFile): Buffer {
  const enc = f.encoding ?? "text/plain";
  if (enc === "b64" || enc === "base64") return Buffer.from(f.content ?? "", "base64");
  if (enc === "text/plain") return Buffer.from(f.content ?? "", "utf8");
  throw new Error(`${f.path}: the rehearsal reads b64 and text/plain write_files, got ${enc}`);
}

function argvOf(step: string | readonly string[]): readonly string[] {
  return typeof step === "string" ? ["sh", "-c", step] : step;
}

/** What the rehearsal does with each runcmd step. */
export function classifySteps(cfg: CloudConfig): Step[] {
  return (cfg.runcmd ?? []).map((raw): Step => {
    const argv = argvOf(raw);
    const [cmd, ...args] = argv;
    const script = cmd === "sh" && args[0] === "-c" ? args[1] ?? "" : "";
    if (cmd === "systemctl") {
      if (args[0] === "daemon-reload") return { kind: "skip", argv, why: "no systemd: the rehearsal reads the unit files itself" };
      if (args[0] === "restart" && args[1] === "ssh") return { kind: "skip", argv, why: "no sshd in the rehearsal (the bastion path is not rehearsed)" };
      if (args[0] === "enable" && args[1] === "--now" && args[2]) return { kind: "start", unit: args[2], argv };
      return { kind: "skip", argv, why: "a systemctl action the rehearsal does not model" };
    }
    if (cmd === "modprobe") return { kind: "skip", argv, why: "kernel modules are the host's" };
    if (cmd === "sysctl" && args[0] === "--system") return { kind: "sysctl", argv };
    if (cmd === "mount" && args[0] === "-a") return { kind: "skip", argv, why: "the data volume is a folder of the VM's root, not a disk" };
    if (/\bmkfs\b|\/dev\/vd[a-z]/.test(script)) return { kind: "skip", argv, why: "no block device: the data volume is a folder of the VM's root" };
    return { kind: "run", argv };
  });
}

/** Splits an ExecStart line as systemd does for the simple cases the units use (no quotes). */
function words(line: string): string[] {
  if (/["'\\$]/.test(line)) throw new Error(`ExecStart ${JSON.stringify(line)}: the rehearsal starts plain command lines only`);
  return line.trim().split(/\s+/);
}

/** Reads the [Service] section of a systemd unit. */
export function parseUnit(name: string, text: string): Unit {
  const service: Record<string, string[]> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) { section = header[1]; continue; }
    if (section !== "Service") continue;
    const eq = line.indexOf("=");
    (service[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  const exec = service.ExecStart?.at(-1);
  if (!exec) throw new Error(`${name}: no ExecStart`);
  const environment: Record<string, string> = {};
  for (const e of service.Environment ?? []) for (const kv of words(e)) environment[kv.split("=")[0]] = kv.slice(kv.indexOf("=") + 1);
  const nofile = service.LimitNOFILE?.at(-1);
  return {
    name,
    user: service.User?.at(-1) ?? "root",
    group: service.Group?.at(-1) ?? service.User?.at(-1) ?? "root",
    execStart: words(exec),
    environment,
    killSignal: service.KillSignal?.at(-1) ?? "SIGTERM",
    ...(nofile && /^\d+$/.test(nofile) ? { limitNofile: Number(nofile) } : {}),
  };
}

/**
 * The network sysctl settings of the files the user data writes under /etc/sysctl.d (the ones a
 * network namespace has of its own), and the others, which the rehearsal cannot set per VM.
 */
export function sysctlSettings(files: readonly WriteFile[]): { own: [string, string][]; host: string[] } {
  const own: [string, string][] = [];
  const host: string[] = [];
  for (const f of files.filter((x) => x.path.startsWith("/etc/sysctl.d/"))) {
    for (const line of fileContent(f).toString("utf8").split("\n")) {
      const m = /^\s*([a-z0-9_.-]+)\s*=\s*(\S+)\s*$/.exec(line);
      if (!m) continue;
      if (/^net\.(ipv4|ipv6)\./.test(m[1])) own.push([m[1], m[2]]);
      else host.push(m[1]);
    }
  }
  return { own, host };
}
