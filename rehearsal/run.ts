/**
 * The rehearsal of a synthesized deployment: each site's infra stack evaluated by the real
 * Terraform (evaluate.ts), its network and VMs built in namespaces (network.ts, vm.ts), the VMs
 * booted side by side with their user data and the toolchain's real agents, then the checks
 * (checks.ts). Everything it starts is ended at the end, also on failure, unless `keep`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { absentServersCheck, api, CheckResult, clusterChecks, diagnose, federationChecks, json, poll, servers, SiteUnderTest, workCheck } from "./checks";
import { applyPlatform } from "./platform";
import { scratchRoot, USER_DATA_OUTPUT, variableValue } from "./evaluate";
import { adminPeers, declaredGatewayKey, peerKeysFor, replaceKeys } from "./keys";
import { joinVpn, Operator } from "./operator";
import { acquireLock, cleanLeftovers, Host, shOk } from "./host";
import { faultChecks } from "./faults";
import { rollChecks } from "./roll";
import { addRoutes, buildInternet, buildRouter, DEFAULT_OPERATOR_RANGE, plugVm, tunnelCut } from "./network";
import { PlanError, readSitePlan, SitePlan, StackJson } from "./plan";
import { BootEvent, RAW_EXEC_CHANGE, RehearsalVm } from "./vm";

/** How long held-back VMs stay away: twice the time the servers take to elect a leader here. */
export const HOLD_BACK_MS = 30_000;

/** The folder every rehearsal works in; a new run removes what a previous one left. */
export const REHEARSAL_ROOT = path.join(os.tmpdir(), "openstack-platform-rehearsal");

/** The settings the rehearsal changes from the rendered files, with the reason (also in the README). */
export const CHANGES: readonly string[] = [
  "packages are not installed (no internet): the consul and nomad packages are emulated (their user, folders and binaries, from the toolchain)",
  "runcmd steps that need the VM's kernel or disk are replaced (modprobe, a formatted data volume, mount -a, the ssh restart): each is listed as it happens",
  "addresses OpenStack would assign are the rehearsal's: DHCP ports take the first free addresses of their pool, floating IPs come from 203.0.113.0/24",
  `Nomad clients: ${RAW_EXEC_CHANGE}`,
];

export interface RehearseOptions {
  /** A synthesized cdktf.out folder (its stacks/<site>-infra/cdk.tf.json). */
  readonly from: string;
  /** Sites to rehearse. @default - every site with an infra stack */
  readonly sites?: readonly string[];
  /** Leave everything running at the end. @default false */
  readonly keep?: boolean;
  readonly root?: string;
  /** The toolchain's binaries (consul, nomad) by name. */
  readonly binaries: Readonly<Record<string, string>>;
  /** How long each check may take to hold. @default 120000 */
  readonly checkTimeoutMs?: number;
  /** Progress lines. */
  readonly out: (line: string) => void;
  /** Apply each site's platform stack from the operator's namespace (check 2). @default true */
  readonly platform?: boolean;
  /**
   * VMs booted only after the others have had the time to elect a leader (the first server
   * absent at bootstrap): a check says what the site does without them, then they boot.
   * @default - none
   */
  readonly holdBack?: readonly string[];
  /** Run the fault checks (check 4) once everything else passed. @default true */
  readonly faults?: boolean;
  /**
   * Hold the site-to-site tunnel down until every site's Nomad servers have elected a leader, so
   * that their first join reaches only the local servers: federation then depends on what
   * keeps retrying it (the race a real site has when its gateway comes up after its servers).
   * @default false
   */
  readonly tunnelLate?: boolean;
  /**
   * A day-2 change rolled on the first rehearsed site once it runs (check 5): `to` is another
   * synthesized folder of the same deployment (a changed deployment file), `only` the VMs or
   * groups to roll, as `npm run roll` takes them (default: every VM whose user data changed).
   */
  readonly roll?: { readonly to: string; readonly only?: readonly string[] };
  /** Changes the stacks' JSON before the rehearsal (for the tests of what a broken stack does). */
  readonly mutate?: (stack: string, json: StackJson) => void;
}

export interface RehearsalReport {
  readonly checks: readonly CheckResult[];
  /** Explanations of failed checks: agents' log lines and dropped flows. */
  readonly diagnostics: readonly string[];
  readonly changes: readonly string[];
  readonly wallMs: number;
  readonly peakMemoryMb: number;
  readonly ok: boolean;
  /** Present with `keep`: ends the rehearsal. */
  readonly teardown?: () => void;
  readonly vms: readonly RehearsalVm[];
}

interface LoadedSite {
  readonly site: string;
  readonly stack: string;
  readonly json: StackJson;
  readonly plan: SitePlan;
  readonly reads: readonly string[];
}

/** The UDP port of the site-to-site tunnel: the ListenPort of the gateway's wg1 configuration. */
function siteToSitePort(site: SiteUnderTest): number | undefined {
  const gw = site.vms.find((v) => v.vm.role === "vpn");
  const conf = gw?.writtenFile("/etc/wireguard/wg1.conf");
  const m = conf ? /ListenPort = (\d+)/.exec(conf) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * The tunnel is late: each site's VPN gateway refuses (TCP reset) what its site sends to the
 * other site's ranges (its wg1 peer's AllowedIPs), as a peer that does not answer yet. A refusal
 * rather than a silent drop: a drop lets a join wait out its TCP timeouts (30 s per address in
 * Nomad's serf) until the tunnel is back, which hides the race instead of showing it.
 */
export function lateTunnel(sites: readonly SiteUnderTest[]): { what: string; cut(): void; restore(): void } | undefined {
  const gateways = sites.map((s) => s.vms.find((v) => v.vm.role === "vpn")).filter((g): g is RehearsalVm => !!g);
  const ranges = (gw: RehearsalVm) => [...(gw.writtenFile("/etc/wireguard/wg1.conf") ?? "").matchAll(/^AllowedIPs = (.+)$/gm)].flatMap((m) => m[1].split(",").map((r) => r.trim()));
  const rules = gateways.map((gw) => ({ gw, set: ranges(gw).join(", ") })).filter((r) => r.set !== "");
  if (sites.length < 2 || rules.length === 0) return undefined;
  return {
    what: `each VPN gateway refuses what crosses to the other site (${rules.map((r) => `${r.gw.vm.name}: ${r.set}`).join("; ")})`,
    cut: () => {
      for (const { gw, set } of rules) {
        gw.ns.execOk(["nft", "-f", "-"], { input: `table inet late {\n  chain forward { type filter hook forward priority -10; ip daddr { ${set} } meta l4proto tcp reject with tcp reset; ip daddr { ${set} } drop; }\n}\n` });
      }
    },
    restore: () => { for (const { gw } of rules) gw.ns.execOk(["nft", "delete", "table", "inet", "late"]); },
  };
}

/** A site's Consul/Nomad datacenter, as its first server's Nomad configuration says. */
function siteDatacenter(site: SiteUnderTest): string | undefined {
  const text = servers(site)[0]?.readFile("/etc/nomad.d/nomad.json");
  return text ? (JSON.parse(text) as { datacenter?: string }).datacenter : undefined;
}

/** The repository, where the operator's commands run from. */
const REPO = path.resolve(__dirname, "..");

/**
 * `npm run status -- <site>` as an operator runs it on the VPN, against the rehearsed site: its
 * infra outputs are the scratch state's (a synthesized folder whose manifest points there).
 */
async function statusCheck(op: Operator, root: string, from: string, stack: string, site: string): Promise<CheckResult> {
  const started = Date.now();
  const outdir = path.join(root, "status-out");
  fs.mkdirSync(outdir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(from, "manifest.json"), "utf8")) as { stacks: Record<string, { workingDirectory?: string }> };
  manifest.stacks[stack] = { ...manifest.stacks[stack], workingDirectory: path.join("..", "terraform", stack) };
  fs.writeFileSync(path.join(outdir, "manifest.json"), JSON.stringify(manifest));
  const r = await op.execAsync(["sh", "-c", `cd ${REPO} && exec node --import tsx scripts/status.ts ${site}`], { env: { ...process.env, CDKTF_OUTDIR: outdir }, timeoutMs: 120_000 });
  const lines = r.stdout.trim().split("\n");
  return { name: `${site}: npm run status -- ${site}, from the operator's VPN address, says ready`, ok: r.status === 0, ms: Date.now() - started, detail: r.status === 0 ? lines.at(-1) ?? "" : [...lines.filter((l) => l.startsWith("failed")), r.stderr.trim()].filter(Boolean).join(" / ") };
}

/** A synthesized stack's JSON, or undefined when the folder has no such stack. */
function readStack(from: string, stack: string): StackJson | undefined {
  const file = path.join(from, "stacks", stack, "cdk.tf.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as StackJson) : undefined;
}

/** The infra stacks of a synthesized folder, in an order where a stack comes after those it reads. */
export function loadSites(from: string, only: readonly string[] | undefined, mutate?: RehearseOptions["mutate"]): LoadedSite[] {
  const dir = path.join(from, "stacks");
  if (!fs.existsSync(dir)) throw new PlanError(`${from}: no stacks folder: synthesize first (npm run synth) or give --from a cdktf.out folder`);
  const names = fs.readdirSync(dir).filter((s) => s.endsWith("-infra")).sort();
  const sites = names.map((stack) => stack.replace(/-infra$/, ""));
  for (const s of only ?? []) if (!sites.includes(s)) throw new PlanError(`--sites: ${s} is not a site of ${from} (sites: ${sites.join(", ")})`);
  const loaded = names.map((stack, i): LoadedSite => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, stack, "cdk.tf.json"), "utf8")) as StackJson;
    mutate?.(stack, json);
    const reads = Object.keys(json.data?.terraform_remote_state ?? {}).map((r) => names.find((n) => r.endsWith(n))).filter((n): n is string => !!n);
    return { site: sites[i], stack, json, plan: readSitePlan(stack, json, 1 + i * 16), reads };
  });
  const ordered: LoadedSite[] = [];
  const visit = (s: LoadedSite) => {
    if (ordered.includes(s)) return;
    for (const r of s.reads) visit(loaded.find((l) => l.stack === r)!);
    ordered.push(s);
  };
  for (const s of loaded) visit(s);
  // A site that is not rehearsed is still evaluated when a rehearsed one reads its state.
  return ordered.filter((s) => !only || only.includes(s.site) || ordered.some((o) => only.includes(o.site) && o.reads.includes(s.stack)));
}

interface Evaluated {
  readonly statePath: string;
  readonly outputs: Record<string, { value: unknown }>;
}

/** A WireGuard key pair made with `wg`. */
function wgKeyPair(): { privateKey: string; publicKey: string } {
  const privateKey = shOk("wg", ["genkey"]).trim();
  return { privateKey, publicKey: shOk("wg", ["pubkey"], { input: `${privateKey}\n` }).trim() };
}

interface Keys {
  /** Private keys of the sites' gateways, by stack. */
  readonly gateways: Record<string, string>;
  /** The declared public keys and the rehearsal's in their place. */
  readonly map: ReadonlyMap<string, string>;
  /** The rehearsal's operator: the first admin peer of the first rehearsed site. */
  readonly operator?: { readonly peer: string; readonly privateKey: string };
}

/** The rehearsal's key pairs, their public keys put in place of the declared ones (keys.ts). */
function rekey(sites: readonly LoadedSite[], rehearsed: readonly LoadedSite[]): Keys {
  const map = new Map<string, string>();
  const gateways: Record<string, string> = {};
  for (const s of sites) {
    if (!s.json.variable?.vpn_private_key) continue;
    const pair = wgKeyPair();
    gateways[s.stack] = pair.privateKey;
    const declared = declaredGatewayKey(s.json);
    if (declared) map.set(declared, pair.publicKey);
  }
  const peer = rehearsed.flatMap((s) => adminPeers(s.json).map((p) => ({ ...p, site: s })))[0];
  let operator: Keys["operator"];
  if (peer) {
    const pair = wgKeyPair();
    for (const k of peerKeysFor(peer.site.json, peer.address)) map.set(k, pair.publicKey);
    operator = { peer: peer.peer, privateKey: pair.privateKey };
  }
  for (const s of sites) replaceKeys(s.json, map);
  return { gateways, map, ...(operator ? { operator } : {}) };
}

/** Applies a site's scratch root with the real Terraform; its outputs (user data included). */
export function evaluateSite(root: string, site: LoadedSite, states: Record<string, string>, keys: Keys): Evaluated {
  const dir = path.join(root, "terraform", site.stack);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(scratchRoot(site.plan, site.json, { remoteStates: states }), null, 2));
  const vars = Object.fromEntries(Object.keys(site.json.variable ?? {}).map((v) => [`TF_VAR_${v}`, v === "vpn_private_key" && keys.gateways[site.stack] ? keys.gateways[site.stack] : variableValue(site.stack, v, () => wgKeyPair().privateKey)]));
  const env = { ...process.env, ...vars, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
  shOk("terraform", [`-chdir=${dir}`, "init", "-input=false", "-no-color"], { env, timeoutMs: 300_000 });
  shOk("terraform", [`-chdir=${dir}`, "apply", "-auto-approve", "-input=false", "-no-color"], { env, timeoutMs: 300_000 });
  const outputs = JSON.parse(shOk("terraform", [`-chdir=${dir}`, "output", "-json"], { env })) as Record<string, { value: unknown }>;
  return { statePath: path.join(dir, "terraform.tfstate"), outputs };
}

function peakMemoryMb(vms: readonly RehearsalVm[]): number {
  // Sum of the agents' resident peaks (VmHWM), read from /proc while they run.
  let kb = 0;
  for (const v of vms) for (const pid of v.pids()) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch { /* exited */ }
  }
  return Math.round(kb / 1024);
}

/** Runs the rehearsal; never throws for a failed check (the report says), only for bad input. */
export async function rehearse(opts: RehearseOptions): Promise<RehearsalReport> {
  const started = Date.now();
  const root = opts.root ?? REHEARSAL_ROOT;
  const sites = loadSites(opts.from, opts.sites, opts.mutate);
  if (opts.tunnelLate && sites.filter((s) => !opts.sites || opts.sites.includes(s.site)).length < 2) {
    throw new PlanError(`tunnelLate: ${opts.sites?.join(", ") ?? "one site"} rehearsed; expected two sites joined by a site-to-site tunnel (e.g. --sites primary,backup)`);
  }
  const release = acquireLock(`${root}.lock`);
  const left = cleanLeftovers(root);
  const say = (s: string) => opts.out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${s}`);
  if (left.length > 0) say(`removed what a previous rehearsal left: ${left.join(", ")}`);
  const host = new Host(root);
  const vms: RehearsalVm[] = [];
  const checks: CheckResult[] = [];
  const diagnostics: string[] = [];
  const changes = [...CHANGES];
  let teardown: (() => void) | undefined = () => { host.destroy(); release(); };
  const onSignal = () => { host.destroy(); release(); process.exit(130); };
  const onExit = () => teardown?.();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", onExit);
  try {
    const rehearsed = sites.filter((s) => !opts.sites || opts.sites.includes(s.site));
    const keys = rekey(sites, rehearsed);
    say(`WireGuard: the rehearsal's own key pairs for ${Object.keys(keys.gateways).length} gateway(s)${keys.operator ? ` and admin peer ${keys.operator.peer}` : ""}, in place of the declared public keys`);
    const states: Record<string, string> = {};
    const evaluated = new Map<string, Evaluated>();
    for (const s of sites) {
      say(`${s.stack}: evaluating the user data with Terraform (tls and random resources applied in a scratch root)`);
      const e = evaluateSite(root, s, states, keys);
      states[s.stack] = e.statePath;
      evaluated.set(s.stack, e);
    }
    const adminRule = rehearsed.flatMap((s) => s.plan.groups.flatMap((g) => g.rules)).find((r) => r.direction === "ingress" && r.portMin === 22 && r.remotePrefix && r.remotePrefix !== "0.0.0.0/0");
    const internet = buildInternet(host, adminRule?.remotePrefix ?? DEFAULT_OPERATOR_RANGE);
    const underTest: SiteUnderTest[] = [];
    for (const [index, s] of rehearsed.entries()) {
      const e = evaluated.get(s.stack)!;
      const userData = e.outputs[USER_DATA_OUTPUT].value as Record<string, string>;
      const net = buildRouter(host, internet, s.plan, index);
      const siteVms: RehearsalVm[] = [];
      for (const [i, vm] of s.plan.vms.entries()) {
        const ns = host.netns(`${index}-${vm.name}`.slice(0, 40));
        plugVm(net, s.plan, vm, ns, i);
        const rvm = new RehearsalVm(host, s.site, vm, ns, userData[vm.id], opts.binaries);
        rvm.prepare();
        siteVms.push(rvm);
      }
      addRoutes(net, s.plan);
      say(`${s.site}: ${siteVms.length} VMs in their namespaces (router, ${s.plan.subnets.length} tiers, security groups as nftables rules)`);
      vms.push(...siteVms);
      underTest.push({
        name: s.site,
        vms: siteVms,
        consulToken: String(e.outputs.consul_management_token?.value ?? ""),
        nomadToken: String(e.outputs.nomad_management_token?.value ?? ""),
        bootStarted: Date.now(),
      });
    }
    const replaced = new Set<string>();
    const event = (ev: BootEvent) => {
      if (!ev.instead) return say(`${ev.vm}: ${ev.step}`);
      const key = `${ev.step} → ${ev.instead}`;
      if (!replaced.has(key)) { replaced.add(key); say(`${ev.vm}: ${ev.step}: ${ev.instead}`); }
    };
    const report = (r: CheckResult) => {
      say(`${r.ok ? "passed" : "FAILED"} ${r.name} (${(r.ms / 1000).toFixed(1)} s): ${r.detail}`);
      checks.push(r);
    };
    const held = vms.filter((v) => opts.holdBack?.includes(v.vm.name));
    for (const h of opts.holdBack ?? []) if (!vms.some((v) => v.vm.name === h)) throw new PlanError(`holdBack: ${h} is not a VM of the rehearsed sites`);
    const bootOf = (v: RehearsalVm) => v.boot(event).catch((e: unknown) => { say(`${v.vm.name}: boot FAILED: ${e instanceof Error ? e.message : String(e)}`); throw e; });
    say(`booting ${vms.length - held.length} VMs${held.length ? `, holding back ${held.map((h) => h.vm.name).join(", ")}` : ""}`);
    const bootStarted = Date.now();
    for (let i = 0; i < underTest.length; i++) underTest[i] = { ...underTest[i], bootStarted };
    const timeout = opts.checkTimeoutMs ?? 120_000;
    const late = opts.tunnelLate ? lateTunnel(underTest) : undefined;
    if (opts.tunnelLate && !late) throw new PlanError("tunnelLate: the rehearsed sites' VPN gateways have no site-to-site tunnel (wg1); expected two sites that name each other as peerSite");
    if (late) {
      late.cut();
      say(`tunnel held down (${late.what}) until every site's Nomad servers have a leader`);
    }
    const booting = vms.filter((v) => !held.includes(v)).map((v) => ({ v, p: bootOf(v) }));
    const lateDone = late
      ? (async () => {
          const r = await poll(`tunnel held down at boot: every site's Nomad servers elect a leader among themselves first`, bootStarted, timeout, async () => {
            const leaders = await Promise.all(underTest.map(async (u) => `${u.name} ${json<string>(await api(servers(u)[0], "nomad", "/v1/status/leader")) || "none"}`));
            return { ok: leaders.every((l) => !l.endsWith(" none")), saw: `leaders: ${leaders.join(", ")}` };
          });
          late.restore();
          say("tunnel up");
          report(r);
        })()
      : undefined;
    if (held.length > 0) {
      for (const site of underTest) {
        const absent = held.filter((h) => h.site === site.name);
        if (absent.length > 0) report(await absentServersCheck(site, absent, HOLD_BACK_MS));
      }
      say(`booting ${held.map((h) => h.vm.name).join(", ")}`);
      booting.push(...held.map((v) => ({ v, p: bootOf(v) })));
    }
    const order = booting.map((b) => b.v);
    const boots = await Promise.allSettled(booting.map((b) => b.p));
    await lateDone;
    boots.forEach((b, i) => {
      if (b.status === "rejected") {
        const msg = b.reason instanceof Error ? b.reason.message : String(b.reason);
        checks.push({ name: `${order[i].site}: ${order[i].vm.name} boots`, ok: false, ms: Date.now() - started, detail: msg });
      }
    });
    for (const site of underTest) {
      if (checks.some((c) => !c.ok && c.name.startsWith(`${site.name}: `))) {
        say(`${site.name}: not checking the cluster: a VM did not boot`);
        continue;
      }
      say(`${site.name}: checking the cluster`);
      const results = await clusterChecks(site, timeout);
      results.forEach(report);
      if (results.some((r) => !r.ok)) diagnostics.push(...diagnose(site));
    }
    for (const site of underTest) {
      if (!checks.every((c) => c.ok)) break;
      const dc = rehearsed.find((r) => r.site === site.name)!;
      report(await workCheck(site, siteDatacenter(site) ?? dc.site, timeout));
    }
    if (underTest.length >= 2) {
      say(`${underTest[0].name} + ${underTest[1].name}: checking the federation`);
      const results = await federationChecks(underTest[0], underTest[1], timeout);
      results.forEach(report);
      if (results.some((r) => !r.ok)) diagnostics.push(...underTest.flatMap((u) => diagnose(u)));
    }
    let op: Operator | undefined;
    if (keys.operator && checks.every((c) => c.ok)) {
      const peer = keys.operator.peer;
      try {
        op = Operator.create(host, internet);
      } catch (err) {
        report({ name: `operator ${peer}: a namespace on the internet`, ok: false, ms: 0, detail: (err as Error).message });
      }
      const infraStates = Object.fromEntries([...evaluated].map(([stack, e]) => [stack, e.statePath]));
      const opOk = op;
      for (const [i, s] of opOk ? rehearsed.entries() : []) {
        if (!opOk) break;
        const op = opOk;
        const e = evaluated.get(s.stack)!;
        const output = `wireguard_${peer}`;
        if (!e.outputs[output]) continue;
        const started = Date.now();
        let joined: CheckResult;
        try {
          joinVpn(op, `wg${i}-${peer}`, String(e.outputs[output].value), keys.operator.privateKey, output);
          const ca = path.join(op.dir, `${s.site}-ca.pem`);
          fs.writeFileSync(ca, String(e.outputs.ca_certificate?.value ?? ""));
          const urls = [...((e.outputs.consul_servers?.value as string[]) ?? []), ...((e.outputs.nomad_servers?.value as string[]) ?? [])];
          joined = await poll(`${s.site}: operator ${peer} on the VPN (output ${output}) reaches every server's API`, started, timeout, async () => {
            const codes = await Promise.all(urls.map(async (u) => {
              const r = await op.execAsync(["curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, `${u}/v1/status/leader`], { timeoutMs: 10_000 });
              return `${u} ${r.stdout || "no answer"}`;
            }));
            return { ok: codes.every((c) => c.endsWith(" 200")), saw: codes.join("; ") };
          });
        } catch (err) {
          joined = { name: `${s.site}: operator ${peer} joins the VPN with output ${output}`, ok: false, ms: Date.now() - started, detail: (err as Error).message };
        }
        report(joined);
        if (!joined.ok) break;
        report(await statusCheck(op, root, opts.from, s.stack, s.site));
        if (opts.platform === false) continue;
        const platformStack = `${s.site}-platform`;
        const platformJson = readStack(opts.from, platformStack);
        if (!platformJson) continue;
        say(`${platformStack}: terraform apply from the operator's namespace, through ${s.site}'s VPN gateway`);
        const applied = await applyPlatform(op, root, platformStack, platformJson, infraStates, Date.now());
        applied.checks.forEach(report);
        const site = underTest.find((u) => u.name === s.site)!;
        if (applied.checks.every((c) => c.ok)) {
          report(await poll(`${platformStack}: its ${applied.jobs.length} jobs registered in Nomad`, Date.now(), timeout, async () => {
            const listed = (json<{ ID: string }[]>(await api(servers(site)[0], "nomad", "/v1/jobs", { token: site.nomadToken })) ?? []).map((j) => j.ID);
            const lacking = applied.jobs.filter((j) => !listed.includes(j));
            return { ok: lacking.length === 0, saw: lacking.length ? `not registered: ${lacking.join(", ")}` : `all ${applied.jobs.length} registered` };
          }));
        }
      }
    }
    if (opts.roll && checks.every((c) => c.ok)) {
      const s = rehearsed[0];
      const site = underTest[0];
      if (!op) {
        report({ name: `${s.site}: roll: from the operator's namespace`, ok: false, ms: 0, detail: "no operator on the VPN: the deployment declares no admin peer (vpn.peers)" });
      } else {
        const changed = loadSites(opts.roll.to, [s.site]).find((l) => l.stack === s.stack);
        if (!changed) throw new PlanError(`roll: ${opts.roll.to} has no stack ${s.stack}`);
        replaceKeys(changed.json, keys.map);
        say(`${s.stack}: evaluating the changed deployment (${opts.roll.to}) in the running site's scratch state`);
        const after = evaluateSite(root, changed, states, keys);
        const before = evaluated.get(s.stack)!.outputs[USER_DATA_OUTPUT].value as Record<string, string>;
        const rolled = await rollChecks({
          host, site: site as SiteUnderTest & { vms: RehearsalVm[] }, stack: s.stack, changed: changed.json, before, after: after.outputs[USER_DATA_OUTPUT].value as Record<string, string>,
          outputs: after.outputs, op, datacenter: siteDatacenter(site) ?? s.site, binaries: opts.binaries, ...(opts.roll.only ? { only: opts.roll.only } : {}),
          timeoutMs: Math.max(timeout, 180_000), event, say,
        });
        rolled.checks.forEach(report);
        vms.push(...site.vms.filter((v) => !vms.includes(v)));
        if (rolled.checks.some((c) => !c.ok)) diagnostics.push(...diagnose(site));
        else report(await statusCheck(op, root, opts.from, s.stack, s.site).then((c) => ({ ...c, name: `${s.site}: after the roll, ${c.name.replace(/^[^:]+: /, "")}` })));
      }
    }
    const peak = peakMemoryMb(vms);
    if (opts.faults !== false && checks.every((c) => c.ok)) {
      const [site, other] = underTest;
      const port = siteToSitePort(site);
      say(`${site.name}: faults`);
      try {
        for (const r of await faultChecks(site, other, other && port ? tunnelCut(internet, port) : undefined, timeout)) report(r);
      } catch (err) {
        // A fault the rehearsal could not inject or undo (an agent that does not restart) is a failed check, with the table.
        report({ name: `${site.name}: fault: the rehearsal could not go on`, ok: false, ms: 0, detail: (err as Error).message });
      }
    }
    const ok = checks.every((c) => c.ok);
    if (opts.keep) {
      const t = teardown;
      teardown = undefined;
      return { checks, diagnostics, changes, wallMs: Date.now() - started, peakMemoryMb: peak, ok, teardown: t, vms };
    }
    return { checks, diagnostics, changes, wallMs: Date.now() - started, peakMemoryMb: peak, ok, vms };
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    process.removeListener("exit", onExit);
    teardown?.();
  }
}

/** The closing table: each check, passed or failed, and its time. */
export function reportTable(report: RehearsalReport): string {
  const rows = report.checks.map((c) => [c.ok ? "passed" : "FAILED", `${(c.ms / 1000).toFixed(1)} s`, c.name]);
  const w0 = Math.max(6, ...rows.map((r) => r[0].length));
  const w1 = Math.max(4, ...rows.map((r) => r[1].length));
  const lines = [`${"result".padEnd(w0)}  ${"time".padStart(w1)}  check`, ...rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`)];
  if (report.diagnostics.length > 0) lines.push("", "why:", ...report.diagnostics.map((d) => `  ${d}`));
  lines.push("", `${report.checks.filter((c) => c.ok).length} passed, ${report.checks.filter((c) => !c.ok).length} failed; wall time ${(report.wallMs / 1000).toFixed(0)} s; agents' peak memory ${report.peakMemoryMb} MB`);
  return lines.join("\n");
}
