/**
 * `npm run roll`: what an apply never does to a running VM (a change of its user data, image,
 * flavor, volumes or server group: `pending_roll`), carried out one VM at a time, with the
 * cluster's own health as the gate of every step.
 *
 * - Which VMs: those of the infra stack with something pending, or those named (a VM by its
 *   instance name, even with nothing pending; a group by its role, its VMs with something pending).
 * - In what order: the servers first (HashiCorp's upgrade order), one at a time, the Consul or
 *   Nomad leader last (chosen again before each server: leadership moves); then the Nomad
 *   clients; then the other VMs; the VPN gateway last (its replacement cuts the operator's VPN
 *   until it is back).
 * - Before each VM: every server healthy by Consul's and Nomad's autopilot; before a server, also
 *   a failure tolerance of at least one (the quorum survives its loss). A Nomad client is drained
 *   (system jobs stay) and stays ineligible until it is back.
 * - After each VM: back and healthy (a server: healthy by both autopilots since after its
 *   replacement; a client: a ready Nomad node, made eligible; every VM: an alive Consul member).
 * - It stops at the first step that is not healthy, saying what it saw and how to resume.
 *
 * Nothing here talks to the network or runs Terraform itself: `Request` is one API call to the
 * site's servers, `Replacer` replaces one VM (Terraform in scripts/roll.ts, the rehearsal's VMs
 * in rehearsal/roll.ts), so that the same steps run against a real site and the rehearsal.
 */
import { ClusterMembersOutput, PendingRollOutput } from "./infra-outputs";
import { Answer, describeAnswer } from "./status";

/** A problem with what the roll was given: one line, naming what and what to do. */
export class RollInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RollInputError";
  }
}

/** One VM the roll may replace. */
export interface RollVm {
  /** Instance name (the Consul node name and Nomad node name). */
  readonly name: string;
  /** Its group: the role it was declared with (server, client, ingress, bastion, vpn, development...). */
  readonly role: string;
  /** The Terraform address of its instance (`openstack_compute_instance_v2.<id>`). */
  readonly address: string;
  readonly server: boolean;
  readonly nomadClient: boolean;
  /** It runs a Consul agent. */
  readonly consulMember: boolean;
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The VMs of an infra stack, from its synthesized JSON and its `cluster_members` output. */
export function stackVms(stack: { resource?: Record<string, Record<string, Json>> }, members: ClusterMembersOutput): RollVm[] {
  const instances = stack.resource?.openstack_compute_instance_v2 ?? {};
  const servers = new Set(members.servers.map((s) => s.name));
  const clients = new Set(members.nomad_clients.map((c) => c.name));
  const consul = new Set(members.consul_members);
  return Object.entries(instances).map(([id, r]) => {
    const name = String(r.name);
    return { name, role: String(r.metadata?.role ?? "vm"), address: `openstack_compute_instance_v2.${id}`, server: servers.has(name), nomadClient: clients.has(name), consulMember: consul.has(name) };
  });
}

/** The roll's order: servers, Nomad clients, the other VMs, the VPN gateway; by name within each. */
export function rollOrder(vms: readonly RollVm[]): RollVm[] {
  const rank = (v: RollVm) => (v.server ? 0 : v.nomadClient ? 1 : v.role === "vpn" ? 3 : 2);
  return [...vms].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, "en", { numeric: true }));
}

/** What `npm run roll -- <stack> [<group>|<vm>...]` replaces, in its order, and what it says about the choice. */
export function selectRoll(vms: readonly RollVm[], pending: PendingRollOutput, names: readonly string[]): { selected: RollVm[]; notes: string[] } {
  const pendingOf = (v: RollVm) => pending[v.name] ?? [];
  const notes: string[] = [];
  const chosen = new Set<RollVm>();
  if (names.length === 0) {
    for (const v of vms) if (pendingOf(v).length > 0) chosen.add(v);
  }
  const groups = [...new Set(vms.map((v) => v.role))].sort();
  for (const n of names) {
    const vm = vms.find((v) => v.name === n);
    if (vm) {
      if (pendingOf(vm).length === 0) notes.push(`${vm.name}: nothing pending; replaced because it is named`);
      chosen.add(vm);
      continue;
    }
    const members = vms.filter((v) => v.role === n);
    if (members.length === 0) {
      throw new RollInputError(`"${n}" is neither a VM nor a group of this stack; expected one of the groups ${groups.join(", ")}, or an instance name (e.g. ${vms[0]?.name ?? "none"})`);
    }
    const due = members.filter((v) => pendingOf(v).length > 0);
    if (due.length === 0) notes.push(`group ${n}: nothing pending on its ${members.length} VM(s) (name a VM to replace it anyway)`);
    for (const v of due) chosen.add(v);
  }
  const selected = rollOrder([...chosen]);
  for (const v of selected) if (pendingOf(v).length > 0) notes.push(`${v.name}: pending ${pendingOf(v).join(", ")}`);
  return { selected, notes };
}

// --- What the servers answer, judged ---

/** One server of Consul's or Nomad's GET /v1/operator/autopilot/health. */
export interface AutopilotServer {
  readonly Name: string;
  readonly Address: string;
  readonly SerfStatus: string;
  readonly Leader: boolean;
  readonly Voter: boolean;
  readonly Healthy: boolean;
  /** RFC 3339: when its Healthy value last changed. */
  readonly StableSince: string;
  readonly LastContact?: string;
}

export interface AutopilotHealth {
  readonly Healthy: boolean;
  readonly FailureTolerance: number;
  readonly Servers: readonly AutopilotServer[];
}

export type Kind = "consul" | "nomad";
const TITLE: Record<Kind, string> = { consul: "Consul", nomad: "Nomad" };

/** A server's entry: Consul names it by node name, Nomad by `<node>.<region>`. */
function entryOf(health: AutopilotHealth, name: string): AutopilotServer | undefined {
  return health.Servers.find((s) => s.Name === name || s.Name.startsWith(`${name}.`));
}

function describeServer(s: AutopilotServer): string {
  return `${s.Name.split(".")[0]} ${s.Healthy ? "healthy" : "unhealthy"}${s.SerfStatus !== "alive" ? ` (${s.SerfStatus})` : ""}${s.Voter ? "" : ", not a voter"}${s.Leader ? ", leader" : ""}`;
}

export interface Verdict {
  readonly ok: boolean;
  readonly saw: string;
}

/**
 * Whether `health` lets the roll go on: every declared server present, a healthy voter; and,
 * before a server is replaced, a failure tolerance of at least one (its loss keeps the quorum).
 */
export function judgeServers(kind: Kind, health: AutopilotHealth, declared: readonly string[], needTolerance: boolean): Verdict {
  const missing = declared.filter((n) => !entryOf(health, n));
  const sick = declared.map((n) => entryOf(health, n)).filter((s): s is AutopilotServer => !!s && !(s.Healthy && s.Voter));
  const parts = [`${TITLE[kind]}: ${health.Servers.map(describeServer).join(", ") || "no servers"}; failure tolerance ${health.FailureTolerance}`];
  if (missing.length > 0) parts.push(`not in the Raft configuration: ${missing.join(", ")}`);
  const tolerance = !needTolerance || health.FailureTolerance >= 1;
  if (!tolerance) parts.push(`replacing a server now would lose the quorum (${declared.length} server${declared.length === 1 ? "" : "s"})`);
  return { ok: health.Healthy && missing.length === 0 && sick.length === 0 && tolerance, saw: parts.join("; ") };
}

/**
 * Whether a replaced server is back: its own API answers and names a leader (the old VM is gone
 * once the replacement returns, so this is the new one, in the Raft cluster), and autopilot
 * counts it a healthy voter, with every server healthy. (Autopilot alone can miss a quick
 * replacement: its view is refreshed every few seconds.)
 */
export function judgeServerBack(kind: Kind, health: AutopilotHealth, name: string, ownLeader: Answer): Verdict {
  const s = entryOf(health, name);
  const leader = ownLeader.ok && ownLeader.status === 200 && typeof ownLeader.json === "string" ? ownLeader.json : "";
  const own = `its own API: ${leader ? `leader ${leader}` : ownLeader.ok ? `no leader (${describeAnswer(ownLeader)})` : ownLeader.error}`;
  if (!s) return { ok: false, saw: `${TITLE[kind]}: ${name} not in the Raft configuration yet; ${own}` };
  const ok = s.Healthy && s.Voter && health.Healthy && leader !== "";
  return { ok, saw: `${TITLE[kind]}: ${describeServer(s)}, ${health.Healthy ? "all healthy" : "not all servers healthy"}; ${own}` };
}

// --- The engine ---

/** One call to the site's servers (any of them that answers, or the one at address `at`), with the management token. */
export type Request = (kind: Kind, method: "GET" | "POST" | "PUT", path: string, body?: unknown, at?: string) => Promise<Answer>;

/** Replaces one VM (its instance; its port, address and volumes stay). Throws with one line when it could not. */
export interface Replacer {
  replace(vm: RollVm): Promise<void>;
}

export interface RollSettings {
  /** The infra stack, for the resume hint. */
  readonly stack: string;
  /** The site's servers, as `cluster_members` declares them. */
  readonly servers: readonly { readonly name: string; readonly address: string }[];
  /** How long a replaced VM may take to be back and healthy (boot and cloud-init included). @default 900000 */
  readonly backWithinMs?: number;
  /** How long the cluster may take to be healthy before a step. @default 120000 */
  readonly healthyWithinMs?: number;
  /** Nomad's drain deadline: after it, what has not migrated is stopped. @default 600 */
  readonly drainDeadlineS?: number;
  /** @default 2000 */
  readonly pollMs?: number;
  readonly out: (line: string) => void;
}

export const DEFAULT_BACK_WITHIN_MS = 15 * 60_000;
export const DEFAULT_HEALTHY_WITHIN_MS = 2 * 60_000;
export const DEFAULT_DRAIN_DEADLINE_S = 600;

/** Where the roll stopped and how to go on. */
export interface RollStop {
  readonly vm: string;
  readonly step: string;
  readonly saw: string;
  /** The command that goes on from there; undefined when nothing is left. */
  readonly resume?: string;
  /** What to look at before resuming. */
  readonly advice?: string;
}

export interface RollReport {
  /** The VMs replaced, in order. */
  readonly rolled: readonly string[];
  readonly stopped?: RollStop;
  /** The longest time, in ms, the servers named no leader during the roll (polled every 0.5 s). */
  readonly longestLeaderGapMs: Readonly<Record<Kind, number>>;
  /** Per drained client: where each of its allocations went. */
  readonly drains: Readonly<Record<string, readonly string[]>>;
  /** Each VM's time from its first gate to back and healthy. */
  readonly durationsMs: Readonly<Record<string, number>>;
  /** Per server, in the order they went: what it led when its turn came ("" for nothing), and whether every server left then led something. */
  readonly leadership: readonly { readonly vm: string; readonly leads: string; readonly allLeft: boolean }[];
}

class Stop extends Error {
  constructor(readonly step: string, readonly saw: string, readonly replaced: boolean) {
    super(`${step}: ${saw}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answer's JSON when it is a 200, else undefined. */
function ok200<T>(a: Answer): T | undefined {
  return a.ok && a.status === 200 ? (a.json as T) : undefined;
}

/** The leader's address host as the servers name it (the first that names one), or "" when none does. */
async function leaderHost(request: Request, kind: Kind, servers: readonly { readonly address: string }[]): Promise<string> {
  const said = await Promise.all(servers.map(async (s) => ok200<string>(await request(kind, "GET", "/v1/status/leader", undefined, s.address))));
  const l = said.find((x) => typeof x === "string" && x !== "");
  return l ? l.replace(/:\d+$/, "") : "";
}

/** Watches both leaders every half second until stopped; the longest time no server named one, per kind. */
function watchLeaders(request: Request, servers: readonly { readonly address: string }[]): { stop(): Promise<Record<Kind, number>> } {
  let running = true;
  const gaps: Record<Kind, number> = { consul: 0, nomad: 0 };
  const since: Record<Kind, number | undefined> = { consul: undefined, nomad: undefined };
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      await Promise.all((["consul", "nomad"] as Kind[]).map(async (k) => {
        const host = await leaderHost(request, k, servers);
        if (host === "") since[k] ??= at;
        else if (since[k] !== undefined) { gaps[k] = Math.max(gaps[k], Date.now() - since[k]!); since[k] = undefined; }
      }));
      await sleep(500);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      for (const k of ["consul", "nomad"] as Kind[]) if (since[k] !== undefined) gaps[k] = Math.max(gaps[k], Date.now() - since[k]!);
      return gaps;
    },
  };
}

/** Polls `probe` until ok or `withinMs`; throws a Stop with what it last saw. */
async function until(step: string, withinMs: number, pollMs: number, replaced: boolean, probe: () => Promise<Verdict>): Promise<string> {
  const deadline = Date.now() + withinMs;
  let last: Verdict = { ok: false, saw: "nothing yet" };
  for (;;) {
    try { last = await probe(); } catch (e) { last = { ok: false, saw: (e as Error).message }; }
    if (last.ok) return last.saw;
    if (Date.now() > deadline) throw new Stop(step, `${last.saw} (after ${Math.round(withinMs / 1000)} s)`, replaced);
    await sleep(pollMs);
  }
}

/** GET /v1/operator/autopilot/health: both answer 200 when every server is healthy, 429 when not, with the same body. */
async function health(request: Request, kind: Kind): Promise<AutopilotHealth> {
  const a = await request(kind, "GET", "/v1/operator/autopilot/health");
  const h = a.ok && (a.status === 200 || a.status === 429) ? (a.json as AutopilotHealth) : undefined;
  if (!h || !Array.isArray(h.Servers)) throw new Error(`${TITLE[kind]} autopilot health: ${describeAnswer(a)}`);
  return h;
}

/** Both autopilots judged at once. */
async function serversVerdict(request: Request, declared: readonly string[], needTolerance: boolean): Promise<Verdict> {
  const [c, n] = await Promise.all([health(request, "consul"), health(request, "nomad")]);
  const vc = judgeServers("consul", c, declared, needTolerance);
  const vn = judgeServers("nomad", n, declared, needTolerance);
  return { ok: vc.ok && vn.ok, saw: `${vc.saw}. ${vn.saw}` };
}

interface NomadNode {
  readonly ID: string;
  readonly Name: string;
  readonly Status: string;
  readonly SchedulingEligibility: string;
  readonly StatusUpdatedAt?: number;
  readonly DrainStrategy?: unknown;
}

interface Alloc {
  readonly ID: string;
  readonly JobID: string;
  readonly TaskGroup: string;
  readonly Name: string;
  readonly NodeName?: string;
  readonly ClientStatus: string;
  readonly DesiredStatus?: string;
  readonly NextAllocation?: string;
  readonly JobType?: string;
  readonly Job?: { readonly Type?: string };
}

const live = (a: Alloc) => (a.ClientStatus === "running" || a.ClientStatus === "pending") && (a.Job?.Type ?? a.JobType) !== "system";

/** The node of a VM: the ready one when a rebuilt VM left its former node beside it. */
async function nodeOf(request: Request, name: string): Promise<NomadNode | undefined> {
  const nodes = ok200<NomadNode[]>(await request("nomad", "GET", "/v1/nodes")) ?? [];
  const mine = nodes.filter((n) => n.Name === name);
  return mine.find((n) => n.Status === "ready") ?? mine[0];
}

async function consulNodeId(request: Request, name: string): Promise<string | undefined> {
  const n = ok200<{ Node?: { ID?: string } }>(await request("consul", "GET", `/v1/catalog/node/${encodeURIComponent(name)}`));
  return n?.Node?.ID;
}

async function consulAlive(request: Request, name: string): Promise<boolean> {
  const members = ok200<{ Name: string; Status: number }[]>(await request("consul", "GET", "/v1/agent/members")) ?? [];
  return members.some((m) => m.Name === name && m.Status === 1);
}

/** Rolls `vms` (in rollOrder), one at a time. Never throws for an unhealthy step: the report says where it stopped. */
export async function roll(vms: readonly RollVm[], request: Request, replacer: Replacer, settings: RollSettings): Promise<RollReport> {
  const backMs = settings.backWithinMs ?? DEFAULT_BACK_WITHIN_MS;
  const healthyMs = settings.healthyWithinMs ?? DEFAULT_HEALTHY_WITHIN_MS;
  const deadlineS = settings.drainDeadlineS ?? DEFAULT_DRAIN_DEADLINE_S;
  const pollMs = settings.pollMs ?? 2000;
  const declared = settings.servers.map((s) => s.name);
  const say = settings.out;
  const rolled: string[] = [];
  const drains: Record<string, string[]> = {};
  const durations: Record<string, number> = {};
  const leadership: { vm: string; leads: string; allLeft: boolean }[] = [];
  const remaining = rollOrder(vms);
  const watcher = watchLeaders(request, settings.servers);
  let stopped: RollStop | undefined;
  let gaps: Record<Kind, number> = { consul: 0, nomad: 0 };
  const resume = (rest: readonly RollVm[]) => `npm run roll -- ${settings.stack} ${rest.map((v) => v.name).join(" ")}`;

  /** The next VM: the first left, but among the servers one that leads nothing, if there is one. */
  const next = async (): Promise<RollVm> => {
    const first = remaining[0];
    if (!first.server) return first;
    const left = remaining.filter((v) => v.server);
    const [cl, nl] = await Promise.all([leaderHost(request, "consul", settings.servers), leaderHost(request, "nomad", settings.servers)]);
    const leads = (v: RollVm) => {
      const addr = settings.servers.find((s) => s.name === v.name)?.address;
      return [addr === cl ? "Consul leader" : "", addr === nl ? "Nomad leader" : ""].filter(Boolean);
    };
    const chosen = [...left].sort((a, b) => leads(a).length - leads(b).length)[0];
    leadership.push({ vm: chosen.name, leads: leads(chosen).join(" and "), allLeft: left.every((v) => leads(v).length > 0) });
    return chosen;
  };

  try {
    while (remaining.length > 0) {
      const vm = await next();
      const started = Date.now();
      try {
        say(`${vm.name}: checking that every server is healthy${vm.server ? " and the quorum survives its loss" : ""}`);
        say(`${vm.name}: ${await until("the servers are not all healthy", healthyMs, pollMs, false, () => serversVerdict(request, declared, vm.server))}`);
        let oldNode: NomadNode | undefined;
        if (vm.nomadClient) {
          oldNode = await nodeOf(request, vm.name);
          if (!oldNode || oldNode.Status !== "ready") {
            say(`${vm.name}: ${oldNode ? `its Nomad node is ${oldNode.Status}` : "no Nomad node by that name"}: nothing to drain`);
          } else {
            drains[vm.name] = await drain(request, vm, oldNode, deadlineS, pollMs, say);
          }
        }
        const oldConsulId = vm.consulMember && !vm.server ? await consulNodeId(request, vm.name) : undefined;
        const replacedAt = Date.now();
        say(`${vm.name}: replacing (${vm.address}; the old instance is gone when this returns)`);
        try {
          await replacer.replace(vm);
        } catch (e) {
          throw new Stop("the replacement failed", (e as Error).message.split("\n")[0], false);
        }
        remaining.splice(remaining.indexOf(vm), 1);
        rolled.push(vm.name);
        say(`${vm.name}: replaced; waiting until it is back and healthy`);
        if (vm.server) {
          const address = settings.servers.find((s) => s.name === vm.name)?.address;
          let inARow = 0;
          say(`${vm.name}: ${await until("the replaced server is not back and healthy", backMs, pollMs, true, async () => {
            const [c, n, cl, nl] = await Promise.all([
              health(request, "consul"), health(request, "nomad"),
              request("consul", "GET", "/v1/status/leader", undefined, address), request("nomad", "GET", "/v1/status/leader", undefined, address),
            ]);
            const vc = judgeServerBack("consul", c, vm.name, cl);
            const vn = judgeServerBack("nomad", n, vm.name, nl);
            // Twice in a row: autopilot's view of a server that has just come back is refreshed every few seconds.
            inARow = vc.ok && vn.ok ? inARow + 1 : 0;
            return { ok: inARow >= 2, saw: `${vc.saw}. ${vn.saw}` };
          })}`);
        }
        if (vm.nomadClient) {
          say(`${vm.name}: ${await until("the replaced client's Nomad node is not ready", backMs, pollMs, true, async () => {
            const n = await nodeOf(request, vm.name);
            const fresh = !!n && (n.ID !== oldNode?.ID || (n.StatusUpdatedAt ?? 0) * 1000 >= replacedAt);
            return { ok: !!n && fresh && n.Status === "ready", saw: n ? `node ${n.ID.slice(0, 8)} ${n.Status}, ${n.SchedulingEligibility}${fresh ? "" : " (its former node)"}` : "no Nomad node by that name" };
          })}`);
          const n = (await nodeOf(request, vm.name))!;
          if (n.SchedulingEligibility !== "eligible") {
            const a = await request("nomad", "POST", `/v1/node/${n.ID}/eligibility`, { NodeID: n.ID, Eligibility: "eligible" });
            if (!a.ok || a.status !== 200) throw new Stop("the replaced client could not be made eligible", describeAnswer(a), true);
            say(`${vm.name}: eligible again`);
          }
        }
        if (vm.consulMember) {
          say(`${vm.name}: ${await until("the replaced VM's Consul agent is not back", backMs, pollMs, true, async () => {
            const [alive, id] = await Promise.all([consulAlive(request, vm.name), vm.server ? Promise.resolve(undefined) : consulNodeId(request, vm.name)]);
            const fresh = vm.server || (id !== undefined && id !== oldConsulId);
            return { ok: alive && fresh, saw: `Consul member ${alive ? "alive" : "not alive"}${fresh ? "" : " (its former agent: node ID unchanged)"}` };
          })}`);
        }
        durations[vm.name] = Date.now() - started;
        say(`${vm.name}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      } catch (e) {
        if (!(e instanceof Stop)) throw e;
        const rest = e.replaced ? remaining : [vm, ...remaining.filter((v) => v !== vm)];
        const advice = [
          e.replaced ? `${vm.name} was replaced and is not healthy: look at it (journalctl -u consul -u nomad, /var/log/cloud-init-output.log) before going on` : "",
          drains[vm.name] !== undefined && !e.replaced ? `${vm.name} is drained and ineligible: the resume replaces it, or \`nomad node eligibility -enable <node id>\` keeps it` : "",
        ].filter(Boolean).join("; ");
        stopped = { vm: vm.name, step: e.step, saw: e.saw, ...(rest.length > 0 ? { resume: resume(rest) } : {}), ...(advice ? { advice } : {}) };
        break;
      }
    }
  } finally {
    gaps = await watcher.stop();
  }
  return { rolled, ...(stopped ? { stopped } : {}), longestLeaderGapMs: gaps, drains, durationsMs: durations, leadership };
}

/** Drains a client (system jobs stay) and waits until nothing but them runs on it; where each allocation went. */
async function drain(request: Request, vm: RollVm, node: NomadNode, deadlineS: number, pollMs: number, say: (l: string) => void): Promise<string[]> {
  const before = (ok200<Alloc[]>(await request("nomad", "GET", `/v1/node/${node.ID}/allocations`)) ?? []).filter(live);
  say(`${vm.name}: draining Nomad node ${node.ID.slice(0, 8)} (${before.length} allocation(s), deadline ${deadlineS} s, system jobs stay)`);
  const a = await request("nomad", "POST", `/v1/node/${node.ID}/drain`, { NodeID: node.ID, DrainSpec: { Deadline: deadlineS * 1e9, IgnoreSystemJobs: true }, MarkEligible: false, Meta: { message: "npm run roll" } });
  if (!a.ok || a.status !== 200) throw new Stop("the drain was refused", describeAnswer(a), false);
  await until("the drain did not complete", (deadlineS + 60) * 1000, pollMs, false, async () => {
    const n = ok200<NomadNode>(await request("nomad", "GET", `/v1/node/${node.ID}`));
    const left = (ok200<Alloc[]>(await request("nomad", "GET", `/v1/node/${node.ID}/allocations`)) ?? []).filter(live);
    const done = !!n && !n.DrainStrategy && n.SchedulingEligibility === "ineligible" && left.length === 0;
    return { ok: done, saw: `${n?.DrainStrategy ? "draining" : "drain done"}, ${left.length} allocation(s) still running: ${left.map((x) => x.Name).join(", ") || "none"}` };
  });
  const where = () => Promise.all(before.map(async (x) => {
    const now = ok200<Alloc>(await request("nomad", "GET", `/v1/allocation/${x.ID}`));
    const next = now?.NextAllocation ? ok200<Alloc>(await request("nomad", "GET", `/v1/allocation/${now.NextAllocation}`)) : undefined;
    return { starting: next?.ClientStatus === "pending", line: next ? `${x.Name} → ${next.NodeName ?? "?"} (${next.ClientStatus})` : `${x.Name} → not placed elsewhere (stopped until a node can take it: a volume of this VM?)` };
  }));
  // The drain is done once its allocations have stopped; their replacements may still be starting.
  const settleBy = Date.now() + MOVED_SETTLE_MS;
  let moved = await where();
  while (moved.some((m) => m.starting) && Date.now() < settleBy) {
    await sleep(pollMs);
    moved = await where();
  }
  say(`${vm.name}: drained${moved.length ? `: ${moved.map((m) => m.line).join("; ")}` : ""}`);
  return moved.map((m) => m.line);
}

/** How long the roll waits, after a drain, for the moved allocations that are still starting elsewhere (then it goes on, saying where they are). */
const MOVED_SETTLE_MS = 120_000;
