/**
 * The rehearsal's operator: a namespace on the "internet" at an address of the admin range, that
 * joins a site's VPN with the `wireguard_<peer>` output exactly as the README tells an admin to
 * (the placeholder replaced by the private key), and from where the operator's tools run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExecResult, Host, HostError, Netns, sh, shAsync } from "./host";
import { Internet, linkToInternet } from "./network";
import { hostAddress } from "./plan";

/** The placeholder the `wireguard_<peer>` outputs leave for the admin's private key. */
export const PRIVATE_KEY_PLACEHOLDER = "REPLACE_WITH_YOUR_PRIVATE_KEY";

export class Operator {
  private constructor(readonly ns: Netns, readonly pid: number, readonly dir: string, readonly address: string) {}

  static create(host: Host, internet: Internet): Operator {
    const ns = host.netns("operator");
    const address = hostAddress(internet.operatorRange, 10);
    linkToInternet(internet, ns, "eth0", `${address}/${internet.operatorRange.split("/")[1]}`);
    ns.ip("route", "add", "default", "via", hostAddress(internet.operatorRange, 254));
    const pid = host.holder(ns);
    const dir = path.join(host.root, "operator");
    fs.mkdirSync(dir, { recursive: true });
    const op = new Operator(ns, pid, dir, address);
    const r = op.exec(["sh", "-c", "mount -t tmpfs -o mode=755 tmpfs /run"]);
    if (r.status !== 0) throw new HostError(`operator: cannot mount its /run: ${r.stderr.trim()}`);
    return op;
  }

  private argv(argv: readonly string[]): string[] {
    return ["-t", String(this.pid), "-m", "-u", "-n", "--", ...argv];
  }

  exec(argv: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): ExecResult {
    return sh("nsenter", this.argv(argv), opts);
  }

  execAsync(argv: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
    return shAsync("nsenter", this.argv(argv), opts);
  }
}

/**
 * Joins the VPN with a `wireguard_<peer>` output: the private key in place of the placeholder,
 * then `wg-quick up` (wireguard-go), as interface `ifname`.
 */
export function joinVpn(op: Operator, ifname: string, config: string, privateKey: string, output: string): void {
  if (!config.includes(PRIVATE_KEY_PLACEHOLDER)) throw new HostError(`output ${output} has no ${PRIVATE_KEY_PLACEHOLDER} placeholder`);
  const name = ifname.replace(/[^A-Za-z0-9_=+.-]/g, "").slice(0, 15) || "wg";
  const file = path.join(op.dir, `${name}.conf`);
  fs.writeFileSync(file, config.replace(PRIVATE_KEY_PLACEHOLDER, privateKey), { mode: 0o600 });
  const log = path.join(op.dir, `wg-quick-${name}.log`);
  const r = op.exec(["sh", "-c", `wg-quick up ${file} >>${log} 2>&1`], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" }, timeoutMs: 30_000 });
  if (r.status !== 0) throw new HostError(`operator: wg-quick up with output ${output} failed: ${fs.readFileSync(log, "utf8").trim().split("\n").slice(-3).join(" / ")}`);
}
