/**
 * Check 4: faults, each with the time to recover. On the first rehearsed site: the leaders killed
 * (SIGKILL, as a VM that dies); two of three servers killed (writes refused with an error, then
 * one restarted: the site recovers); and, with two sites, the tunnel cut (each site keeps
 * answering locally; federation recovers when it is back). Before each, data is written (a KV
 * entry, a Nomad variable) and counted (ACL tokens, jobs); after recovery all of it is there.
 */
import { api, CheckResult, json, poll, servers, SiteUnderTest } from "./checks";
import { RehearsalVm } from "./vm";

interface Snapshot {
  readonly kv: string;
  readonly variable: string;
  readonly tokens: number;
  readonly jobs: number;
}

const KV = "/v1/kv/rehearsal/fault";
const VAR = "/v1/var/rehearsal/fault";

/** Writes a KV entry and a Nomad variable; a server without a quorum answers after its RPC hold time (7 s in Consul), hence the longer wait. */
async function write(vm: RehearsalVm, site: SiteUnderTest, mark: string, where: { kv: string; variable: string } = { kv: KV, variable: VAR }): Promise<{ consul: number; nomad: number; error: string }> {
  const [c, n] = await Promise.all([
    api(vm, "consul", where.kv, { method: "PUT", body: mark, token: site.consulToken, seconds: 20 }),
    api(vm, "nomad", where.variable, { method: "PUT", body: JSON.stringify({ Items: { mark } }), token: site.nomadToken, seconds: 20 }),
  ]);
  return { consul: c.code, nomad: n.code, error: [c.code !== 200 ? `Consul: ${c.body.trim() || c.code}` : "", n.code !== 200 ? `Nomad: ${n.body.trim() || n.code}` : ""].filter(Boolean).join("; ") };
}

async function snapshot(vm: RehearsalVm, site: SiteUnderTest): Promise<Snapshot> {
  const kv = Buffer.from((json<{ Value: string }[]>(await api(vm, "consul", KV, { token: site.consulToken })) ?? [])[0]?.Value ?? "", "base64").toString();
  const variable = (json<{ Items: { mark: string } }>(await api(vm, "nomad", VAR, { token: site.nomadToken })))?.Items.mark ?? "";
  const tokens = (json<unknown[]>(await api(vm, "consul", "/v1/acl/tokens", { token: site.consulToken })) ?? []).length;
  const jobs = (json<unknown[]>(await api(vm, "nomad", "/v1/jobs", { token: site.nomadToken })) ?? []).length;
  return { kv, variable, tokens, jobs };
}

function same(a: Snapshot, b: Snapshot): string | undefined {
  const diffs = (Object.keys(a) as (keyof Snapshot)[]).filter((k) => a[k] !== b[k]).map((k) => `${k} ${a[k]} → ${b[k]}`);
  return diffs.length ? diffs.join(", ") : undefined;
}

/** The server VM whose address the agent names as its leader. */
async function leaderOf(site: SiteUnderTest, agent: "consul" | "nomad"): Promise<RehearsalVm | undefined> {
  for (const v of servers(site)) {
    if (!v.running(agent)) continue;
    const leader = json<string>(await api(v, agent, "/v1/status/leader")) ?? "";
    const vm = servers(site).find((s) => leader.startsWith(`${s.vm.port.ip}:`));
    if (vm) return vm;
  }
  return undefined;
}

async function healthy(site: SiteUnderTest, expectServers: number): Promise<{ ok: boolean; saw: string }> {
  const alive = servers(site).filter((v) => v.running("consul"));
  const views = await Promise.all(alive.map(async (v) => ({
    v,
    consul: (json<string[]>(await api(v, "consul", "/v1/status/peers")) ?? []).length,
    nomad: (json<string[]>(await api(v, "nomad", "/v1/status/peers")) ?? []).length,
    consulLeader: json<string>(await api(v, "consul", "/v1/status/leader")) ?? "",
    nomadLeader: json<string>(await api(v, "nomad", "/v1/status/leader")) ?? "",
  })));
  const ok = views.length === servers(site).length && views.every((x) => x.consulLeader !== "" && x.nomadLeader !== "" && x.consul === expectServers && x.nomad === expectServers);
  return { ok, saw: views.map((x) => `${x.v.vm.name}: Consul leader ${x.consulLeader || "none"} (${x.consul} peers), Nomad leader ${x.nomadLeader || "none"} (${x.nomad} peers)`).join("; ") };
}

/** The faults on one site (and the tunnel between two). */
export interface Tunnel {
  /** What is cut, for the check's name. */
  readonly what: string;
  cut(): void;
  restore(): void;
}

export async function faultChecks(site: SiteUnderTest, other: SiteUnderTest | undefined, tunnel: Tunnel | undefined, timeoutMs: number): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const srv = servers(site);
  const n = srv.length;
  const name = (s: string) => `${site.name}: fault: ${s}`;

  // 1. The leaders die.
  const w1 = await write(srv[0], site, "before-leader-loss");
  const before1 = await snapshot(srv[0], site);
  const consulLeader = await leaderOf(site, "consul");
  const nomadLeader = await leaderOf(site, "nomad");
  if (!consulLeader || !nomadLeader || w1.error) {
    results.push({ name: name("leader killed"), ok: false, ms: 0, detail: `could not prepare: leaders ${consulLeader?.vm.name ?? "none"} / ${nomadLeader?.vm.name ?? "none"}; ${w1.error}` });
    return results;
  }
  const killed = Date.now();
  await consulLeader.stop("consul", "SIGKILL");
  await nomadLeader.stop("nomad", "SIGKILL");
  const other1 = srv.find((v) => v !== consulLeader && v !== nomadLeader) ?? srv.find((v) => v !== consulLeader)!;
  results.push(await poll(name(`leaders killed (Consul on ${consulLeader.vm.name}, Nomad on ${nomadLeader.vm.name}): new leaders, KV, variables, ACL tokens and jobs all there`), killed, timeoutMs, async () => {
    const cl = json<string>(await api(other1, "consul", "/v1/status/leader")) ?? "";
    const nl = json<string>(await api(other1, "nomad", "/v1/status/leader")) ?? "";
    const newLeaders = cl !== "" && !cl.startsWith(`${consulLeader.vm.port.ip}:`) && nl !== "" && !nl.startsWith(`${nomadLeader.vm.port.ip}:`);
    if (!newLeaders) return { ok: false, saw: `Consul leader ${cl || "none"}, Nomad leader ${nl || "none"}` };
    const diff = same(before1, await snapshot(other1, site));
    return { ok: !diff, saw: diff ? `changed: ${diff}` : `Consul leader ${cl}, Nomad leader ${nl}; ${before1.tokens} tokens, ${before1.jobs} jobs, KV and variable read back` };
  }));
  const restarted1 = Date.now();
  await consulLeader.start("consul");
  await nomadLeader.start("nomad");
  results.push(await poll(name(`the killed agents restarted: ${n} peers in Consul and in Nomad, both leaders`), restarted1, timeoutMs, () => healthy(site, n)));

  // 2. A quorum lost, then regained.
  // A majority killed: floor(n/2)+1 of n (2 of 3, 3 of 5), the survivor is the first server.
  const [survivor, ...others] = srv;
  const gone = others.slice(0, Math.floor(n / 2) + 1);
  const w2 = await write(survivor, site, "before-quorum-loss");
  const before2 = await snapshot(survivor, site);
  for (const v of gone) { await v.stop("consul", "SIGKILL"); await v.stop("nomad", "SIGKILL"); }
  const lost = Date.now();
  results.push(await poll(name(`${gone.length} of ${n} servers killed: writes refused with an error`), lost, timeoutMs, async () => {
    // Elsewhere than the data checked afterwards: a write refused without a quorum may still be
    // in the survivor's log, and applied once the quorum is back (Raft: its outcome is unknown).
    const w = await write(survivor, site, "during-quorum-loss", { kv: `${KV}-during-loss`, variable: `${VAR}-during-loss` });
    return { ok: w.consul >= 500 && w.nomad >= 500, saw: w.error ? w.error.replace(/\s+/g, " ").slice(0, 240) : `writes accepted (Consul ${w.consul}, Nomad ${w.nomad})` };
  }));
  const back = Date.now();
  await gone[0].start("consul");
  await gone[0].start("nomad");
  results.push(await poll(name(`${gone.length - 1 > 0 ? `${gone.length - 1} of ${gone.length}` : "the"} killed server${gone.length > 2 ? "s" : ""} restarted (${gone.slice(0, 1).map((g) => g.vm.name).join(", ")}): nothing lost, writes work again`), back, timeoutMs, async () => {
    // What was written before the loss is read back first; only then is a new mark written.
    const diff = same(before2, await snapshot(survivor, site));
    if (diff) return { ok: false, saw: `changed or not readable yet: ${diff}` };
    const w = await write(survivor, site, "after-quorum-loss");
    return { ok: !w.error && !w2.error, saw: w.error ? w.error.slice(0, 200) : `read back as written before, then written; ${before2.tokens} tokens, ${before2.jobs} jobs` };
  }));
  for (const g of gone.slice(1)) { await g.start("consul"); await g.start("nomad"); }
  results.push(await poll(name(`every server back (${gone.slice(1).map((g) => g.vm.name).join(", ")} restarted): ${n} peers in Consul and in Nomad`), Date.now(), timeoutMs, () => healthy(site, n)));

  // 3. The tunnel cut.
  if (other && tunnel) {
    const cut = Date.now();
    tunnel.cut();
    const wanAlive = async () => (json<{ Name: string; Status: number }[]>(await api(srv[0], "consul", "/v1/agent/members?wan=1", { token: site.consulToken })) ?? []).filter((m) => m.Status === 1 && m.Name.endsWith(`.${other.name}`)).length;
    const acrossDc = () => api(srv[0], "consul", `/v1/catalog/nodes?dc=${encodeURIComponent(other.name)}`, { token: site.consulToken, seconds: 12 });
    results.push(await poll(name(`tunnel cut (${tunnel.what}): each site answers locally, requests across to ${other.name} fail`), cut, timeoutMs, async () => {
      const [local, remoteLocal, across] = await Promise.all([
        api(srv[0], "consul", KV, { token: site.consulToken }),
        api(servers(other)[0], "consul", "/v1/catalog/nodes", { token: other.consulToken }),
        acrossDc(),
      ]);
      return { ok: local.code === 200 && remoteLocal.code === 200 && across.code !== 200, saw: `${site.name} KV read HTTP ${local.code}; ${other.name}'s own catalog HTTP ${remoteLocal.code}; ${site.name} → ${other.name} catalog ${across.code === 0 ? "no answer" : `HTTP ${across.code}`}${across.code >= 500 ? ` (${across.body.trim().slice(0, 120)})` : ""}` };
    }));
    const restored = Date.now();
    tunnel.restore();
    results.push(await poll(name(`tunnel back: requests across to ${other.name} answer, its servers alive over the WAN, ACL replication running`), restored, timeoutMs, async () => {
      const [across, wan, rep] = await Promise.all([acrossDc(), wanAlive(), api(servers(other)[0], "consul", "/v1/acl/replication", { token: site.consulToken })]);
      const r = json<{ Running: boolean }>(rep);
      return { ok: across.code === 200 && wan === servers(other).length && !!r?.Running, saw: `${site.name} → ${other.name} catalog HTTP ${across.code}; ${wan} of ${servers(other).length} alive over the WAN; replication running ${r?.Running ?? "unknown"}` };
    }));
  }
  return results;
}
