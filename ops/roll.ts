/**
 * `npm run roll`: what an apply never does to a running VM (a change of its user data, image,
 * flavor, volumes or server group: `pending_roll`), carried out one VM at a time, with the
 * cluster's own health as the gate of every step.
 *
 * - Which VMs: those of the infra stack with something pending, or those named (a VM by its
 *   instance name, even with nothing pending; a group by its role, its VMs with something pending).
 * - In what order: the servers first (HashiCorp's upgrade order), one at a time, those that lead
 *   nothing first (chosen again before each: leadership moves); a server that still leads hands
 *   its leadership to a server already rolled before it goes; then the Nomad clients; then the
 *   other VMs; the VPN gateway last (its replacement cuts the operator's VPN until it is back).
 * - Each VM: its replacement planned first (nothing is done to the VM when the plan is refused);
 *   the gate: every server other than it a healthy voter by Consul's and Nomad's autopilot, and
 *   for a server enough of them for a quorum without it; every other member of the site alive (a
 *   Consul agent) and ready (a Nomad client), but those this roll is still to replace; a Nomad
 *   client drained (system jobs stay), ineligible until it is back; the gate again; then the
 *   replacement carried out.
 * - After each VM: back and healthy (a server: its own API names a leader and both autopilots
 *   count it a healthy voter; a client: a ready Nomad node, made eligible, its system jobs
 *   running again; every VM: an alive Consul member).
 * - It stops at the first step that is not healthy, saying what it saw and how to resume.
 *
 * Nothing here talks to the network or runs Terraform itself: `Request` is one API call to the
 * site's servers, `Replacer` replaces one VM (Terraform in ops/terraform-roll.ts, the
 * rehearsal's VMs in rehearsal/roll.ts), so that the same steps run against a real site and the
 * rehearsal.
 */
import { hostname } from "node:os";
import { ClusterMembersOutput, PendingRollOutput } from "./infra-outputs";
import { Answer, describeAnswer, quorumOf } from "./status";

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
  readonly ID?: string;
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
 * Whether `health` lets the roll replace `target` (a server's name, or undefined for a VM that
 * is not a server): every declared server but the target present and a healthy voter; for a
 * server, those others at least a quorum of the declared count, so that the site keeps its
 * quorum while it is away (the target may itself be the broken one being replaced).
 */
export function judgeServers(kind: Kind, health: AutopilotHealth, declared: readonly string[], target?: string): Verdict {
  const others = declared.filter((n) => n !== target);
  const missing = others.filter((n) => !entryOf(health, n));
  const sick = others.map((n) => entryOf(health, n)).filter((s): s is AutopilotServer => !!s && !(s.Healthy && s.Voter));
  const healthy = others.length - missing.length - sick.length;
  const quorum = quorumOf(declared.length);
  const parts = [`${TITLE[kind]}: ${health.Servers.map(describeServer).join(", ") || "no servers"}; failure tolerance ${health.FailureTolerance}`];
  if (missing.length > 0) parts.push(`not in the Raft configuration: ${missing.join(", ")}`);
  const keepsQuorum = target === undefined || healthy >= quorum;
  if (!keepsQuorum) parts.push(`without ${target} the site would keep ${healthy} healthy server${healthy === 1 ? "" : "s"}, fewer than a quorum of ${quorum}`);
  return { ok: missing.length === 0 && sick.length === 0 && keepsQuorum, saw: parts.join("; ") };
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

interface NomadNode {
  readonly ID: string;
  readonly Name: string;
  readonly Status: string;
  readonly SchedulingEligibility: string;
  readonly StatusUpdatedAt?: number;
  readonly DrainStrategy?: unknown;
}

/**
 * Whether the site's other members are there: every declared Consul member alive and every
 * declared Nomad client ready and eligible, but those in `exempt` (the VM about to be replaced,
 * and those the roll is still to replace: a broken VM being rolled does not stop its own roll).
 */
export function judgeMembers(members: Pick<ClusterMembersOutput, "consul_members" | "nomad_clients">, consul: readonly { Name: string; Status: number }[], nodes: readonly NomadNode[], exempt: ReadonlySet<string>): Verdict {
  const down = members.consul_members.filter((n) => !exempt.has(n) && !consul.some((m) => m.Name === n && m.Status === 1));
  const notReady = members.nomad_clients.filter((c) => !exempt.has(c.name)).flatMap((c) => {
    const mine = nodes.filter((n) => n.Name === c.name);
    const best = mine.find((n) => n.Status === "ready" && n.SchedulingEligibility === "eligible") ?? mine.find((n) => n.Status === "ready") ?? mine[0];
    if (!best) return [`${c.name} (not registered)`];
    return best.Status === "ready" && best.SchedulingEligibility === "eligible" ? [] : [`${c.name} (${best.Status}, ${best.SchedulingEligibility})`];
  });
  const parts: string[] = [];
  if (down.length > 0) parts.push(`Consul members not alive: ${down.join(", ")}`);
  if (notReady.length > 0) parts.push(`Nomad clients not ready and eligible: ${notReady.join(", ")}`);
  if (parts.length > 0) parts.push("roll them too (name them) or bring them back first");
  const counted = `${members.consul_members.filter((n) => !exempt.has(n)).length} Consul members alive, ${members.nomad_clients.filter((c) => !exempt.has(c.name)).length} Nomad clients ready (the others are this roll's)`;
  return { ok: parts.length === 0, saw: parts.length > 0 ? parts.join("; ") : counted };
}

// --- The engine ---

/** One call to the site's servers (any of them that answers, or the one at address `at`), with the management token. */
export type Request = (kind: Kind, method: "GET" | "POST" | "PUT", path: string, body?: unknown, at?: string) => Promise<Answer>;

/** A replacement planned and checked, not yet carried out. */
export interface PreparedReplacement {
  /** Carries it out: the old instance is gone when this returns. Throws with one line. */
  apply(): Promise<void>;
  /** Forgets it (nothing was done). */
  discard(): void;
}

/** Replaces one VM (its instance; its port, address and volumes stay). */
export interface Replacer {
  /** Plans the replacement, refused (one line) unless it replaces that VM and nothing else; nothing is done to the VM yet. */
  prepare(vm: RollVm): Promise<PreparedReplacement>;
}

export interface RollSettings {
  /** The infra stack, for the resume hint. */
  readonly stack: string;
  /** The site's members, as `cluster_members` declares them. */
  readonly members: ClusterMembersOutput;
  /** How long each wait for a replaced VM may take (back in the Raft cluster, a ready node, an alive member). @default 900000 */
  readonly backWithinMs?: number;
  /** How long the cluster may take to be healthy before a step. @default 120000 */
  readonly healthyWithinMs?: number;
  /** Nomad's drain deadline: after it, what has not migrated is stopped. @default 600 */
  readonly drainDeadlineS?: number;
  /** @default 2000 */
  readonly pollMs?: number;
  /** Options of the command to repeat in the resume hint (e.g. `--wait-minutes 30`). @default "" */
  readonly resumeOptions?: string;
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
  /** Per server, in the order they went: what it led when its turn came ("" for nothing), whether every server left then led something, and where its leadership went before it did. */
  readonly leadership: readonly { readonly vm: string; readonly leads: string; readonly allLeft: boolean; readonly handedTo?: string }[];
}

/** Where a step stopped: `replaced` says whether the VM was (or may have been) replaced already. */
class Stop extends Error {
  constructor(readonly step: string, readonly saw: string, readonly replaced: boolean | "maybe") {
    super(`${step}: ${saw}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answer's JSON when it is a 200, else undefined. */
function ok200<T>(a: Answer): T | undefined {
  return a.ok && a.status === 200 ? (a.json as T) : undefined;
}

/** Answer's JSON when it is a 200; else throws, saying what was answered. */
function required<T>(what: string, a: Answer): T {
  if (a.ok && a.status === 200) return a.json as T;
  throw new Error(`${what}: ${describeAnswer(a)}`);
}

/** The leader's address host as the servers name it (the first that names one), "" when those that answer name none, undefined when none answers. */
async function leaderHost(request: Request, kind: Kind, servers: readonly { readonly address: string }[]): Promise<string | undefined> {
  const said = await Promise.all(servers.map(async (s) => request(kind, "GET", "/v1/status/leader", undefined, s.address)));
  const l = said.map((a) => ok200<string>(a)).find((x) => typeof x === "string" && x !== "");
  if (l) return l.replace(/:\d+$/, "");
  return said.some((a) => a.ok) ? "" : undefined;
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
        // No server answering (the operator's VPN down while its gateway is replaced) is not a time without a leader.
        if (host === undefined) return;
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

const running = (a: Alloc) => a.ClientStatus === "running" || a.ClientStatus === "pending";
/** A system job's allocation: a drain leaves it, a new node runs it again. (A sysbatch job's runs once and completes: neither.) */
const isSystem = (a: Alloc) => (a.Job?.Type ?? a.JobType) === "system";

/** The nodes of a VM's name, or throws when Nomad could not list them (never "none" for "unknown"). */
async function nodesOf(request: Request, name: string): Promise<NomadNode[]> {
  return required<NomadNode[]>("Nomad's node list", await request("nomad", "GET", "/v1/nodes")).filter((n) => n.Name === name);
}

/** The VM's node: the ready one when a rebuilt VM left its former node beside it. */
const current = (nodes: readonly NomadNode[]) => nodes.find((n) => n.Status === "ready") ?? nodes[0];

/** Rolls `vms` (in rollOrder), one at a time. Never throws for an unhealthy step: the report says where it stopped. */
export async function roll(vms: readonly RollVm[], request: Request, replacer: Replacer, settings: RollSettings): Promise<RollReport> {
  const backMs = settings.backWithinMs ?? DEFAULT_BACK_WITHIN_MS;
  const healthyMs = settings.healthyWithinMs ?? DEFAULT_HEALTHY_WITHIN_MS;
  const deadlineS = settings.drainDeadlineS ?? DEFAULT_DRAIN_DEADLINE_S;
  const pollMs = settings.pollMs ?? 2000;
  const servers = settings.members.servers;
  const declared = servers.map((s) => s.name);
  const say = settings.out;
  const rolled: string[] = [];
  const drains: Record<string, string[]> = {};
  const durations: Record<string, number> = {};
  const leadership: { vm: string; leads: string; allLeft: boolean; handedTo?: string }[] = [];
  const remaining = rollOrder(vms);
  const watcher = watchLeaders(request, servers);
  let stopped: RollStop | undefined;
  let gaps: Record<Kind, number> = { consul: 0, nomad: 0 };
  const resume = (rest: readonly RollVm[]) => `npm run roll -- ${settings.stack} ${rest.map((v) => v.name).join(" ")}${settings.resumeOptions ? ` ${settings.resumeOptions}` : ""}`;
  const addressOf = (name: string) => servers.find((s) => s.name === name)?.address;

  /** The chosen VMs that were already down when the roll began. */
  const brokenAtStart = new Set<string>();

  /** What each server leads now. */
  const leaders = async () => {
    const [cl, nl] = await Promise.all([leaderHost(request, "consul", servers), leaderHost(request, "nomad", servers)]);
    return (v: RollVm) => [addressOf(v.name) === cl ? "consul" : "", addressOf(v.name) === nl ? "nomad" : ""].filter(Boolean) as Kind[];
  };

  /** The next VM: the first left, but among the servers an unhealthy one first (it is down already), then one that leads nothing. */
  const next = async (): Promise<RollVm> => {
    const first = remaining[0];
    if (!first.server) return first;
    const leads = await leaders();
    const [c, n] = await Promise.all([health(request, "consul").catch(() => undefined), health(request, "nomad").catch(() => undefined)]);
    const sick = (v: RollVm) => [c, n].some((h) => h && !entryOf(h, v.name)?.Healthy);
    return [...remaining.filter((v) => v.server)].sort((a, b) => Number(sick(b)) - Number(sick(a)) || leads(a).length - leads(b).length)[0];
  };

  /** The gate of every step: the servers (for a server, a quorum without it) and the other members. */
  const gate = (vm: RollVm) =>
    until("the site is not healthy enough to go on", healthyMs, pollMs, false, async () => {
      const [c, n, members, nodes] = await Promise.all([
        health(request, "consul"), health(request, "nomad"),
        request("consul", "GET", "/v1/agent/members").then((a) => required<{ Name: string; Status: number }[]>("Consul's member list", a)),
        request("nomad", "GET", "/v1/nodes").then((a) => required<NomadNode[]>("Nomad's node list", a)),
      ]);
      const target = vm.server ? vm.name : undefined;
      const vc = judgeServers("consul", c, declared, target);
      const vn = judgeServers("nomad", n, declared, target);
      // Exempt: the VM itself, and those still to roll that were already down when the roll began (a broken VM being rolled).
      const vm2 = judgeMembers(settings.members, members, nodes, new Set([vm.name, ...remaining.filter((v) => brokenAtStart.has(v.name)).map((v) => v.name)]));
      return { ok: vc.ok && vn.ok && vm2.ok, saw: `${vc.saw}. ${vn.saw}. ${vm2.saw}` };
    });

  /** A server that still leads hands its leadership to one already rolled (Raft leadership transfer), so that the leader never goes down. */
  const handOver = async (vm: RollVm, allLeft: boolean) => {
    const leads = (await leaders())(vm);
    const entry: { vm: string; leads: string; allLeft: boolean; handedTo?: string } = { vm: vm.name, leads: leads.map((k) => `${TITLE[k]} leader`).join(" and "), allLeft };
    leadership.push(entry);
    // A server this roll has replaced, else one a previous roll did (not left to roll), else none.
    const to = [...rolled].reverse().find((r) => declared.includes(r)) ?? declared.find((d) => d !== vm.name && !remaining.some((v) => v.name === d));
    if (leads.length === 0 || !to) return;
    for (const kind of leads) {
      const config = required<{ Servers: { ID: string; Node: string }[] }>(`${TITLE[kind]}'s Raft configuration`, await request(kind, "GET", "/v1/operator/raft/configuration"));
      const id = config.Servers.find((s) => s.Node === to || s.Node.startsWith(`${to}.`))?.ID;
      if (!id) continue;
      const route = kind === "consul" ? "/v1/operator/raft/transfer-leader" : "/v1/operator/raft/transfer-leadership";
      const a = await request(kind, "POST", `${route}?id=${encodeURIComponent(id)}`);
      say(`${vm.name}: ${TITLE[kind]} leadership handed to ${to}: ${a.ok && a.status === 200 ? "done" : describeAnswer(a)}`);
    }
    await until("the leadership did not move", 30_000, 500, false, async () => {
      const still = (await leaders())(vm);
      return { ok: still.length === 0, saw: still.length ? `${vm.name} still leads ${still.join(", ")}` : `${to} leads` };
    }).catch((e: unknown) => say(`${vm.name}: ${(e as Stop).saw}: it goes as it is (an election follows)`));
    entry.handedTo = to;
  };

  let lock: RollLock | undefined;
  try {
    try {
      lock = await takeRollLock(request, settings.stack);
    } catch (e) {
      stopped = { vm: remaining[0]?.name ?? "", step: "the roll lock could not be taken", saw: (e as Error).message, resume: resume(remaining) };
      return { rolled, stopped, longestLeaderGapMs: gaps, drains, durationsMs: durations, leadership };
    }
    say(`${settings.stack}: roll lock taken (Consul KV ${lock.key}): no other roll of this stack runs until it ends`);
    if (remaining.some((v) => v.server) && servers.length < 3) {
      const others = remaining.filter((v) => !v.server);
      stopped = {
        vm: remaining.find((v) => v.server)!.name,
        step: "a site of fewer than 3 servers cannot lose one",
        saw: `${servers.length} server(s) declared: replacing one stops the cluster; nothing was rolled. Replace the server during a maintenance window, by hand (terraform apply -replace)`,
        ...(others.length > 0 ? { resume: resume(others) } : {}),
      };
      return { rolled, stopped, longestLeaderGapMs: gaps, drains, durationsMs: durations, leadership };
    }
    {
      const [members, nodes] = await Promise.all([request("consul", "GET", "/v1/agent/members"), request("nomad", "GET", "/v1/nodes")]);
      for (const v of remaining) {
        const m = ok200<{ Name: string; Status: number }[]>(members)?.find((x) => x.Name === v.name);
        const n = current((ok200<NomadNode[]>(nodes) ?? []).filter((x) => x.Name === v.name));
        if ((v.consulMember && m?.Status !== 1) || (v.nomadClient && n?.Status !== "ready")) brokenAtStart.add(v.name);
      }
      if (brokenAtStart.size > 0) say(`already down, rolled all the same: ${[...brokenAtStart].join(", ")}`);
    }
    while (remaining.length > 0) {
      if (lock.lost()) {
        stopped = { vm: remaining[0].name, step: "the roll lock was lost", saw: `the Consul session of ${lock.key} expired (no renewal reached the servers for a minute): another roll may have started`, resume: resume(remaining) };
        break;
      }
      const vm = await next();
      const started = Date.now();
      let prepared: PreparedReplacement | undefined;
      try {
        say(`${vm.name}: planning its replacement (${vm.address})`);
        try {
          prepared = await replacer.prepare(vm);
        } catch (e) {
          throw new Stop("its replacement could not be planned", (e as Error).message.split("\n")[0], false);
        }
        say(`${vm.name}: ${await gate(vm)}`);
        let oldNode: NomadNode | undefined;
        let systemJobs: string[] = [];
        if (vm.nomadClient) {
          oldNode = current(await nodesOf(request, vm.name).catch((e: Error) => { throw new Stop("its Nomad node could not be read", e.message, false); }));
          if (!oldNode || oldNode.Status === "down") {
            say(`${vm.name}: ${oldNode ? "its Nomad node is down" : "no Nomad node by that name"}: nothing to drain`);
          } else {
            const allocs = required<Alloc[]>("the node's allocations", await request("nomad", "GET", `/v1/node/${oldNode.ID}/allocations`)).filter(running);
            systemJobs = [...new Set(allocs.filter(isSystem).map((a) => a.JobID))];
            drains[vm.name] = await drain(request, vm, oldNode, allocs.filter((a) => !isSystem(a)), deadlineS, pollMs, say, () => { drains[vm.name] = []; });
          }
        }
        if (vm.server) {
          const leadsNow = await leaders();
          await handOver(vm, remaining.filter((v) => v.server).every((v) => leadsNow(v).length > 0));
        }
        say(`${vm.name}: ${await gate(vm)}`);
        const oldConsulId = vm.consulMember && !vm.server ? ok200<{ Node?: { ID?: string } }>(await request("consul", "GET", `/v1/catalog/node/${encodeURIComponent(vm.name)}`))?.Node?.ID : undefined;
        const replacedAt = Date.now();
        say(`${vm.name}: replacing it (the old instance is gone when this returns)`);
        const p = prepared;
        prepared = undefined;
        try {
          await p.apply();
        } catch (e) {
          throw new Stop("the replacement failed", (e as Error).message.split("\n")[0], "maybe");
        }
        remaining.splice(remaining.indexOf(vm), 1);
        rolled.push(vm.name);
        say(`${vm.name}: replaced; waiting until it is back and healthy`);
        if (vm.server) {
          const address = addressOf(vm.name);
          let inARow = 0;
          say(`${vm.name}: ${await until("the replaced server is not back and healthy", backMs, pollMs, true, async () => {
            try {
              const [c, n, cl, nl] = await Promise.all([
                health(request, "consul"), health(request, "nomad"),
                request("consul", "GET", "/v1/status/leader", undefined, address), request("nomad", "GET", "/v1/status/leader", undefined, address),
              ]);
              const vc = judgeServerBack("consul", c, vm.name, cl);
              const vn = judgeServerBack("nomad", n, vm.name, nl);
              // Twice in a row: autopilot's view of a server that has just come back is refreshed every few seconds.
              inARow = vc.ok && vn.ok ? inARow + 1 : 0;
              return { ok: inARow >= 2, saw: `${vc.saw}. ${vn.saw}` };
            } catch (e) {
              inARow = 0;
              throw e;
            }
          })}`);
        }
        if (vm.nomadClient) {
          let fresh: NomadNode | undefined;
          say(`${vm.name}: ${await until("the replaced client's Nomad node is not ready", backMs, pollMs, true, async () => {
            const n = current((await nodesOf(request, vm.name)).filter((x) => x.ID !== oldNode?.ID || (x.StatusUpdatedAt ?? 0) * 1000 >= replacedAt));
            fresh = n?.Status === "ready" ? n : undefined;
            return { ok: !!fresh, saw: n ? `node ${n.ID.slice(0, 8)} ${n.Status}, ${n.SchedulingEligibility}` : "no new Nomad node by that name yet" };
          })}`);
          const node = fresh!;
          if (node.SchedulingEligibility !== "eligible") {
            const a = await request("nomad", "POST", `/v1/node/${node.ID}/eligibility`, { NodeID: node.ID, Eligibility: "eligible" });
            if (!a.ok || a.status !== 200) throw new Stop("the replaced client could not be made eligible", describeAnswer(a), true);
            say(`${vm.name}: eligible again`);
          }
          if (systemJobs.length > 0) {
            say(`${vm.name}: ${await until("the replaced client does not run its system jobs again", backMs, pollMs, true, async () => {
              const allocs = required<Alloc[]>("the node's allocations", await request("nomad", "GET", `/v1/node/${node.ID}/allocations`));
              const missing = systemJobs.filter((j) => !allocs.some((a) => a.JobID === j && a.ClientStatus === "running"));
              return { ok: missing.length === 0, saw: missing.length ? `not running yet: ${missing.join(", ")}` : `its system jobs run again: ${systemJobs.join(", ")}` };
            })}`);
          }
        }
        if (vm.consulMember) {
          say(`${vm.name}: ${await until("the replaced VM's Consul agent is not back", backMs, pollMs, true, async () => {
            const members = required<{ Name: string; Status: number }[]>("Consul's member list", await request("consul", "GET", "/v1/agent/members"));
            const alive = members.some((m) => m.Name === vm.name && m.Status === 1);
            const id = vm.server ? undefined : ok200<{ Node?: { ID?: string } }>(await request("consul", "GET", `/v1/catalog/node/${encodeURIComponent(vm.name)}`))?.Node?.ID;
            const fresh = vm.server || (id !== undefined && id !== oldConsulId);
            return { ok: alive && fresh, saw: `Consul member ${alive ? "alive" : "not alive"}${fresh ? "" : " (its former agent: node ID unchanged)"}` };
          })}`);
        }
        durations[vm.name] = Date.now() - started;
        say(`${vm.name}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      } catch (e) {
        const wasPrepared = prepared !== undefined;
        prepared?.discard();
        // A request that failed where a step needs its answer (an election under way, say): a stop like the others, with its resume.
        if (!(e instanceof Stop)) e = new Stop("an unexpected answer", (e as Error).message.split("\n")[0], wasPrepared || !rolled.includes(vm.name) ? false : true);
        if (!(e instanceof Stop)) throw e;
        const rest = e.replaced === true ? remaining : [vm, ...remaining.filter((v) => v !== vm)];
        const advice = [
          e.replaced === true ? `${vm.name} was replaced and is not healthy: look at it (journalctl -u consul -u nomad, /var/log/cloud-init-output.log); the resume waits until it is back` : "",
          e.replaced === "maybe" ? `the apply failed part-way: \`terraform -chdir=<the stack's folder> state list | grep ${vm.address.split(".")[1]}\` says whether the instance is still there; if it is not, the resume creates it` : "",
          drains[vm.name] !== undefined && e.replaced !== true ? `${vm.name} is drained and ineligible: the resume replaces it, or \`nomad node eligibility -enable <node id>\` keeps it` : "",
        ].filter(Boolean).join("; ");
        stopped = { vm: vm.name, step: e.step, saw: e.saw, ...(rest.length > 0 ? { resume: resume(rest) } : {}), ...(advice ? { advice } : {}) };
        break;
      }
    }
  } finally {
    gaps = await watcher.stop();
    await lock?.release();
  }
  return { rolled, ...(stopped ? { stopped } : {}), longestLeaderGapMs: gaps, drains, durationsMs: durations, leadership };
}

interface RollLock {
  readonly key: string;
  /** The session expired or was destroyed: the lock is no longer held. */
  lost(): boolean;
  release(): Promise<void>;
}

/** The Consul KV key whose lock a roll of `stack` holds. */
export const rollLockKey = (stack: string) => `platform/roll/${stack}`;

/**
 * One roll of a stack at a time, whoever runs it: a Consul lock (a session with a TTL, bound to
 * no node check, so that replacing the server it was made on does not end it; renewed while the
 * roll runs, gone within a minute of a roll that died). Throws, naming who holds it.
 */
async function takeRollLock(request: Request, stack: string): Promise<RollLock> {
  const key = rollLockKey(stack);
  const created = required<{ ID: string }>("Consul session", await request("consul", "PUT", "/v1/session/create", { Name: `npm run roll ${stack}`, TTL: "60s", Behavior: "delete", LockDelay: "1s", NodeChecks: [] }));
  const holder = { by: `npm run roll on ${hostname()}`, since: new Date().toISOString() };
  const got = await request("consul", "PUT", `/v1/kv/${key}?acquire=${created.ID}`, holder);
  if (!(got.ok && got.status === 200 && got.json === true)) {
    await request("consul", "PUT", `/v1/session/destroy/${created.ID}`);
    if (!(got.ok && got.status === 200)) throw new Error(`${key}: ${describeAnswer(got)}`);
    const held = await request("consul", "GET", `/v1/kv/${key}?raw`);
    throw new Error(`another roll of ${stack} holds ${key}: ${held.ok && held.status === 200 ? held.text : "(its holder could not be read)"}; wait for it to end (a roll that died lets go within a minute)`);
  }
  let renewing = true;
  let lost = false;
  const renew = (async () => {
    while (renewing) {
      for (let i = 0; i < 20 && renewing; i++) await sleep(1000);
      if (!renewing) break;
      const r = await request("consul", "PUT", `/v1/session/renew/${created.ID}`);
      // 404: the session is gone (expired while no renewal got through). Other failures: tried again in 20 s, within the TTL.
      if (r.ok && r.status === 404) lost = true;
    }
  })();
  return {
    key,
    lost: () => lost,
    release: async () => {
      renewing = false;
      await renew;
      await request("consul", "PUT", `/v1/kv/${key}?release=${created.ID}`);
      await request("consul", "PUT", `/v1/session/destroy/${created.ID}`);
    },
  };
}

/** How long the roll waits, after a drain, for the moved allocations that are still starting elsewhere (then it goes on, saying where they are). */
const MOVED_SETTLE_MS = 120_000;

/** Drains a client (system jobs stay) and waits until nothing but them runs on it; where each allocation went. */
async function drain(request: Request, vm: RollVm, node: NomadNode, before: readonly Alloc[], deadlineS: number, pollMs: number, say: (l: string) => void, started: () => void): Promise<string[]> {
  say(`${vm.name}: draining Nomad node ${node.ID.slice(0, 8)} (${before.length} allocation(s), deadline ${deadlineS} s, system jobs stay)`);
  const a = await request("nomad", "POST", `/v1/node/${node.ID}/drain`, { NodeID: node.ID, DrainSpec: { Deadline: deadlineS * 1e9, IgnoreSystemJobs: true }, MarkEligible: false, Meta: { message: "npm run roll" } });
  if (!a.ok || a.status !== 200) throw new Stop("the drain was refused", describeAnswer(a), false);
  started();
  await until("the drain did not complete", (deadlineS + 60) * 1000, pollMs, false, async () => {
    const n = required<NomadNode>("the node", await request("nomad", "GET", `/v1/node/${node.ID}`));
    const left = required<Alloc[]>("the node's allocations", await request("nomad", "GET", `/v1/node/${node.ID}/allocations`)).filter((x) => running(x) && !isSystem(x));
    const done = !n.DrainStrategy && n.SchedulingEligibility === "ineligible" && left.length === 0;
    return { ok: done, saw: `${n.DrainStrategy ? "draining" : "drain done"}, ${left.length} allocation(s) still running: ${left.map((x) => x.Name).join(", ") || "none"}` };
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
