/**
 * Check 5: a day-2 change rolled on the rehearsed site with `npm run roll`'s own steps
 * (ops/roll.ts). The running site is the deployment of `--from`; the change is another
 * synthesized folder (`--roll-to`, e.g. the same deployment file with an added SSH key or
 * renewed certificates), evaluated in the same scratch state (its tokens, keys and CA are the
 * running site's, as an apply keeps them). Pending is what a roll would change: the VMs whose
 * user data differs. The API calls go from the operator's namespace over the site's VPN, as the
 * command's do; a replacement is what Nova does: the VM powered off, a new root booted with the
 * new user data on the same port, its data volume carried over.
 *
 * Before the roll, data is written (KV entries, an ACL token, a Nomad variable, a service job on
 * the clients); after it, all of it is read back, the servers' Raft IDs are the same (they
 * rejoined as themselves, with their data: no re-bootstrap), and the job runs its count again.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Answer } from "../ops/status";
import { ClusterMembersOutput } from "../ops/infra-outputs";
import { AutopilotHealth, judgeServerBack, PreparedReplacement, Replacer, Request, roll, rollLockKey, RollReport, RollVm, selectRoll, stackVms } from "../ops/roll";
import { api, CheckResult, curlAnswer, json, nomadClients, poll, servers, SiteUnderTest } from "./checks";
import { Host } from "./host";
import { Operator } from "./operator";
import { BootEvent, RehearsalVm } from "./vm";
import { StackJson } from "./plan";

/** Calls to the site's servers from the operator's namespace (curl, the CA of the outputs, the token in a header file). */
export function operatorRequest(op: Operator, site: string, outputs: Record<string, { value: unknown }>): Request {
  const ca = path.join(op.dir, `${site}-roll-ca.pem`);
  fs.writeFileSync(ca, String(outputs.ca_certificate?.value ?? ""));
  const headers = {
    consul: path.join(op.dir, `${site}-consul.header`),
    nomad: path.join(op.dir, `${site}-nomad.header`),
  };
  fs.writeFileSync(headers.consul, `X-Consul-Token: ${String(outputs.consul_management_token?.value ?? "")}\n`, { mode: 0o600 });
  fs.writeFileSync(headers.nomad, `X-Nomad-Token: ${String(outputs.nomad_management_token?.value ?? "")}\n`, { mode: 0o600 });
  const bases = { consul: (outputs.consul_servers?.value as string[]) ?? [], nomad: (outputs.nomad_servers?.value as string[]) ?? [] };
  return async (kind, method, route, body, at) => {
    let last: Answer = { ok: false, error: "no server" };
    for (const base of bases[kind].filter((b) => at === undefined || new URL(b).hostname === at)) {
      const r = await op.execAsync([
        "curl", "-sS", "-m", "5", "-o", "-", "-w", "\n%{http_code}", "--cacert", ca, "-H", `@${headers[kind]}`, "-X", method,
        ...(body !== undefined ? ["-H", "content-type: application/json", "--data-binary", "@-"] : []), `${base}${route}`,
      ], { timeoutMs: 15_000, ...(body !== undefined ? { input: JSON.stringify(body) } : {}) });
      const { code: status, body: text } = curlAnswer(r.stdout);
      if (status === 0) { last = { ok: false, error: r.stderr.trim().split("\n").at(-1) || "no answer" }; continue; }
      let parsed: unknown;
      try { parsed = JSON.parse(text); } catch { parsed = undefined; }
      last = { ok: true, status, text, json: parsed };
      if (status < 500) return last;
    }
    return last;
  };
}

/** Replaces a rehearsal VM as Nova would: shut down, a new root on the same port booted with `userData`, its volumes carried over. */
export class RehearsalReplacer implements Replacer {
  /** Boots under way or done, by VM (a replacement returns once the instance is created, as an apply does). */
  readonly boots = new Map<string, Promise<void>>();

  constructor(
    private readonly host: Host,
    private readonly site: SiteUnderTest & { readonly vms: RehearsalVm[] },
    private readonly userData: Readonly<Record<string, string>>,
    private readonly binaries: Readonly<Record<string, string>>,
    private readonly event: (e: BootEvent) => void,
    /** Asks the site's servers (to see the old VM gone before the new one boots). */
    private readonly request: Request,
  ) {}

  async prepare(target: RollVm): Promise<PreparedReplacement> {
    const index = this.site.vms.findIndex((v) => v.vm.name === target.name);
    if (index < 0) throw new Error(`${target.name} is not a VM of the rehearsed site`);
    const data = this.userData[this.site.vms[index].vm.id];
    if (data === undefined) throw new Error(`${target.name}: the changed deployment has no such VM`);
    return { apply: () => this.replace(target, data), discard: () => undefined };
  }

  private async replace(target: RollVm, data: string): Promise<void> {
    const index = this.site.vms.findIndex((v) => v.vm.name === target.name);
    const old = this.site.vms[index];
    await old.shutdown();
    await this.seenGone(target.name);
    const fresh = new RehearsalVm(this.host, old.site, old.vm, old.ns, data, this.binaries, old.generation + 1);
    for (const mount of old.volumeMounts()) {
      // The volume is detached from the deleted instance and attached to the new one.
      const from = old.file(mount);
      if (!fs.existsSync(from)) continue;
      const to = fresh.file(mount);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.cpSync(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      copyOwners(from, to);
    }
    fresh.prepare();
    this.site.vms[index] = fresh;
    this.event({ vm: target.name, step: `replaced: a new root booted with the changed user data${old.volumeMounts().length ? `, volume ${old.volumeMounts().join(", ")} carried over` : ""}` });
    this.boots.set(target.name, fresh.boot(this.event).catch((e: unknown) => this.event({ vm: target.name, step: `boot FAILED: ${(e as Error).message}` })));
  }

  /**
   * A real replacement takes minutes (Nova deletes the instance, creates one, it boots): the site
   * sees the old VM fail long before the new one starts its agents. Here the new root would boot
   * within a second, before Consul's failure detection (a few seconds) marks the old agent failed:
   * Consul then keeps the old node's name reserved (its serfHealth still passing) and refuses the
   * new agent's node ID. So the new root boots once Consul sees the old agent failed.
   */
  private async seenGone(name: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const a = await this.request("consul", "GET", "/v1/agent/members");
      const m = a.ok && Array.isArray(a.json) ? (a.json as { Name: string; Status: number }[]).find((x) => x.Name === name) : undefined;
      if (m && m.Status !== 1) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${name}: Consul never saw the powered-off VM fail (60 s)`);
  }
}

/** Owners and modes as they were (fs.cpSync keeps the modes, not the owners). */
function copyOwners(from: string, to: string): void {
  const st = fs.lstatSync(from);
  fs.lchownSync(to, st.uid, st.gid);
  if (st.isDirectory()) for (const e of fs.readdirSync(from)) copyOwners(path.join(from, e), path.join(to, e));
}

/** What is written before the roll and read back after it. */
interface Written {
  readonly kv: Record<string, string>;
  readonly tokens: string[];
  readonly variable: string;
  readonly jobs: string[];
  readonly raft: Record<"consul" | "nomad", string[]>;
}

const KV_PREFIX = "rehearsal/roll/";
const VAR_PATH = "rehearsal/roll";
const SERVICE_JOB = "rehearsal-roll-service";

/** A service job on the clients of one class: one allocation per client (distinct hosts), raw_exec. */
export function serviceJob(datacenter: string, nodeClass: string, count: number): Record<string, unknown> {
  return {
    Job: {
      ID: SERVICE_JOB,
      Name: SERVICE_JOB,
      Type: "service",
      Datacenters: [datacenter],
      Constraints: [{ LTarget: "${node.class}", RTarget: nodeClass, Operand: "=" }, { Operand: "distinct_hosts", RTarget: "true" }],
      TaskGroups: [{
        Name: "svc",
        Count: count,
        Migrate: { MaxParallel: 1, HealthCheck: "task_states", MinHealthyTime: 2e9, HealthyDeadline: 60e9 },
        Tasks: [{ Name: "sleep", Driver: "raw_exec", Config: { command: "/bin/sleep", args: ["86400"] }, Resources: { CPU: 20, MemoryMB: 16 } }],
      }],
    },
  };
}

async function raftIds(request: Request, kind: "consul" | "nomad"): Promise<string[]> {
  const a = await request(kind, "GET", "/v1/operator/raft/configuration");
  const servers = (a.ok && a.status === 200 ? ((a.json as { Servers?: { ID: string; Node: string }[] })?.Servers ?? []) : []);
  return servers.map((s) => `${s.Node.split(".")[0]}=${s.ID}`).sort();
}

async function readBack(request: Request, keys: readonly string[]): Promise<Written> {
  const kv: Record<string, string> = {};
  for (const k of keys) {
    const a = await request("consul", "GET", `/v1/kv/${KV_PREFIX}${k}?raw`);
    kv[k] = a.ok && a.status === 200 ? a.text : `HTTP ${a.ok ? a.status : a.error}`;
  }
  const tokens = ((await request("consul", "GET", "/v1/acl/tokens")) as { json?: { AccessorID: string }[] }).json ?? [];
  const v = await request("nomad", "GET", `/v1/var/${VAR_PATH}`);
  const jobs = ((await request("nomad", "GET", "/v1/jobs")) as { json?: { ID: string }[] }).json ?? [];
  return {
    kv,
    tokens: (Array.isArray(tokens) ? tokens : []).map((t) => t.AccessorID).sort(),
    variable: v.ok && v.status === 200 ? String((v.json as { Items?: { mark?: string } })?.Items?.mark ?? "") : "",
    jobs: (Array.isArray(jobs) ? jobs : []).map((j) => j.ID).sort(),
    raft: { consul: await raftIds(request, "consul"), nomad: await raftIds(request, "nomad") },
  };
}

function differences(a: Written, b: Written): string[] {
  const out: string[] = [];
  for (const k of Object.keys(a.kv)) if (a.kv[k] !== b.kv[k]) out.push(`KV ${KV_PREFIX}${k}: ${a.kv[k]} → ${b.kv[k]}`);
  const lost = a.tokens.filter((t) => !b.tokens.includes(t));
  if (lost.length) out.push(`ACL tokens lost: ${lost.length}`);
  const added = b.tokens.filter((t) => !a.tokens.includes(t));
  if (added.length) out.push(`ACL tokens added (a bootstrap ran again?): ${added.length}`);
  if (a.variable !== b.variable) out.push(`Nomad variable ${VAR_PATH}: ${a.variable} → ${b.variable || "gone"}`);
  const jobsLost = a.jobs.filter((j) => !b.jobs.includes(j));
  if (jobsLost.length) out.push(`jobs lost: ${jobsLost.join(", ")}`);
  for (const k of ["consul", "nomad"] as const) if (a.raft[k].join() !== b.raft[k].join()) out.push(`${k} Raft servers ${a.raft[k].join(", ")} → ${b.raft[k].join(", ")}`);
  return out;
}

export interface RollRehearsal {
  readonly host: Host;
  readonly site: SiteUnderTest & { readonly vms: RehearsalVm[] };
  readonly stack: string;
  /** The changed stack's JSON (keys replaced as the running one's). */
  readonly changed: StackJson;
  /** User data of the running site and of the change, by instance id. */
  readonly before: Readonly<Record<string, string>>;
  readonly after: Readonly<Record<string, string>>;
  readonly outputs: Record<string, { value: unknown }>;
  readonly op: Operator;
  readonly datacenter: string;
  readonly binaries: Readonly<Record<string, string>>;
  /** VMs or groups to roll, as `npm run roll` takes them. @default - every VM with something pending */
  readonly only?: readonly string[];
  readonly timeoutMs: number;
  readonly event: (e: BootEvent) => void;
  readonly say: (line: string) => void;
}

/** The roll and its checks. */
export async function rollChecks(r: RollRehearsal): Promise<{ checks: CheckResult[]; report?: RollReport }> {
  const checks: CheckResult[] = [];
  const name = (s: string) => `${r.site.name}: roll: ${s}`;
  const request = operatorRequest(r.op, r.site.name, r.outputs);
  const members = r.outputs.cluster_members?.value as ClusterMembersOutput;
  const vms = stackVms(r.changed, members);
  const pending = Object.fromEntries(vms.map((v) => {
    const id = v.address.split(".")[1];
    return [v.name, r.before[id] !== r.after[id] ? ["user data"] : []];
  }));
  const { selected, notes } = selectRoll(vms, pending, r.only ?? []);
  for (const n of notes.filter((x) => !/: pending /.test(x))) r.say(n);
  r.say(`${r.site.name}: rolling ${selected.length} of ${vms.length} VMs (${Object.values(pending).filter((p) => p.length > 0).length} with the user data changed)`);

  // Data written before.
  const first = servers(r.site)[0];
  const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
  for (const k of keys) await request("consul", "PUT", `/v1/kv/${KV_PREFIX}${k}`, `value-${k}`);
  await request("consul", "PUT", "/v1/acl/token", { Description: "rehearsal: written before the roll", Policies: [{ Name: "dns-lookups" }] });
  await request("nomad", "PUT", `/v1/var/${VAR_PATH}`, { Items: { mark: "before-roll" } });
  const clients = nomadClients(r.site);
  const nodeClass = clients[0]?.nodeClass ?? "";
  const ofClass = clients.filter((c) => c.nodeClass === nodeClass).length;
  const count = Math.max(1, ofClass - 1);
  const submitted = await request("nomad", "POST", "/v1/jobs", serviceJob(r.datacenter, nodeClass, count));
  const running = async () => ((json<{ ClientStatus: string; NodeName: string; DesiredStatus: string }[]>(await api(servers(r.site).find((s) => s.running("nomad")) ?? first, "nomad", `/v1/job/${SERVICE_JOB}/allocations`, { token: r.site.nomadToken })) ?? []).filter((a) => a.ClientStatus === "running" && a.DesiredStatus === "run"));
  checks.push(await poll(name(`a service job (${count} allocation(s) on distinct ${nodeClass} clients) runs before the roll`), Date.now(), r.timeoutMs, async () => {
    const now = await running();
    return { ok: submitted.ok && submitted.status === 200 && now.length === count, saw: `${submitted.ok ? `submit HTTP ${submitted.status}` : submitted.error}; running on ${now.map((a) => a.NodeName).join(", ") || "none"}` };
  }));
  const before = await readBack(request, keys);
  if (!checks.every((c) => c.ok)) return { checks };

  const replacer = new RehearsalReplacer(r.host, r.site, r.after, r.binaries, r.event, request);
  const started = Date.now();
  const report = await roll(selected, request, replacer, { stack: r.stack, members, backWithinMs: r.timeoutMs, healthyWithinMs: r.timeoutMs, drainDeadlineS: 60, pollMs: 1000, out: r.say });
  await Promise.all(replacer.boots.values());
  checks.push({
    name: name(`${selected.length} VMs replaced one at a time, servers first, each gated by autopilot health${selected.some((v) => v.nomadClient) ? ", clients drained first" : ""}`),
    ok: !report.stopped && report.rolled.length === selected.length,
    ms: Date.now() - started,
    detail: report.stopped ? `stopped at ${report.stopped.vm}: ${report.stopped.step}: ${report.stopped.saw}${report.stopped.advice ? `; ${report.stopped.advice}` : ""}; ${report.stopped.resume ? `resume: ${report.stopped.resume}` : "nothing left"}` : `${report.rolled.join(", ")}; ${Object.entries(report.durationsMs).map(([v, ms]) => `${v} ${(ms / 1000).toFixed(0)} s`).join(", ")}`,
  });
  const order = report.rolled.map((n) => vms.find((v) => v.name === n)!);
  const serversAfterClients = order.findIndex((v) => !v.server) >= 0 && order.slice(order.findIndex((v) => !v.server)).some((v) => v.server);
  checks.push({
    name: name("the leader went last: every server led nothing when it went, unless all that were left led"),
    ok: !serversAfterClients && report.leadership.every((l) => !l.leads || l.allLeft),
    ms: 0,
    detail: report.leadership.map((l) => `${l.vm}: ${l.leads || "led nothing"}`).join(", "),
  });
  const gap = Math.max(report.longestLeaderGapMs.consul, report.longestLeaderGapMs.nomad);
  checks.push({
    name: name("a leader all along, but for a few seconds per server"),
    ok: gap < 30_000,
    ms: gap,
    detail: `longest time without a leader: Consul ${(report.longestLeaderGapMs.consul / 1000).toFixed(1)} s, Nomad ${(report.longestLeaderGapMs.nomad / 1000).toFixed(1)} s (polled every 0.5 s)`,
  });
  const drained = Object.entries(report.drains);
  if (selected.some((v) => v.nomadClient)) {
    const stuck = drained.flatMap(([vm, moves]) => moves.filter((m) => m.startsWith(`${SERVICE_JOB}.`) && !/ → \S+ \(running\)$/.test(m)).map((m) => `${vm}: ${m}`));
    const ours = drained.flatMap(([, moves]) => moves.filter((m) => m.startsWith(`${SERVICE_JOB}.`)));
    checks.push({
      name: name("each client drained before it went: its allocations running elsewhere"),
      ok: stuck.length === 0 && ours.length > 0,
      ms: 0,
      detail: `${drained.map(([vm, moves]) => `${vm}: ${moves.join("; ") || "nothing to move"}`).join(" / ")}${stuck.length ? `; not running elsewhere: ${stuck.join(", ")}` : ""}`,
    });
  }
  checks.push(await poll(name("KV entries, ACL tokens, the variable and the jobs written before are all there, the servers rejoined as themselves"), Date.now(), r.timeoutMs, async () => {
    const after = await readBack(request, keys);
    const diff = differences(before, after);
    return { ok: diff.length === 0, saw: diff.length ? diff.join("; ") : `${keys.length} KV entries, ${before.tokens.length} tokens, ${before.jobs.length} jobs, the variable; Raft IDs unchanged (${before.raft.consul.length} Consul, ${before.raft.nomad.length} Nomad)` };
  }));
  checks.push(await poll(name(`the service job runs its ${count} allocation(s) again`), Date.now(), r.timeoutMs, async () => {
    const now = await running();
    return { ok: now.length === count, saw: `running on ${now.map((a) => a.NodeName).join(", ") || "none"}` };
  }));
  if (checks.every((c) => c.ok)) checks.push(await stopCheck(r, request, members, vms));
  if (checks.every((c) => c.ok)) checks.push(await lockCheck(r, request, members, vms));
  return { checks, report };
}

/** Another operator's roll holds the stack's lock: a roll stops before anything, naming the holder. */
async function lockCheck(r: RollRehearsal, request: Request, members: ClusterMembersOutput, vms: readonly RollVm[]): Promise<CheckResult> {
  const started = Date.now();
  const target = servers(r.site)[0];
  const name = `${r.site.name}: roll: while another roll holds the stack's lock, a roll stops before anything, naming the holder`;
  const session = await request("consul", "PUT", "/v1/session/create", { Name: "another operator's roll", TTL: "60s", Behavior: "delete", NodeChecks: [] });
  const id = (session.ok ? (session.json as { ID?: string })?.ID : undefined) ?? "";
  const held = await request("consul", "PUT", `/v1/kv/${rollLockKey(r.stack)}?acquire=${id}`, { by: "another operator" });
  const replaced: string[] = [];
  const never: Replacer = { prepare: async (v) => { replaced.push(v.name); return { apply: async () => undefined, discard: () => undefined }; } };
  const report = await roll(vms.filter((v) => v.name === target.vm.name), request, never, { stack: r.stack, members, pollMs: 1000, out: r.say });
  await request("consul", "PUT", `/v1/kv/${rollLockKey(r.stack)}?release=${id}`);
  await request("consul", "PUT", `/v1/session/destroy/${id}`);
  const s = report.stopped;
  const ok = held.ok && held.json === true && replaced.length === 0 && !!s && /lock could not be taken/.test(s.step) && s.saw.includes("another operator");
  return { name, ok, ms: Date.now() - started, detail: s ? `stopped: ${s.step}: ${s.saw}; planned: ${replaced.join(", ") || "nothing"}` : "not stopped" };
}

/**
 * The roll stops at a step that is not healthy: with one server's Consul down (killed, and seen
 * unhealthy by autopilot first), a roll of another server stops before replacing anything, says
 * what it saw, and how to resume. The agent is then restarted and the site healthy again.
 */
async function stopCheck(r: RollRehearsal, request: Request, members: ClusterMembersOutput, vms: readonly RollVm[]): Promise<CheckResult> {
  const started = Date.now();
  const [target, , down] = servers(r.site);
  const name = `${r.site.name}: roll: with ${down.vm.name}'s Consul down, a roll of ${target.vm.name} stops before replacing anything, saying what it saw and how to resume`;
  await down.stop("consul", "SIGKILL");
  const seen = await poll("unhealthy", Date.now(), r.timeoutMs, async () => {
    const h = await request("consul", "GET", "/v1/operator/autopilot/health");
    const healthy = h.ok && (h.json as { Healthy?: boolean })?.Healthy;
    // Autopilot answers 429 when a server is unhealthy.
    return { ok: h.ok && h.status === 429 && healthy === false, saw: h.ok ? `HTTP ${h.status} ${h.text.slice(0, 200)}` : h.error };
  });
  let detail = "";
  let ok = false;
  if (!seen.ok) detail = `autopilot never saw ${down.vm.name} unhealthy: ${seen.detail}`;
  else {
    const replaced: string[] = [];
    const never: Replacer = { prepare: async (v) => ({ apply: async () => { replaced.push(v.name); }, discard: () => undefined }) };
    const report = await roll(vms.filter((v) => v.name === target.vm.name), request, never, { stack: r.stack, members, healthyWithinMs: 5_000, pollMs: 1000, out: r.say });
    const s = report.stopped;
    ok = replaced.length === 0 && !!s && s.vm === target.vm.name && /not healthy enough/.test(s.step) && s.saw.includes(`${down.vm.name} unhealthy`) && s.resume === `npm run roll -- ${r.stack} ${target.vm.name}`;
    detail = s ? `stopped at ${s.vm}: ${s.step}: ${s.saw.slice(0, 300)}; resume: ${s.resume ?? "none"}; replaced: ${replaced.join(", ") || "nothing"}` : `not stopped; replaced: ${replaced.join(", ") || "nothing"}`;
  }
  await down.start("consul");
  const address = members.servers.find((m) => m.name === down.vm.name)?.address;
  const back = await poll("healthy again", Date.now(), r.timeoutMs, async () => {
    const [h, own] = await Promise.all([request("consul", "GET", "/v1/operator/autopilot/health"), request("consul", "GET", "/v1/status/leader", undefined, address)]);
    if (!h.ok || !Array.isArray((h.json as AutopilotHealth | undefined)?.Servers)) return { ok: false, saw: h.ok ? h.text.slice(0, 200) : h.error };
    return judgeServerBack("consul", h.json as AutopilotHealth, down.vm.name, own);
  });
  return { name, ok: ok && back.ok, ms: Date.now() - started, detail: `${detail}${back.ok ? `; ${down.vm.name} restarted, healthy again` : `; not healthy again: ${back.detail}`}` };
}
