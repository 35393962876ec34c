/**
 * Real tier: the site-to-site tunnel carries packets.
 *
 * The wg1 interfaces come from the VPN gateway constructs of the default deployment (primary and
 * backup infra stacks), with the Terraform tokens replaced by real values: `wg genkey` keys and
 * the underlay addresses of this test. They are rendered with renderWireGuard, stripped with
 * `wg-quick strip`, applied with `wg setconf` to wireguard-go interfaces in network namespaces
 * joined by a veth pair, and given the Address and the AllowedIPs routes as wg-quick would.
 *
 * Everything lives in namespaces named after this process (wgA<pid>, wgB<pid>, wgC<pid>), on
 * TEST-NET-3 underlay addresses that exist only inside them; afterAll removes them and stops the
 * wireguard-go processes this test started, even when a test failed.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { renderWireGuard, WireGuardInterface } from "../../cloud-init/wireguard";
import { parseDeployment, SiteConfig } from "../../config/deployment";
import { VpnGateway } from "../../constructs/openstack/vpn-gateway";
import { buildDeployment } from "../../stacks/deployment";
import { ROOT, RunResult, WgKeyPair, makeTempDir, removeDir, requireRoot, requireTool, run, runOk, wgKeyPair, writeFile } from "./real-helpers";

const PID = process.pid;
const TOKEN = /\$\{TfToken\[[^\]]+\]\}/;

/** One WireGuard endpoint of the test: a namespace, its wireguard-go interface and its underlay address. */
interface Side {
  readonly label: string;
  readonly ns: string;
  readonly ifname: string;
  readonly underlay: string;
  readonly keys: WgKeyPair;
  /** The interface as the construct built it (tokens in place). */
  readonly fromConstruct?: WireGuardInterface;
  /** The interface with real values, rendered. */
  iface?: WireGuardInterface;
  conf?: string;
  process?: ChildProcess;
}

let work: string;
let primarySite: SiteConfig;
let backupSite: SiteConfig;
let primary: Side;
let backup: Side;
/** The primary gateway's wg-quick configurations for its admin peers (the infra stack's outputs). */
let adminConfigs: Record<string, string> = {};
let intruder: Side;
const namespaces: string[] = [];
const started: Side[] = [];

function inNs(side: Side, cmd: string, args: readonly string[], timeoutMs = 20_000): RunResult {
  return run("ip", ["netns", "exec", side.ns, cmd, ...args], { timeoutMs });
}

function inNsOk(side: Side, cmd: string, args: readonly string[]): RunResult {
  return runOk("ip", ["netns", "exec", side.ns, cmd, ...args], { timeoutMs: 20_000 });
}

function ping(from: Side, to: string, opts: { count?: number; source?: string } = {}): RunResult {
  return inNs(from, "ping", ["-n", "-c", String(opts.count ?? 3), "-W", "2", ...(opts.source ? ["-I", opts.source] : []), to], 30_000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 250 ms until it returns true or `timeoutMs` passes. */
async function waitFor(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (probe()) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** `wg show <if> latest-handshakes`: peer public key to the handshake's Unix time (0: none). */
function latestHandshakes(side: Side): Map<string, number> {
  const out = inNsOk(side, "wg", ["show", side.ifname, "latest-handshakes"]).stdout;
  return new Map(
    out
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t"))
      .map(([k, t]) => [k, Number(t)]),
  );
}

/** The `Key = value` entries of a wg-quick file (repeated keys joined by ", "). */
function entries(conf: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of conf.split("\n")) {
    const kv = /^(\w+)\s*=\s*(.*)$/.exec(line.trim());
    if (kv) m.set(kv[1], m.has(kv[1]) ? `${m.get(kv[1])}, ${kv[2]}` : kv[2]);
  }
  return m;
}

function interfaceRxPackets(side: Side): number {
  const json = JSON.parse(inNsOk(side, "ip", ["-s", "-j", "link", "show", side.ifname]).stdout) as { stats64: { rx: { packets: number } } }[];
  return json[0].stats64.rx.packets;
}

function peerRxBytes(side: Side): number {
  return inNsOk(side, "wg", ["show", side.ifname, "transfer"])
    .stdout.trim()
    .split("\n")
    .filter(Boolean)
    .reduce((sum, l) => sum + Number(l.split("\t")[1]), 0);
}

/**
 * The construct's interface with real values: this side's private key, the other side's real
 * public key, and the endpoint's Terraform token (the other gateway's public IP) replaced by the
 * other side's underlay address, keeping the construct's port.
 */
function withRealValues(side: Side, other: Side): WireGuardInterface {
  const iface = side.fromConstruct as WireGuardInterface;
  return {
    ...iface,
    privateKey: side.keys.privateKey,
    peers: iface.peers.map((p) => ({
      ...p,
      publicKey: other.keys.publicKey,
      ...(p.endpoint ? { endpoint: p.endpoint.replace(TOKEN, other.underlay) } : {}),
    })),
  };
}

/** Starts wireguard-go in the side's namespace, sets the stripped config, adds Address and routes (what wg-quick up does). */
async function bringUp(side: Side): Promise<void> {
  const iface = side.iface as WireGuardInterface;
  side.conf = renderWireGuard(iface);
  // wg-quick wants the file named <interface>.conf.
  const file = writeFile(work, `${side.ifname}.conf`, side.conf, 0o600);
  const stripped = runOk("wg-quick", ["strip", file]).stdout;
  const strippedFile = writeFile(work, `${side.ifname}.stripped`, stripped, 0o600);

  const log = fs.openSync(path.join(work, `${side.ifname}.wireguard-go.log`), "w");
  const child = spawn("ip", ["netns", "exec", side.ns, "wireguard-go", "-f", side.ifname], {
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: "1", LOG_LEVEL: "error" },
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  side.process = child;
  started.push(side);
  const socket = `/var/run/wireguard/${side.ifname}.sock`;
  await waitFor(`wireguard-go to create ${side.ifname} in ${side.ns} (log: ${work}/${side.ifname}.wireguard-go.log)`, 10_000, () => {
    if (child.exitCode !== null) throw new Error(`wireguard-go exited ${child.exitCode}: ${fs.readFileSync(path.join(work, `${side.ifname}.wireguard-go.log`), "utf8")}`);
    return fs.existsSync(socket) && inNs(side, "ip", ["link", "show", side.ifname]).status === 0;
  });

  inNsOk(side, "wg", ["setconf", side.ifname, strippedFile]);
  const e = entries(side.conf);
  inNsOk(side, "ip", ["address", "add", e.get("Address") as string, "dev", side.ifname]);
  inNsOk(side, "ip", ["link", "set", "mtu", "1420", "up", "dev", side.ifname]);
  for (const range of (e.get("AllowedIPs") as string).split(/,\s*/)) inNsOk(side, "ip", ["route", "add", range, "dev", side.ifname]);
}

function addNamespace(name: string): void {
  runOk("ip", ["netns", "add", name]);
  namespaces.push(name);
  runOk("ip", ["-n", name, "link", "set", "lo", "up"]);
}

/** A veth pair between two namespaces, with a /30 on each end. */
function link(a: Side, aName: string, aAddr: string, b: Side, bName: string, bAddr: string): void {
  runOk("ip", ["link", "add", aName, "netns", a.ns, "type", "veth", "peer", "name", bName, "netns", b.ns]);
  runOk("ip", ["-n", a.ns, "address", "add", `${aAddr}/30`, "dev", aName]);
  runOk("ip", ["-n", b.ns, "address", "add", `${bAddr}/30`, "dev", bName]);
  runOk("ip", ["-n", a.ns, "link", "set", aName, "up"]);
  runOk("ip", ["-n", b.ns, "link", "set", bName, "up"]);
}

beforeAll(async () => {
  requireRoot("creating network namespaces");
  for (const tool of ["ip", "wg", "wg-quick", "wireguard-go", "ping"]) requireTool(tool);
  if (!fs.existsSync("/dev/net/tun")) throw new Error("real tests: /dev/net/tun is missing; wireguard-go needs it");
  work = makeTempDir("real-wireguard");

  // The default deployment's stacks: primary listens, backup dials (it comes second).
  const deployment = parseDeployment(fs.readFileSync(path.join(ROOT, "config", "deployment.yaml"), "utf8"), "config/deployment.yaml");
  const stacks = buildDeployment(Testing.app(), deployment);
  const sites = new Map(deployment.sites.map((s) => [s.name, s]));
  primarySite = sites.get("primary") as SiteConfig;
  adminConfigs = stacks.get("primary")?.infra.vpn.clientConfigs([primarySite.siteRange]) ?? {};
  backupSite = sites.get("backup") as SiteConfig;
  const wg1 = (site: string): WireGuardInterface => {
    const ifaces = stacks.get(site)?.infra.vpn.interfaces;
    if (!ifaces?.wg1) throw new Error(`the ${site} VPN gateway has no wg1 (site-to-site) interface`);
    return ifaces.wg1;
  };

  primary = { label: "primary", ns: `wgA${PID}`, ifname: `wgsa${PID}`, underlay: "203.0.113.1", keys: wgKeyPair(), fromConstruct: wg1("primary") };
  backup = { label: "backup", ns: `wgB${PID}`, ifname: `wgsb${PID}`, underlay: "203.0.113.2", keys: wgKeyPair(), fromConstruct: wg1("backup") };
  // Pretends to be the primary gateway, with a key the backup gateway does not know.
  intruder = { label: "intruder", ns: `wgC${PID}`, ifname: `wgsc${PID}`, underlay: "203.0.113.6", keys: wgKeyPair() };

  for (const s of [primary, backup, intruder]) addNamespace(s.ns);
  link(primary, `wva${PID}`, primary.underlay, backup, `wvb${PID}`, backup.underlay);
  link(backup, `wvbc${PID}`, "203.0.113.5", intruder, `wvc${PID}`, intruder.underlay);
  runOk("ip", ["netns", "exec", primary.ns, "ping", "-n", "-c", "1", "-W", "2", backup.underlay], { timeoutMs: 10_000 });

  primary.iface = withRealValues(primary, backup);
  backup.iface = withRealValues(backup, primary);
  // The intruder's interface: the primary's, with its own key, dialing the backup gateway.
  intruder.iface = {
    ...primary.iface,
    privateKey: intruder.keys.privateKey,
    peers: primary.iface.peers.map((p) => ({ ...p, endpoint: `203.0.113.5:${backup.iface?.listenPort}` })),
  };
  // A host of the primary site's servers tier behind the primary gateway.
  runOk("ip", ["-n", primary.ns, "address", "add", `${primarySite.servers[0].fixedIp}/32`, "dev", "lo"]);

  // The listening side first, then the side that dials.
  await bringUp(primary);
  await bringUp(backup);
  await bringUp(intruder);
}, 120_000);

/** Resolves when the child has exited, or after `ms`; true when it has exited. */
function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

afterAll(async () => {
  const problems: string[] = [];
  // Only the wireguard-go processes this test started, by their own handles.
  for (const side of started) {
    const child = side.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGTERM");
    if (await exitWithin(child, 3_000)) continue;
    child.kill("SIGKILL");
    if (!(await exitWithin(child, 3_000))) problems.push(`wireguard-go ${side.ifname} (pid ${child.pid}) did not exit`);
  }
  for (const ns of namespaces) {
    const r = run("ip", ["netns", "del", ns]);
    if (r.status !== 0) problems.push(`ip netns del ${ns}: ${r.output}`);
  }
  for (const side of started) fs.rmSync(`/var/run/wireguard/${side.ifname}.sock`, { force: true });
  removeDir(work);
  if (problems.length > 0) throw new Error(`cleanup: ${problems.join("\n")}`);
}, 30_000);

describe("the construct's site-to-site interfaces", () => {
  test("wg1 is the gateway's address, the listen port + 1, and one peer: the other site's ranges, keepalive 25 s", () => {
    for (const [side, site, other] of [
      [primary, primarySite, backupSite],
      [backup, backupSite, primarySite],
    ] as const) {
      const iface = side.fromConstruct as WireGuardInterface;
      expect(iface.address).toBe(`${site.vpn.gatewayAddress}/32`);
      expect(iface.listenPort).toBe(site.vpn.port + 1);
      expect(iface.peers).toHaveLength(1);
      expect(iface.peers[0]).toMatchObject({ publicKey: other.vpn.publicKey, allowedIps: [other.siteRange, other.vpn.range], persistentKeepalive: VpnGateway.KEEPALIVE_SECONDS });
    }
  });

  test("only the dialing site (backup) has an endpoint: the other gateway's public IP and wg1 port", () => {
    expect(backupSite.initiatesTunnel).toBe(true);
    expect(primarySite.initiatesTunnel).toBe(false);
    expect(primary.fromConstruct?.peers[0].endpoint).toBeUndefined();
    expect(backup.fromConstruct?.peers[0].endpoint).toMatch(new RegExp(`^${TOKEN.source}:${primary.fromConstruct?.listenPort}$`));
  });

  test("an admin peer's configuration (an output of the infra stack) is a wg-quick file: once its private key is put in, it dials the gateway for the site's ranges", () => {
    expect(Object.keys(adminConfigs)).toEqual(primarySite.vpn.peers.map((p) => p.name));
    const alice = primarySite.vpn.peers[0];
    const keys = wgKeyPair();
    const filled = adminConfigs[alice.name].replace(VpnGateway.PRIVATE_KEY_PLACEHOLDER, keys.privateKey).replace(TOKEN, primary.underlay);
    const file = writeFile(work, "wgadmin0.conf", filled, 0o600);
    const stripped = entries(runOk("wg-quick", ["strip", file]).stdout);
    expect(entries(filled).get("Address")).toBe(`${alice.address}/32`);
    expect(Object.fromEntries(stripped)).toEqual({
      PrivateKey: keys.privateKey,
      PublicKey: primarySite.vpn.publicKey,
      AllowedIPs: [primarySite.siteRange, primarySite.vpn.range].join(", "),
      Endpoint: `${primary.underlay}:${primarySite.vpn.port}`,
      PersistentKeepalive: "25",
    });
  });

  test("wg-quick strip keeps what wg setconf reads and drops Address", () => {
    const conf = backup.conf as string;
    const stripped = entries(fs.readFileSync(path.join(work, `${backup.ifname}.stripped`), "utf8"));
    expect(entries(conf).get("Address")).toBe(`${backupSite.vpn.gatewayAddress}/32`);
    expect(stripped.has("Address")).toBe(false);
    expect(Object.fromEntries(stripped)).toEqual({
      PrivateKey: backup.keys.privateKey,
      ListenPort: String(backup.iface?.listenPort),
      PublicKey: primary.keys.publicKey,
      AllowedIPs: [primarySite.siteRange, primarySite.vpn.range].join(", "),
      Endpoint: `${primary.underlay}:${primary.iface?.listenPort}`,
      PersistentKeepalive: "25",
    });
  });
});

describe("the tunnel between two namespaces", () => {
  test("the dialing side's keepalive completes a handshake with no other traffic", async () => {
    await waitFor("a handshake between primary and backup", 20_000, () => (latestHandshakes(primary).get(backup.keys.publicKey) ?? 0) > 0);
    expect(latestHandshakes(backup).get(primary.keys.publicKey)).toBeGreaterThan(0);
    // The listening side learned the dialing side's endpoint from the handshake.
    expect(inNsOk(primary, "wg", ["show", primary.ifname, "endpoints"]).stdout.trim()).toBe(`${backup.keys.publicKey}\t${backup.underlay}:${backup.iface?.listenPort}`);
  });

  test("primary pings the backup gateway's tunnel address", () => {
    const r = ping(primary, backupSite.vpn.gatewayAddress);
    expect({ status: r.status, out: r.stdout }).toEqual({ status: 0, out: expect.stringContaining("3 packets transmitted, 3 received, 0% packet loss") });
    const show = inNsOk(primary, "wg", ["show", primary.ifname]).stdout;
    expect(show).toMatch(/latest handshake: .*ago/);
    expect(show).toMatch(/transfer: .* received, .* sent/);
  });

  test("backup reaches a server in the primary site's range through the tunnel", () => {
    const r = ping(backup, primarySite.servers[0].fixedIp as string);
    expect({ status: r.status, out: r.stdout }).toEqual({ status: 0, out: expect.stringContaining("0% packet loss") });
  });
});

describe("negative controls", () => {
  test("a peer whose key the backup gateway does not know gets no handshake and no packet through", () => {
    const r = ping(intruder, backupSite.vpn.gatewayAddress, { count: 2 });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("100% packet loss");
    expect(latestHandshakes(intruder).get(backup.keys.publicKey)).toBe(0);
    // The backup gateway still knows one peer only: the real primary, at its real address.
    expect(inNsOk(backup, "wg", ["show", backup.ifname, "endpoints"]).stdout.trim()).toBe(`${primary.keys.publicKey}\t${primary.underlay}:${primary.iface?.listenPort}`);
  });

  test("a destination outside the peer's AllowedIPs is not carried, even with a route into the tunnel", () => {
    inNsOk(primary, "ip", ["route", "add", "10.30.0.0/16", "dev", primary.ifname]);
    const r = ping(primary, "10.30.0.1", { count: 2 });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("100% packet loss");
  });

  test("the backup gateway drops packets from the primary whose source is outside the primary's AllowedIPs", async () => {
    const spoofed = "10.99.0.1";
    inNsOk(primary, "ip", ["address", "add", `${spoofed}/32`, "dev", "lo"]);
    const rxBefore = interfaceRxPackets(backup);
    const wgRxBefore = peerRxBytes(backup);
    const r = ping(primary, backupSite.vpn.gatewayAddress, { count: 2, source: spoofed });
    expect(r.status).not.toBe(0);
    // The packets arrived encrypted from the primary, and none reached the backup's interface.
    expect(peerRxBytes(backup)).toBeGreaterThan(wgRxBefore);
    expect(interfaceRxPackets(backup)).toBe(rxBefore);
    // Control of the control: from the primary's own tunnel address, the same ping goes through.
    expect(ping(primary, backupSite.vpn.gatewayAddress, { count: 1 }).status).toBe(0);
  });
});
