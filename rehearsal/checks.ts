/**
 * What the rehearsal proves about a running site, asked of the real agents from inside its VMs
 * (with the CA, the agents' certificates and the management tokens Terraform generated), each
 * check polled until it holds or its time runs out. A check that fails says what it saw, and
 * the agents' log lines and the dropped flows that explain it (`diagnose`).
 */
import { RehearsalVm } from "./vm";

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** Milliseconds from the start of the site's boot to when the check held (or gave up). */
  readonly ms: number;
  readonly detail: string;
}

export interface SiteUnderTest {
  readonly name: string;
  readonly vms: readonly RehearsalVm[];
  readonly consulToken: string;
  readonly nomadToken: string;
  /** When the site's VMs started booting (Date.now()). */
  readonly bootStarted: number;
}

export interface ApiAnswer {
  readonly code: number;
  readonly body: string;
}

const TLS = "/etc/platform/tls";

/** Asks a VM's local agent: Consul on 8501, Nomad on 4646, over HTTPS with the VM's own files. */
export async function api(vm: RehearsalVm, agent: "consul" | "nomad", p: string, opts: { token?: string; method?: string; body?: string; seconds?: number } = {}): Promise<ApiAnswer> {
  const url = agent === "consul" ? `https://127.0.0.1:8501${p}` : `https://127.0.0.1:4646${p}`;
  const header = agent === "consul" ? "X-Consul-Token" : "X-Nomad-Token";
  const r = await vm.execAsync([
    "curl", "-sS", "-m", String(opts.seconds ?? 5), "-o", "-", "-w", "\n%{http_code}", "--cacert", `${TLS}/ca.pem`, "--cert", `${TLS}/agent.pem`, "--key", `${TLS}/agent-key.pem`,
    "-X", opts.method ?? "GET", ...(opts.token ? ["-H", `${header}: ${opts.token}`] : []), ...(opts.body !== undefined ? ["--data-binary", opts.body] : []), url,
  ], { timeoutMs: ((opts.seconds ?? 5) + 5) * 1000 });
  return curlAnswer(r.stdout);
}

/** What curl printed with `-o - -w "\n%{http_code}"`: the body and the status code (0 when there was no answer). */
export function curlAnswer(stdout: string): ApiAnswer {
  const out = stdout.trimEnd();
  const nl = out.lastIndexOf("\n");
  const code = Number(out.slice(nl + 1));
  return { code: Number.isFinite(code) ? code : 0, body: nl >= 0 ? out.slice(0, nl) : "" };
}

export function json<T>(a: ApiAnswer): T | undefined {
  try { return JSON.parse(a.body) as T; } catch { return undefined; }
}

/**
 * Polls `probe` until it returns `{ ok: true }` or `timeoutMs` passes; the clock is read after
 * each probe, so a slow probe is not counted as a fast pass.
 */
export async function poll(name: string, started: number, timeoutMs: number, probe: () => Promise<{ ok: boolean; saw: string }>): Promise<CheckResult> {
  const deadline = Date.now() + timeoutMs;
  let last = { ok: false, saw: "nothing yet" };
  for (;;) {
    try { last = await probe(); } catch (e) { last = { ok: false, saw: (e as Error).message }; }
    const now = Date.now();
    if (last.ok) return { name, ok: true, ms: now - started, detail: last.saw };
    if (now > deadline) return { name, ok: false, ms: now - started, detail: last.saw };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The VMs that run a Consul agent (their user data writes its configuration). */
export function consulMembers(site: SiteUnderTest): RehearsalVm[] {
  return site.vms.filter((v) => (v.cfg.write_files ?? []).some((f) => f.path === "/etc/consul.d/consul.json"));
}

export function servers(site: SiteUnderTest): RehearsalVm[] {
  return site.vms.filter((v) => v.vm.role === "server");
}

/** The Nomad clients and the node class each declares. */
export function nomadClients(site: SiteUnderTest): { vm: RehearsalVm; nodeClass: string }[] {
  return site.vms.flatMap((v) => {
    if (v.vm.role === "server") return [];
    const text = v.readFile("/etc/nomad.d/nomad.json");
    if (text === undefined) return [];
    const cfg = JSON.parse(text) as { client?: { node_class?: string } };
    return [{ vm: v, nodeClass: cfg.client?.node_class ?? "" }];
  });
}

function missing(expected: readonly string[], seen: readonly string[]): string[] {
  return expected.filter((e) => !seen.includes(e));
}

/**
 * A server absent at the first boot (the design: every server of the first boot takes part in
 * it, `bootstrap_expect` is their count): after `waitMs`, the servers that are there answer and
 * have no leader, in Consul nor in Nomad; nothing is bootstrapped without the absent ones. The
 * site is expected to form, and bootstrap, once they boot (the cluster checks that follow).
 */
export async function absentServersCheck(site: SiteUnderTest, absent: readonly RehearsalVm[], waitMs: number): Promise<CheckResult> {
  const started = Date.now();
  await new Promise((r) => setTimeout(r, waitMs));
  const present = servers(site).filter((v) => !absent.includes(v));
  const views = await Promise.all(present.map(async (v) => {
    // Without a leader, Nomad answers after its RPC hold time (5 s): wait longer than that.
    const c = await api(v, "consul", "/v1/status/leader", { seconds: 15 });
    const n = await api(v, "nomad", "/v1/status/leader", { seconds: 15 });
    const consulNone = c.code === 200 && json<string>(c) === "";
    const nomadNone = (n.code === 200 && json<string>(n) === "") || (n.code === 500 && /no cluster leader/i.test(n.body));
    return { v, ok: consulNone && nomadNone, saw: `${v.vm.name}: Consul ${c.code === 200 ? `leader "${json<string>(c) ?? ""}"` : `HTTP ${c.code}`}, Nomad ${n.code === 200 ? `leader "${json<string>(n) ?? ""}"` : `HTTP ${n.code} ${n.body.trim().slice(0, 60)}`}` };
  }));
  const ok = present.length > 0 && views.every((x) => x.ok);
  return {
    name: `${site.name}: without ${absent.map((a) => a.vm.name).join(", ")} at the first boot, the other servers answer and elect no leader (bootstrap_expect ${servers(site).length})`,
    ok,
    ms: Date.now() - started,
    detail: views.map((x) => x.saw).join("; "),
  };
}

/**
 * When a site's servers first had a leader, from the agents' own logs ("cluster leadership
 * acquired", logged by the server that won): the polls only look after the boots, so the logs
 * date the election. Undefined when no server logged it.
 */
export function leaderAt(site: SiteUnderTest, agent: "consul" | "nomad"): number | undefined {
  const times = servers(site).flatMap((v) => {
    const m = /(\d{4}-\d\d-\d\dT[\d:.]+Z) \[INFO\] +(?:agent\.server|nomad): cluster leadership acquired/.exec(v.log(agent));
    return m ? [Date.parse(m[1])] : [];
  });
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** The checks of one site's cluster (check 1 of the rehearsal). */
export async function clusterChecks(site: SiteUnderTest, timeoutMs: number): Promise<CheckResult[]> {
  const srv = servers(site);
  const first = srv[0];
  const members = consulMembers(site).map((v) => v.vm.name);
  const results: CheckResult[] = [];
  const check = async (name: string, probe: () => Promise<{ ok: boolean; saw: string }>) => {
    results.push(await poll(`${site.name}: ${name}`, site.bootStarted, timeoutMs, probe));
  };
  await check(`Consul leader elected by the ${srv.length} servers`, async () => {
    const answers = await Promise.all(srv.map(async (v) => ({ v, leader: json<string>(await api(v, "consul", "/v1/status/leader")) ?? "", peers: json<string[]>(await api(v, "consul", "/v1/status/peers")) ?? [] })));
    const leaders = new Set(answers.map((a) => a.leader));
    const ok = answers.every((a) => a.leader !== "" && a.peers.length === srv.length) && leaders.size === 1;
    return { ok, saw: answers.map((a) => `${a.v.vm.name}: leader ${a.leader || "none"}, ${a.peers.length} peers`).join("; ") };
  });
  datedByLogs(results, site, "consul");
  await check(`Nomad leader elected by the ${srv.length} servers`, async () => {
    const answers = await Promise.all(srv.map(async (v) => ({ v, leader: json<string>(await api(v, "nomad", "/v1/status/leader")) ?? "", peers: json<string[]>(await api(v, "nomad", "/v1/status/peers")) ?? [] })));
    const ok = answers.every((a) => a.leader !== "" && a.peers.length === srv.length) && new Set(answers.map((a) => a.leader)).size === 1;
    return { ok, saw: answers.map((a) => `${a.v.vm.name}: leader ${a.leader || "none"}, ${a.peers.length} peers`).join("; ") };
  });
  datedByLogs(results, site, "nomad");
  await check("bootstrap: ACL policies and tokens created, anonymous writes refused", async () => {
    const policies = (json<{ Name: string }[]>(await api(first, "consul", "/v1/acl/policies", { token: site.consulToken })) ?? []).map((p) => p.Name);
    const want = ["consul-agents", "nomad-agents", "dns-lookups"];
    const anonKv = await api(first, "consul", "/v1/kv/rehearsal/anonymous", { method: "PUT", body: "x" });
    const nomadSelf = await api(first, "nomad", "/v1/acl/token/self", { token: site.nomadToken });
    const anonJob = await api(first, "nomad", "/v1/var/rehearsal/anonymous", { method: "PUT", body: JSON.stringify({ Items: { written: "anonymously" } }) });
    const lacking = missing(want, policies);
    const ok = lacking.length === 0 && anonKv.code === 403 && nomadSelf.code === 200 && anonJob.code === 403;
    return { ok, saw: `Consul policies ${lacking.length ? `missing ${lacking.join(", ")}` : "all there"}; anonymous KV write HTTP ${anonKv.code}; Nomad management token HTTP ${nomadSelf.code}; anonymous Nomad variable write HTTP ${anonJob.code}` };
  });
  await check(`every Consul member joined (${members.length}), gossip encrypted`, async () => {
    const seen = (json<{ Name: string; Status: number }[]>(await api(first, "consul", "/v1/agent/members", { token: site.consulToken })) ?? []).filter((m) => m.Status === 1).map((m) => m.Name);
    const keyring = json<{ NumNodes: number; Keys: Record<string, number>; Segment?: string; WAN: boolean }[]>(await api(first, "consul", "/v1/operator/keyring", { token: site.consulToken })) ?? [];
    const lan = keyring.find((k) => !k.WAN);
    const lacking = missing(members, seen);
    const keys = lan ? Object.keys(lan.Keys).length : 0;
    return { ok: lacking.length === 0 && keys >= 1, saw: `${seen.length} alive${lacking.length ? `, missing ${lacking.join(", ")}` : ""}; LAN keyring: ${keys} key(s) on ${lan?.NumNodes ?? 0} nodes` };
  });
  await check("node-exporter registered on every member", async () => {
    const nodes = (json<{ Node: string }[]>(await api(first, "consul", "/v1/catalog/service/node-exporter", { token: site.consulToken })) ?? []).map((n) => n.Node);
    const lacking = missing(members, nodes);
    return { ok: lacking.length === 0, saw: lacking.length ? `not registered on ${lacking.join(", ")}` : `registered on all ${nodes.length}` };
  });
  const clients = nomadClients(site);
  await check(`every Nomad client ready in its node class (${clients.length})`, async () => {
    const nodes = json<{ Name: string; Status: string; NodeClass: string; SchedulingEligibility: string }[]>(await api(first, "nomad", "/v1/nodes", { token: site.nomadToken })) ?? [];
    const wrong = clients.flatMap(({ vm, nodeClass }) => {
      const n = nodes.find((x) => x.Name === vm.vm.name);
      if (!n) return [`${vm.vm.name} not registered`];
      if (n.Status !== "ready" || n.SchedulingEligibility !== "eligible") return [`${vm.vm.name} ${n.Status}/${n.SchedulingEligibility}`];
      return n.NodeClass === nodeClass ? [] : [`${vm.vm.name} in class ${n.NodeClass}, declared ${nodeClass}`];
    });
    return { ok: wrong.length === 0, saw: wrong.length ? wrong.join("; ") : `${clients.length} ready (${[...new Set(clients.map((c) => c.nodeClass))].join(", ")})` };
  });
  return results;
}

/** The last check, when it passed, timed by the agents' logs (the election's own time). */
function datedByLogs(results: CheckResult[], site: SiteUnderTest, agent: "consul" | "nomad"): void {
  const last = results[results.length - 1];
  const at = leaderAt(site, agent);
  if (last.ok && at !== undefined) results[results.length - 1] = { ...last, ms: Math.max(0, at - site.bootStarted), detail: `${last.detail} (elected ${((at - site.bootStarted) / 1000).toFixed(1)} s after the boot started, by the winner's log)` };
}

const LOG_LINE = /\[(ERROR|WARN)\]/;

/**
 * Log lines that say nothing about the site: what the rehearsal leaves out on purpose (no
 * node_exporter installed, so its check is critical) or its namespaces show (no disk stats of
 * /run/netns).
 */
export const REHEARSAL_NOISE: readonly RegExp[] = [/Check is now critical: check=service:node-exporter/, /Check socket connection failed: check=service:node-exporter/, /host_stats: error fetching host disk usage stats/];

/** Words of a log entry that say why an agent cannot reach another or is refused. */
const TELLING = /join|dial|rpc|refused|timeout|denied|not found|tls|certificate|x509|no route|unreachable/i;

/**
 * The agent's log entry that best says what is wrong (an entry is a timestamped line and its
 * continuation lines, joined with " / "): errors and warnings that are not rehearsal noise,
 * those about reaching or being refused by another agent first, above all those naming the
 * address they tried, errors before warnings, the latest of equals.
 */
export function telling(log: string): string | undefined {
  const entries: string[] = [];
  for (const line of log.split("\n")) {
    if (/^\s*\d{4}-\d\d-\d\dT/.test(line) || entries.length === 0) entries.push(line.trim());
    else if (line.trim()) entries[entries.length - 1] += ` / ${line.trim()}`;
  }
  const candidates = entries.filter((l) => LOG_LINE.test(l) && !REHEARSAL_NOISE.some((n) => n.test(l)));
  let best: string | undefined;
  let bestScore = -1;
  for (const l of candidates) {
    const score = (TELLING.test(l) ? 2 : 0) + (/\b\d+\.\d+\.\d+\.\d+:\d+\b/.test(l) ? 2 : 0) + (l.includes("[ERROR]") ? 1 : 0);
    if (score >= bestScore) { best = l; bestScore = score; }
  }
  return best;
}

/**
 * Why a site is not healthy: the flows each VM's security groups dropped (source, protocol,
 * port), then per VM and agent the line that best says what went wrong, or that it stopped.
 */
export function diagnose(site: SiteUnderTest, limit = 40): string[] {
  const drops: string[] = [];
  const agents: string[] = [];
  for (const v of site.vms) {
    const dropped = v.exec(["nft", "list", "set", "inet", "port", "dropped"]).stdout;
    const flows = [...dropped.matchAll(/(\d+\.\d+\.\d+\.\d+) \. (tcp|udp) \. (\d+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    if (flows.length > 0) drops.push(`${v.vm.name}: security groups dropped ${[...new Set(flows)].slice(0, 6).join(", ")}`);
    for (const unit of v.units()) {
      const line = telling(v.log(unit));
      if (line) agents.push(`${v.vm.name} ${unit}: ${line.trim().slice(0, 300)}`);
      if (!v.running(unit)) agents.push(`${v.vm.name} ${unit}: not running`);
    }
  }
  return [...drops, ...agents].slice(0, limit);
}
/** Check 3: two sites federated over the tunnel (Consul WAN and ACL replication, Nomad regions). */
export async function federationChecks(primary: SiteUnderTest, secondary: SiteUnderTest, timeoutMs: number): Promise<CheckResult[]> {
  const p = servers(primary)[0];
  const b = servers(secondary)[0];
  const started = Math.max(primary.bootStarted, secondary.bootStarted);
  const wanNames = [...servers(primary), ...servers(secondary)].map((v) => v.vm.name);
  const name = (n: string) => `${primary.name} + ${secondary.name}: ${n}`;
  const results: CheckResult[] = [];
  results.push(await poll(name(`Consul WAN: the ${wanNames.length} servers of both sites alive, over the tunnel`), started, timeoutMs, async () => {
    const wan = (json<{ Name: string; Status: number }[]>(await api(p, "consul", "/v1/agent/members?wan=1", { token: primary.consulToken })) ?? []).filter((m) => m.Status === 1).map((m) => m.Name.split(".")[0]);
    const dcs = json<string[]>(await api(b, "consul", "/v1/catalog/datacenters", { token: primary.consulToken })) ?? [];
    const lacking = missing(wanNames, wan);
    return { ok: lacking.length === 0 && dcs.length >= 2, saw: `${wan.length} WAN members alive${lacking.length ? `, missing ${lacking.join(", ")}` : ""}; ${secondary.name} sees datacenters ${dcs.join(", ") || "none"}` };
  }));
  results.push(await poll(name(`Consul ACL replication running in ${secondary.name}`), started, timeoutMs, async () => {
    const r = json<{ Enabled: boolean; Running: boolean; ReplicatedTokenIndex: number; ReplicationType: string; LastError?: string; LastErrorMessage?: string }>(await api(b, "consul", "/v1/acl/replication", { token: primary.consulToken }));
    const ok = !!r && r.Enabled && r.Running && r.ReplicatedTokenIndex > 0 && r.ReplicationType === "tokens";
    return { ok, saw: r ? `enabled ${r.Enabled}, running ${r.Running}, type ${r.ReplicationType}, token index ${r.ReplicatedTokenIndex}${r.LastErrorMessage ? `, last error ${r.LastErrorMessage}` : ""}` : "no answer" };
  }));
  results.push(await poll(name("Nomad regions federated, ACLs replicated"), started, timeoutMs, async () => {
    const regions = json<string[]>(await api(p, "nomad", "/v1/regions", { token: primary.nomadToken })) ?? [];
    const leader = json<string>(await api(p, "nomad", `/v1/status/leader?region=${encodeURIComponent(secondaryRegion(secondary))}`, { token: primary.nomadToken })) ?? "";
    const self = await api(b, "nomad", "/v1/acl/token/self", { token: primary.nomadToken });
    return { ok: regions.length >= 2 && leader !== "" && self.code === 200, saw: `regions ${regions.join(", ") || "none"}; ${secondary.name}'s leader through ${primary.name}: ${leader || "none"}; ${primary.name}'s management token in ${secondary.name}: HTTP ${self.code}` };
  }));
  return results;
}

/** A site's Nomad region, as its servers' configuration says. */
function secondaryRegion(site: SiteUnderTest): string {
  const text = servers(site)[0].readFile("/etc/nomad.d/nomad.json");
  return text ? String((JSON.parse(text) as { region?: string }).region ?? site.name) : site.name;
}

/** The rehearsal's test job: a batch task on a client of `nodeClass`, with the raw_exec driver. */
export function testJob(datacenter: string, nodeClass: string): Record<string, unknown> {
  return {
    Job: {
      ID: "rehearsal-work",
      Name: "rehearsal-work",
      Type: "batch",
      Datacenters: [datacenter],
      Constraints: [{ LTarget: "${node.class}", RTarget: nodeClass, Operand: "=" }],
      TaskGroups: [{ Name: "work", Count: 1, Tasks: [{ Name: "echo", Driver: "raw_exec", Config: { command: "/bin/sh", args: ["-c", "echo rehearsal-ok"] }, Resources: { CPU: 50, MemoryMB: 32 } }] }],
    },
  };
}

/** Check 2's last part: the clients run work (a test job completes on a client of the class). */
export async function workCheck(site: SiteUnderTest, datacenter: string, timeoutMs: number): Promise<CheckResult> {
  const first = servers(site)[0];
  const nodeClass = nomadClients(site)[0]?.nodeClass ?? "";
  const started = Date.now();
  const submitted = await api(first, "nomad", "/v1/jobs", { method: "POST", body: JSON.stringify(testJob(datacenter, nodeClass)), token: site.nomadToken });
  if (submitted.code !== 200) return { name: `${site.name}: a test job runs on a client`, ok: false, ms: 0, detail: `submit: HTTP ${submitted.code} ${submitted.body.trim().slice(0, 200)}` };
  return poll(`${site.name}: a test job (batch, raw_exec) runs to completion on a ${nodeClass} client`, started, timeoutMs, async () => {
    const allocs = json<{ NodeName: string; ClientStatus: string; TaskStates?: Record<string, { Events?: { DisplayMessage: string }[] }> }[]>(await api(first, "nomad", "/v1/job/rehearsal-work/allocations", { token: site.nomadToken })) ?? [];
    const done = allocs.find((a) => a.ClientStatus === "complete");
    const last = allocs[0]?.TaskStates?.echo?.Events?.at(-1)?.DisplayMessage;
    return { ok: !!done, saw: done ? `completed on ${done.NodeName}` : `${allocs.length} allocation(s): ${allocs.map((a) => `${a.NodeName} ${a.ClientStatus}`).join(", ") || "none yet"}${last ? ` (${last})` : ""}` };
  });
}
