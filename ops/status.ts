/**
 * `npm run status -- <site>`: is a deployed site ready for its platform stack? What its servers
 * answered (ops/probe.ts asks them) is judged here, by pure functions: one check a line, passed
 * or failed, with what was seen and what is missing.
 *
 * The servers count by quorum: the platform stack can be deployed while a minority of them is
 * down or out of reach, so a server that does not answer, is not a Raft peer or is not an alive
 * member is named, and fails its check only when fewer than a quorum are left. Every other
 * member (clients, ingress, bastion, VPN gateway, development VMs) must be there.
 */
import { ClusterMembersOutput, InfraOutputs, infraStackName } from "./infra-outputs";

/** One HTTP answer of a server, or why there was none. */
export type Answer =
  | { readonly ok: true; readonly status: number; readonly text: string; readonly json: unknown }
  | { readonly ok: false; readonly error: string };

/** The endpoints asked of every server of one kind (Consul or Nomad). */
export interface ServerAnswers {
  /** https://<address>:<port>, as the infra outputs name it. */
  readonly url: string;
  /** GET /v1/status/leader (no token needed). */
  readonly leader: Answer;
  /** GET /v1/status/peers: the Raft peers (no token needed). */
  readonly peers: Answer;
  /** GET /v1/acl/token/self with the management token. */
  readonly tokenSelf: Answer;
  /** GET /v1/agent/members (Consul) or /v1/nodes (Nomad) with the management token. */
  readonly listing: Answer;
}

/** What the servers of a site answered. */
export interface Observations {
  readonly consul: readonly ServerAnswers[];
  readonly nomad: readonly ServerAnswers[];
}

export interface CheckResult {
  readonly name: string;
  readonly passed: boolean;
  /** What was seen; when failed, what is missing and what to do. */
  readonly detail: string;
}

/** The routes each kind of server is asked (ops/probe.ts), in ServerAnswers' fields. */
export const ROUTES = {
  consul: { leader: "/v1/status/leader", peers: "/v1/status/peers", tokenSelf: "/v1/acl/token/self", listing: "/v1/agent/members" },
  nomad: { leader: "/v1/status/leader", peers: "/v1/status/peers", tokenSelf: "/v1/acl/token/self", listing: "/v1/nodes" },
} as const;

/** Consul's built-in global-management policy. */
const GLOBAL_MANAGEMENT_POLICY_ID = "00000000-0000-0000-0000-000000000001";

/** Serf member status codes of Consul's /v1/agent/members. */
const SERF_STATUS: Readonly<Record<number, string>> = { 0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed" };

/** How many of `n` servers make a Raft quorum. */
export const quorumOf = (n: number) => Math.floor(n / 2) + 1;

/** The declared members, with the site they belong to (for messages). */
type SiteMembers = ClusterMembersOutput & { readonly site: string };

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The host of a URL or of a host:port address. */
function hostOf(address: string): string {
  try {
    if (/^[a-z]+:\/\//.test(address)) return new URL(address).hostname.replace(/^\[|\]$/g, "");
  } catch {
    /* not a URL */
  }
  const m = /^\[?([^\]]+?)\]?:\d+$/.exec(address);
  return m ? m[1] : address;
}

/** A server as the operator knows it: its node name (its address when the infra stack does not declare it). */
function serverName(members: SiteMembers, address: string): string {
  const host = hostOf(address);
  return members.servers.find((s) => s.address === host)?.name ?? host;
}

/** "the answering server", "both answering servers", "all 3 answering servers". */
const answering = (n: number) => (n === 1 ? "the answering server" : n === 2 ? "both answering servers" : `all ${n} answering servers`);

/** A list in words: "a, b and c". */
function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** What a server answered, in a few words on one line. */
export function describeAnswer(a: Answer): string {
  if (!a.ok) return a.error;
  const text = a.text.replace(/\s+/g, " ").trim();
  return `HTTP ${a.status}${text ? `: ${text.length > 160 ? `${text.slice(0, 157)}...` : text}` : ""}`;
}

const answered = (a: Answer): a is Extract<Answer, { ok: true }> => a.ok;
const ok200 = (a: Answer): a is Extract<Answer, { ok: true }> => a.ok && a.status === 200;

/** The servers that answered at all (the leader endpoint needs no token: any answer proves the API is reachable). */
function reachable(servers: readonly ServerAnswers[]): ServerAnswers[] {
  return servers.filter((s) => answered(s.leader));
}

function checkReachable(kind: string, servers: readonly ServerAnswers[], members: SiteMembers): CheckResult {
  const up = reachable(servers);
  const down = servers.filter((s) => !answered(s.leader));
  const quorum = quorumOf(servers.length);
  const silent = down.map((s) => `${serverName(members, s.url)} at ${s.url}: ${describeAnswer(s.leader)}`);
  const name = `${kind} servers answer`;
  if (down.length === 0) return { name, passed: true, detail: `${up.length} of ${servers.length} (${list(up.map((s) => s.url))})` };
  if (up.length >= quorum) return { name, passed: true, detail: `${up.length} of ${servers.length}, a quorum; no answer from ${silent.join("; ")}` };
  return {
    name,
    passed: false,
    detail:
      `${up.length} of ${servers.length}, fewer than a quorum of ${quorum}; no answer from ${silent.join("; ")}: ` +
      `connect to the site's VPN (wg-quick up with the wireguard_<peer> output of ${infraStackName(members.site)}) and check that the servers run`,
  };
}

/** The leader every answering server names, or why there is none. */
function checkLeader(kind: string, servers: readonly ServerAnswers[], members: SiteMembers): CheckResult {
  const name = `${kind} leader`;
  const up = reachable(servers);
  if (up.length === 0) return { name, passed: false, detail: `no ${kind} server answered` };
  const said = up.map((s) => {
    const a = s.leader as Extract<Answer, { ok: true }>;
    const leader = a.status === 200 && typeof a.json === "string" ? a.json : "";
    return { server: s, leader, answer: a };
  });
  const none = said.filter((x) => x.leader === "");
  if (none.length > 0) {
    return {
      name,
      passed: false,
      detail:
        `no leader: ${none.map((x) => `${serverName(members, x.server.url)} says ${describeAnswer(x.answer)}`).join("; ")}` +
        `; the servers elect one once ${members.servers.length} of them have joined (bootstrap_expect): check that every server runs and that they reach each other`,
    };
  }
  const leaders = [...new Set(said.map((x) => x.leader))];
  if (leaders.length > 1) {
    return { name, passed: false, detail: `the servers disagree: ${said.map((x) => `${serverName(members, x.server.url)} says ${x.leader}`).join(", ")} (an election under way? run the status again in a few seconds)` };
  }
  const leader = leaders[0];
  const declared = members.servers.some((s) => s.address === hostOf(leader));
  if (!declared) {
    return { name, passed: false, detail: `${leader}, which is not a server ${infraStackName(members.site)} declares (${list(members.servers.map((s) => s.address))})` };
  }
  return { name, passed: true, detail: `${serverName(members, leader)} at ${leader}, as ${answering(up.length)} ${up.length === 1 ? "says" : "say"}` };
}

/** The Raft peers, as the first server that lists them does, against the declared servers: a quorum of them, and no other. */
function checkPeers(kind: string, servers: readonly ServerAnswers[], members: SiteMembers): CheckResult {
  const name = `${kind} Raft peers`;
  const listed = reachable(servers).filter((s) => ok200(s.peers) && Array.isArray((s.peers as { json: unknown }).json));
  if (listed.length === 0) {
    const up = reachable(servers);
    return { name, passed: false, detail: up.length === 0 ? `no ${kind} server answered` : `no server listed its peers: ${up.map((s) => `${serverName(members, s.url)}: ${describeAnswer(s.peers)}`).join("; ")}` };
  }
  const source = listed[0];
  const peers = ((source.peers as { json: unknown }).json as unknown[]).map(String);
  const hosts = peers.map(hostOf);
  const missing = members.servers.filter((s) => !hosts.includes(s.address));
  const extra = peers.filter((p) => !members.servers.some((s) => s.address === hostOf(p)));
  const present = members.servers.length - missing.length;
  const quorum = quorumOf(members.servers.length);
  const parts = [`${present} of ${members.servers.length} declared servers are peers${missing.length > 0 && present >= quorum ? ", a quorum" : ""} (as ${serverName(members, source.url)} lists them)`];
  if (missing.length > 0) parts.push(`not a peer: ${list(missing.map((s) => `${s.name} (${s.address})`))}`);
  if (extra.length > 0) parts.push(`peers the infra stack does not declare: ${list(extra)} (a replaced server still in the Raft configuration? remove it with \`${kind.toLowerCase()} operator raft remove-peer\`)`);
  const passed = present >= quorum && extra.length === 0;
  if (!passed && present < quorum) parts.push(`fewer than a quorum of ${quorum}`);
  return { name, passed, detail: parts.join("; ") };
}

/** The management token of the infra outputs is accepted by every answering server (the ACL bootstrap is done). */
function checkAcl(kind: "Consul" | "Nomad", servers: readonly ServerAnswers[], members: SiteMembers): CheckResult {
  const name = `${kind} ACL bootstrap`;
  const up = reachable(servers);
  if (up.length === 0) return { name, passed: false, detail: `no ${kind} server answered` };
  const stack = infraStackName(members.site);
  const isManagement = (json: Json) => (kind === "Consul" ? ((json?.Policies ?? []) as Json[]).some((p) => p?.ID === GLOBAL_MANAGEMENT_POLICY_ID) : json?.Type === "management");
  const refused = up.filter((s) => !ok200(s.tokenSelf));
  const weak = up.filter((s) => ok200(s.tokenSelf) && !isManagement(s.tokenSelf.json));
  if (refused.length === 0 && weak.length === 0) {
    return { name, passed: true, detail: `the management token of ${stack}'s outputs is accepted by ${answering(up.length)}, with ${kind === "Consul" ? "global-management" : "type management"}` };
  }
  const hint =
    kind === "Consul"
      ? `the servers create it from their configuration (initial_management) once they have a leader; in a federated site it replicates from the primary datacenter, which the servers must reach; otherwise the token is not this cluster's (is ${stack}'s state the one this cluster was deployed from?)`
      : `the first server bootstraps Nomad's ACLs with it once Nomad has a leader (/usr/local/sbin/platform-bootstrap, run by cloud-init: see /var/log/cloud-init-output.log on ${members.servers[0]?.name ?? "the first server"}); in a federated site it replicates from the authoritative region; otherwise the token is not this cluster's`;
  const parts = [
    ...refused.map((s) => `refused by ${serverName(members, s.url)}: ${describeAnswer(s.tokenSelf)}`),
    ...weak.map((s) => `accepted by ${serverName(members, s.url)}, but not as a management token`),
  ];
  return { name, passed: false, detail: `${parts.join("; ")}: ${hint}` };
}

/** The first answering server's listing, or why none could be had. */
function listing(kind: string, servers: readonly ServerAnswers[], members: SiteMembers, what: string): { source: ServerAnswers; items: Json[] } | { failure: string } {
  const up = reachable(servers);
  if (up.length === 0) return { failure: `no ${kind} server answered` };
  const source = up.find((s) => ok200(s.listing) && Array.isArray((s.listing as { json: unknown }).json));
  if (!source) {
    const refused = up.some((s) => s.listing.ok && (s.listing.status === 401 || s.listing.status === 403));
    return { failure: `could not list the ${what}: ${up.map((s) => `${serverName(members, s.url)}: ${describeAnswer(s.listing)}`).join("; ")}${refused ? ` (see ${kind} ACL bootstrap)` : ""}` };
  }
  return { source, items: (source.listing as { json: unknown }).json as Json[] };
}

/** Every declared Consul member joined and alive; the servers by quorum. */
function checkConsulMembers(servers: readonly ServerAnswers[], members: SiteMembers): CheckResult {
  const name = "Consul members";
  const got = listing("Consul", servers, members, "members");
  if ("failure" in got) return { name, passed: false, detail: got.failure };
  const byName = new Map<string, Json>();
  for (const m of got.items) if (typeof m?.Name === "string") byName.set(m.Name, m);
  const serverNames = new Set(members.servers.map((s) => s.name));
  const problems: { name: string; server: boolean; what: string }[] = [];
  for (const member of members.consul_members) {
    const m = byName.get(member);
    const status = m === undefined ? "not joined" : m.Status === 1 ? undefined : SERF_STATUS[m.Status as number] ?? `status ${m.Status}`;
    if (status) problems.push({ name: member, server: serverNames.has(member), what: status });
  }
  const serversDown = problems.filter((p) => p.server).length;
  const quorumHolds = members.servers.length - serversDown >= quorumOf(members.servers.length);
  const failing = problems.filter((p) => !p.server || !quorumHolds);
  const declared = new Set(members.consul_members);
  const undeclared = got.items.filter((m) => m?.Status === 1 && typeof m?.Name === "string" && !declared.has(m.Name)).map((m) => m.Name as string);
  const alive = members.consul_members.length - problems.length;
  const parts = [`${alive} of ${members.consul_members.length} declared members alive (as ${serverName(members, got.source.url)} sees them)`];
  if (problems.length > 0) parts.push(`${failing.length === 0 ? "servers down, a quorum left" : "missing"}: ${list(problems.map((p) => `${p.name} (${p.what})`))}`);
  if (failing.length > 0) parts.push("check those VMs run and that their Consul agent joined (`journalctl -u consul` on the VM)");
  if (undeclared.length > 0) parts.push(`also alive, not declared by ${infraStackName(members.site)}: ${list(undeclared)}`);
  return { name, passed: failing.length === 0, detail: parts.join("; ") };
}

/** Every declared Nomad client registered, ready and eligible, in its node class. */
function checkNomadClients(servers: readonly ServerAnswers[], members: SiteMembers): CheckResult {
  const name = "Nomad clients";
  const got = listing("Nomad", servers, members, "nodes");
  if ("failure" in got) return { name, passed: false, detail: got.failure };
  const problemsOf = (n: Json, nodeClass: string): string[] => [
    ...(n.Status === "ready" ? [] : [`status ${n.Status}`]),
    ...(n.SchedulingEligibility === "eligible" ? [] : [String(n.SchedulingEligibility ?? "not eligible")]),
    ...(n.Drain === true ? ["draining"] : []),
    ...((n.NodeClass ?? "") === nodeClass ? [] : [`node class "${n.NodeClass ?? ""}", expected "${nodeClass}"`]),
  ];
  const problems: string[] = [];
  const ready: string[] = [];
  for (const client of members.nomad_clients) {
    // A rebuilt VM leaves its former node down beside the new one: the best of them counts.
    const nodes = got.items.filter((n) => n?.Name === client.name).map((n) => ({ n, p: problemsOf(n, client.node_class) })).sort((a, b) => a.p.length - b.p.length);
    if (nodes.length === 0) problems.push(`${client.name} (not registered)`);
    else if (nodes[0].p.length > 0) problems.push(`${client.name} (${nodes[0].p.join(", ")})`);
    else ready.push(client.name);
  }
  const declared = new Set(members.nomad_clients.map((c) => c.name));
  const undeclared = got.items.filter((n) => n?.Status === "ready" && !declared.has(n?.Name)).map((n) => String(n.Name));
  const byClass = new Map<string, string[]>();
  for (const c of members.nomad_clients) byClass.set(c.node_class, [...(byClass.get(c.node_class) ?? []), c.name]);
  const classes = [...byClass].map(([cls, names]) => `${cls}: ${names.length}`).join(", ");
  const parts = [`${ready.length} of ${members.nomad_clients.length} declared clients ready and eligible in their node class (${classes || "none declared"}; as ${serverName(members, got.source.url)} lists them)`];
  if (problems.length > 0) parts.push(`not ready: ${list(problems)}; check those VMs run and that their Nomad agent joined (\`journalctl -u nomad\` on the VM)`);
  if (undeclared.length > 0) parts.push(`also ready, not declared by ${infraStackName(members.site)}: ${list(undeclared)}`);
  return { name, passed: problems.length === 0, detail: parts.join("; ") };
}

/** Every check of a site, in the order they are printed: Consul, then Nomad. */
export function statusChecks(outputs: InfraOutputs, seen: Observations): CheckResult[] {
  const members = { ...outputs.members, site: outputs.site };
  return [
    checkReachable("Consul", seen.consul, members),
    checkLeader("Consul", seen.consul, members),
    checkPeers("Consul", seen.consul, members),
    checkAcl("Consul", seen.consul, members),
    checkConsulMembers(seen.consul, members),
    checkReachable("Nomad", seen.nomad, members),
    checkLeader("Nomad", seen.nomad, members),
    checkPeers("Nomad", seen.nomad, members),
    checkAcl("Nomad", seen.nomad, members),
    checkNomadClients(seen.nomad, members),
  ];
}

/** `text` with every secret replaced: nothing a server echoes can print a token. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((t, s) => t.split(s).join("<redacted>"), text);
}

/** What the command prints: one line per check, then the verdict. */
export function reportLines(outputs: InfraOutputs, results: readonly CheckResult[]): string[] {
  const failed = results.filter((r) => !r.passed);
  const platform = `${outputs.site}-platform`;
  const verdict =
    failed.length === 0
      ? `${outputs.site}: ready for ${platform}: ${results.length} of ${results.length} checks passed`
      : `${outputs.site}: not ready for ${platform}: ${failed.length} of ${results.length} checks failed (${failed.map((r) => r.name).join(", ")})`;
  const lines = [...results.map((r) => `${r.passed ? "passed" : "failed"}  ${r.name}: ${r.detail}`), verdict];
  return lines.map((l) => redact(l, [outputs.consulToken, outputs.nomadToken]));
}
