/**
 * Real tier of the platform layer: both synthesized platform stacks applied by the real
 * Terraform with the real consul and nomad providers, to real Consul and Nomad agents federated
 * the way the deployment federates its sites.
 *
 * - Each site is one Consul server and one Nomad server (the primary's also a Nomad client, for
 *   the workload-identity probe), with TLS on their APIs (a CA and certificates the test makes),
 *   gossip encryption, ACLs at default deny bootstrapped with tokens the test chooses. The backup
 *   datacenter is WAN-joined to the primary and replicates its ACLs with the token its
 *   configuration gives it (as cloud-init/agents.ts renders it); the backup Nomad region is
 *   federated with the authoritative primary region.
 * - The stacks name each site's first server by its private address (the providers, the JWT auth
 *   method's JWKS URL that Consul fetches). The agents and Terraform run inside a network
 *   namespace the test creates, holding those addresses on its loopback: nothing is dialed on the
 *   host's network. The test reads the agents back through Unix-socket relays into it.
 * - The platform stacks read the infra stack's outputs from its `terraform_remote_state`, as in a
 *   deployment: the test writes the state an applied infra stack would leave (outputs only: the
 *   CA, the management tokens), and does not edit the synthesized stacks.
 *
 * Steps: apply primary-platform; read every object back from the agents and compare it with what
 * Terraform holds; log in with a real workload identity; re-plan (no changes); apply
 * backup-platform, re-plan; destroy backup-platform (the primary's objects stay); destroy
 * primary-platform (nothing of either stack is left).
 *
 * Runs only with REAL_TESTS=1, as root. A missing tool fails the suite.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { AgentProcess, createCa, describeRun, gossipKey, issueCert, makeTempDir, removeDir, requireRoot, requireTool, ROOT, run, RunResult, runOk, TestCa, TestNetns, writeFile } from "./real-helpers";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const PRIMARY = "primary";
const BACKUP = "backup";
const SITES = [PRIMARY, BACKUP] as const;
type Site = (typeof SITES)[number];
const platformStack = (site: Site) => `${site}-platform`;

// ---------------------------------------------------------------------------------------------
// Comparisons

/**
 * Where `actual` lacks or differs from what `expected` declares, one line each (fields only in
 * `actual` are fine: agents add defaults). Arrays of objects are matched by a naming key when
 * every element has one, otherwise by position; arrays of scalars must be equal.
 */
function differences(actual: Json, expected: Json, at: string): string[] {
  if (expected === null || typeof expected !== "object") {
    return actual === expected ? [] : [`${at}: declared ${JSON.stringify(expected)}, stored ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    // Agents store an empty list as null.
    if (expected.length === 0 && (actual === null || actual === undefined)) return [];
    if (!Array.isArray(actual)) return [`${at}: declared an array, stored ${JSON.stringify(actual)}`];
    if (expected.every((e) => e === null || typeof e !== "object")) {
      return JSON.stringify(actual) === JSON.stringify(expected) ? [] : [`${at}: declared ${JSON.stringify(expected)}, stored ${JSON.stringify(actual)}`];
    }
    const key = ["Name", "Label", "DestinationName", "DestPath", "Attribute"].find((k) => expected.every((e) => e && typeof e === "object" && k in e));
    return expected.flatMap((e, i) => {
      if (key) {
        const match = actual.find((a: Json) => a && a[key] === e[key]);
        return match === undefined ? [`${at}: no element with ${key} ${JSON.stringify(e[key])}`] : differences(match, e, `${at}[${key}=${e[key]}]`);
      }
      return i < actual.length ? differences(actual[i], e, `${at}[${i}]`) : [`${at}[${i}]: missing`];
    });
  }
  if (actual === null || typeof actual !== "object") return [`${at}: declared an object, stored ${JSON.stringify(actual)}`];
  return Object.keys(expected).flatMap((k) => differences(actual[k], expected[k], `${at}.${k}`));
}

/** Seconds of a Go duration string ("1h", "1h0m0s", "90s"). */
function goDurationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, "µs": 1e-6, ns: 1e-9 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

/** The job of a `nomad_job` (json = true): the jobspec parsed, `Job` root or not, namespace defaulted as the provider does. */
function jobOf(values: Json): Json {
  if (values.json !== true) throw new Error("nomad_job: only json = true jobspecs are read back by this test");
  const doc = JSON.parse(values.jobspec);
  const job = doc.Job ?? doc;
  return { ...job, Namespace: job.Namespace || "default" };
}

/** What Nomad stores of a declared job: the job-level update and reschedule blocks merged into every group. */
function expectedJob(job: Json): Json {
  const { Update: jobUpdate, Reschedule: jobReschedule, ...rest } = job;
  return {
    ...rest,
    TaskGroups: (job.TaskGroups ?? []).map((g: Json) => ({
      ...g,
      ...(jobUpdate || g.Update ? { Update: { ...(jobUpdate ?? {}), ...(g.Update ?? {}) } } : {}),
      ...(jobReschedule || g.ReschedulePolicy ? { ReschedulePolicy: { ...(jobReschedule ?? {}), ...(g.ReschedulePolicy ?? {}) } } : {}),
    })),
  };
}

/** Mount points under `dir` (Nomad's tmpfs secrets of allocations), deepest first. */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mp) => mp.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

// ---------------------------------------------------------------------------------------------
// Agents and their APIs

interface ApiResponse {
  readonly status: number;
  readonly text: string;
  readonly json: Json;
}

/**
 * An agent's HTTPS API at a deployment address inside the test's namespace, reached through a
 * Unix-socket relay; the certificate is checked against that address and the test CA.
 */
class Api {
  private readonly agent: https.Agent;

  constructor(
    readonly name: string,
    /** https://<address>:<port>, as the stack names it. */
    readonly base: string,
    ca: string,
    private readonly socketPath: string,
    private readonly headers: Readonly<Record<string, string>>,
  ) {
    this.agent = new https.Agent({ ca, keepAlive: true });
  }

  /** One request; `body` is sent as JSON unless it is a string (KV values). `headers` replace the token. */
  request(method: string, route: string, body?: unknown, headers?: Readonly<Record<string, string>>): Promise<ApiResponse> {
    const url = new URL(route, this.base);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          socketPath: this.socketPath,
          headers: { ...(headers ?? this.headers), ...(payload !== undefined ? { "content-type": "application/json" } : {}) },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: Json = undefined;
            try {
              json = JSON.parse(text);
            } catch {
              /* an error message in plain text */
            }
            resolve({ status: res.statusCode ?? 0, text, json });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${this.name} ${method} ${route}: timed out`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** A request that must succeed (2xx); otherwise throws with the agent's answer. */
  async ok(method: string, route: string, body?: unknown): Promise<Json> {
    const res = await this.request(method, route, body);
    if (res.status < 200 || res.status >= 300) throw new Error(`${this.name} refused ${method} ${route}: HTTP ${res.status}: ${res.text.trim()}`);
    return res.json;
  }

  /** GET, or undefined on 404. */
  async find(route: string): Promise<Json | undefined> {
    const res = await this.request("GET", route);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`${this.name} GET ${route}: HTTP ${res.status}: ${res.text.trim()}`);
    return res.json;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One site: its servers' address, as the stack names it, and the agents standing for them. */
interface SiteAgents {
  readonly site: Site;
  readonly address: string;
  readonly consul: Api;
  readonly nomad: Api;
  readonly consulAgent: AgentProcess;
  readonly nomadAgent: AgentProcess;
}

/** Names of what a site's agents hold, per listing. */
async function listings({ consul, nomad }: SiteAgents): Promise<Record<string, string[]>> {
  const names = (items: Json, f: (x: Json) => string) => ((items ?? []) as Json[]).map(f).sort();
  const kv = await consul.request("GET", "/v1/kv/?keys=true");
  return {
    "consul acl policies": names(await consul.ok("GET", "/v1/acl/policies"), (p) => p.Name),
    "consul acl roles": names(await consul.ok("GET", "/v1/acl/roles"), (r) => r.Name),
    "consul auth methods": names(await consul.ok("GET", "/v1/acl/auth-methods"), (m) => m.Name),
    "consul binding rules": names(await consul.ok("GET", "/v1/acl/binding-rules"), (r) => `${r.AuthMethod}:${r.BindName}`),
    "consul service-defaults": names(await consul.ok("GET", "/v1/config/service-defaults"), (e) => e.Name),
    "consul service-intentions": names(await consul.ok("GET", "/v1/config/service-intentions"), (e) => e.Name),
    "consul kv": kv.status === 404 ? [] : names(kv.json, (k) => k),
    "consul prepared queries": names(await consul.ok("GET", "/v1/query"), (q) => q.Name),
    "nomad acl policies": names(await nomad.ok("GET", "/v1/acl/policies"), (p) => p.Name),
    "nomad variables": names(await nomad.ok("GET", "/v1/vars?namespace=*"), (v) => `${v.Namespace}/${v.Path}`),
    "nomad jobs": names(await nomad.ok("GET", "/v1/jobs?namespace=*"), (j) => `${j.Namespace}/${j.ID}`),
    "nomad namespaces": names(await nomad.ok("GET", "/v1/namespaces"), (n) => n.Name),
  };
}

// ---------------------------------------------------------------------------------------------
// Terraform's view

/** A resource as `terraform show -json` reports it. */
interface StateResource {
  readonly address: string;
  readonly type: string;
  readonly values: Json;
}

/**
 * How each managed resource type is read back from the agents, and what must be stored for the
 * values Terraform holds. Types without an entry are local (random, tls).
 */
type ReadBack = (values: Json, site: SiteAgents) => Promise<string[]>;

const found = (what: string, stored: Json, check: (s: Json) => string[]): string[] => (stored === undefined ? [`${what}: not found`] : check(stored));

const READ_BACK: Readonly<Record<string, ReadBack>> = {
  consul_acl_policy: async (v, { consul }) =>
    found(`policy ${v.name}`, await consul.find(`/v1/acl/policy/${v.id}`), (s) =>
      // Datacenters is a set: compared sorted.
      differences({ ...s, Datacenters: [...(s.Datacenters ?? [])].sort() }, { Name: v.name, Description: v.description ?? "", Rules: v.rules, Datacenters: [...(v.datacenters ?? [])].sort() }, `policy ${v.name}`),
    ),
  consul_acl_role: async (v, { consul }) =>
    found(`role ${v.name}`, await consul.find(`/v1/acl/role/${v.id}`), (s) => {
      const diffs = differences(s, { Name: v.name, Description: v.description ?? "" }, `role ${v.name}`);
      const declared = [...(v.policies ?? [])].sort();
      const linked = (s.Policies ?? []).map((p: Json) => p.ID).sort();
      return JSON.stringify(declared) === JSON.stringify(linked) ? diffs : [...diffs, `role ${v.name}: policies declared ${declared}, stored ${linked}`];
    }),
  consul_acl_auth_method: async (v, { consul }) =>
    found(`auth method ${v.name}`, await consul.find(`/v1/acl/auth-method/${encodeURIComponent(v.name)}`), (s) => [
      ...differences(s, { Name: v.name, Type: v.type, DisplayName: v.display_name ?? "", Description: v.description ?? "", Config: JSON.parse(v.config_json) }, `auth method ${v.name}`),
      ...(goDurationSeconds(s.MaxTokenTTL ?? "0s") === goDurationSeconds(v.max_token_ttl) ? [] : [`auth method ${v.name}: MaxTokenTTL declared ${v.max_token_ttl}, stored ${s.MaxTokenTTL}`]),
    ]),
  consul_acl_binding_rule: async (v, { consul }) =>
    found(`binding rule ${v.bind_name}`, await consul.find(`/v1/acl/binding-rule/${v.id}`), (s) =>
      differences(s, { AuthMethod: v.auth_method, Description: v.description ?? "", Selector: v.selector ?? "", BindType: v.bind_type, BindName: v.bind_name }, `binding rule ${v.bind_name}`),
    ),
  consul_config_entry_service_defaults: async (v, { consul }) =>
    found(`service-defaults ${v.name}`, await consul.find(`/v1/config/service-defaults/${encodeURIComponent(v.name)}`), (s) => differences(s, { Kind: "service-defaults", Name: v.name, Protocol: v.protocol }, `service-defaults ${v.name}`)),
  consul_config_entry_service_intentions: async (v, { consul }) =>
    found(`service-intentions ${v.name}`, await consul.find(`/v1/config/service-intentions/${encodeURIComponent(v.name)}`), (s) => {
      // The provider's sources are a list: Consul must keep them in the declared order.
      const declared = (v.sources ?? []).map((x: Json) => `${x.action} ${x.name}`);
      const stored = (s.Sources ?? []).map((x: Json) => `${x.Action} ${x.Name}`);
      return JSON.stringify(declared) === JSON.stringify(stored) ? [] : [`service-intentions ${v.name}: declared ${declared}, stored ${stored}`];
    }),
  consul_key_prefix: async (v, { consul }) =>
    found(`key prefix ${v.path_prefix}`, await consul.find(`/v1/kv/${v.path_prefix}?recurse=true`), (s) => {
      // The provider owns the whole prefix: keys it did not declare would be deleted.
      const kv = Object.fromEntries((s as Json[]).map((p) => [p.Key.slice(v.path_prefix.length), p.Value === null ? "" : Buffer.from(p.Value, "base64").toString("utf8")]));
      const sorted = (o: Json) => JSON.stringify(o, Object.keys(o).sort());
      return sorted(kv) === sorted(v.subkeys ?? {}) ? [] : [`key prefix ${v.path_prefix}: declared ${JSON.stringify(v.subkeys)}, stored ${JSON.stringify(kv)}`];
    }),
  consul_keys: async (v, { consul }) => {
    const diffs: string[] = [];
    for (const k of v.key ?? []) {
      const res = await consul.request("GET", `/v1/kv/${k.path}?raw=true`);
      if (res.status !== 200 || res.text !== (k.value ?? "")) diffs.push(`key ${k.path}: declared a value of ${String(k.value ?? "").length} characters, stored HTTP ${res.status} with ${res.text.length}`);
    }
    return diffs;
  },
  consul_prepared_query: async (v, { consul }) =>
    found(`prepared query ${v.name}`, (await consul.find(`/v1/query/${v.id}`))?.[0], (s) =>
      differences(
        s,
        {
          Name: v.name,
          Service: { Service: v.service, OnlyPassing: v.only_passing ?? false, Connect: v.connect ?? false, ...(v.failover?.length ? { Failover: { NearestN: v.failover[0].nearest_n ?? 0, Datacenters: v.failover[0].datacenters ?? [] } } : {}) },
          ...(v.dns?.length ? { DNS: { TTL: v.dns[0].ttl } } : {}),
        },
        `prepared query ${v.name}`,
      ),
    ),
  nomad_acl_policy: async (v, { nomad }) =>
    found(`Nomad ACL policy ${v.name}`, await nomad.find(`/v1/acl/policy/${encodeURIComponent(v.name)}`), (s) =>
      differences(s, { Name: v.name, Description: v.description ?? "", Rules: v.rules_hcl, ...(v.job_acl?.length ? { JobACL: { Namespace: v.job_acl[0].namespace || "default", JobID: v.job_acl[0].job_id } } : {}) }, `Nomad ACL policy ${v.name}`),
    ),
  nomad_variable: async (v, { nomad }) =>
    found(`Nomad variable ${v.path}`, await nomad.find(`/v1/var/${v.path}?namespace=${v.namespace || "default"}`), (s) => differences(s, { Namespace: v.namespace || "default", Path: v.path, Items: v.items }, `Nomad variable ${v.path}`)),
  nomad_job: async (v, { nomad }) => {
    const job = jobOf(v);
    return found(`job ${job.ID}`, await nomad.find(`/v1/job/${encodeURIComponent(job.ID)}?namespace=${job.Namespace}`), (s) => differences(s, expectedJob(job), `job ${job.ID}`));
  },
};

// ---------------------------------------------------------------------------------------------

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

d("both platform stacks applied by Terraform with the real providers to real, federated Consul and Nomad agents", () => {
  let dir = "";
  let ns: TestNetns | undefined;
  let ca: TestCa;
  const sites = new Map<Site, SiteAgents>();
  const stacks = new Map<Site, Json>();
  /** What `terraform show -json` holds after each stack's apply. */
  const applied = new Map<Site, StateResource[]>();
  /** The agents' listings: before anything, and after each step. */
  const snapshots = new Map<string, Record<string, string[]>>();
  const secrets = { consulToken: randomUUID(), nomadToken: randomUUID(), variables: {} as Record<string, string> };
  const timings: string[] = [];
  const started = Date.now();
  const mark = (what: string) => timings.push(`${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const stackDir = (site: Site) => path.join(dir, "out", "stacks", platformStack(site));
  const agentsOf = (site: Site) => sites.get(site) as SiteAgents;

  /** Terraform inside the namespace, in a stack's folder, with the stack's variables set. */
  function terraform(site: Site, args: readonly string[], dir = stackDir(site)): RunResult {
    const env: Record<string, string> = { TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
    for (const [name, value] of Object.entries(secrets.variables)) env[`TF_VAR_${name}`] = value;
    return (ns as TestNetns).exec("terraform", [`-chdir=${dir}`, ...args], { env, timeoutMs: 900_000 });
  }

  function terraformOk(site: Site, args: readonly string[], dir = stackDir(site)): RunResult {
    const r = terraform(site, args, dir);
    if (r.status !== 0) throw new Error(`terraform ${args[0]} of ${platformStack(site)} failed:\n${describeRun(r).slice(-8000)}`);
    return r;
  }

  function stateOf(site: Site): StateResource[] {
    const shown = JSON.parse(terraformOk(site, ["show", "-json", "-no-color"]).stdout);
    return ((shown.values?.root_module?.resources ?? []) as Json[]).filter((r) => r.mode === "managed").map((r) => ({ address: r.address, type: r.type, values: r.values }));
  }

  /** The listings replicated from the primary (ACLs, config entries, Nomad ACL policies). */
  const REPLICATED = ["consul acl policies", "consul acl roles", "consul service-defaults", "consul service-intentions", "nomad acl policies"];

  /** Waits until the backup holds what the primary's replicated listings hold. */
  async function replicated(): Promise<void> {
    const backup = agentsOf(BACKUP);
    await backup.consulAgent.waitUntil("the backup did not replicate the primary's ACLs and config entries", async () => {
      const [p, b] = [await listings(agentsOf(PRIMARY)), await listings(backup)];
      const differ = REPLICATED.filter((k) => JSON.stringify(p[k]) !== JSON.stringify(b[k]));
      return differ.length === 0 || `differ: ${differ.map((k) => `${k}: primary ${p[k].length}, backup ${b[k].length}`).join("; ")}`;
    }, 120_000);
  }

  /** `terraform init` and `apply` of a site's platform stack; what it holds afterwards must be every declared resource. */
  function applyStack(site: Site): void {
    terraformOk(site, ["init", "-input=false", "-no-color"]);
    const t0 = Date.now();
    terraformOk(site, ["apply", "-auto-approve", "-input=false", "-no-color"]);
    mark(`${platformStack(site)} applied in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    applied.set(site, stateOf(site));
    expect(applied.get(site)!.map((r) => r.address).sort()).toEqual(declaredAddresses(stacks.get(site)));
  }

  /** Every applied resource of `site`'s stack read back from its agents: the differences, one line each. */
  async function readBackAll(site: Site): Promise<string[]> {
    const diffs: string[] = [];
    for (const r of applied.get(site) ?? []) {
      const readBack = READ_BACK[r.type];
      if (!readBack) {
        if (!/^(random|tls)_/.test(r.type)) diffs.push(`${r.address}: no read-back for ${r.type} in this test`);
        continue;
      }
      diffs.push(...(await readBack(r.values, agentsOf(site))).map((x) => `${r.address}: ${x}`));
    }
    return diffs;
  }

  const ofType = (site: Site, type: string) => (applied.get(site) ?? []).filter((r) => r.type === type).map((r) => r.values);

  /** Every resource of the synthesized stack, as `type.name`. */
  const declaredAddresses = (stack: Json) => Object.entries(stack.resource ?? {}).flatMap(([type, byName]) => Object.keys(byName as Json).map((name) => `${type}.${name}`)).sort();

  /** What an applied infra stack leaves in its state for the platform stacks: the outputs they read. */
  function writeInfraStates(): void {
    const byState = new Map<string, Record<string, Json>>();
    const values: ReadonlyArray<readonly [RegExp, string]> = [
      [/^cross-stack-output-tls_self_signed_cert.*cluster_ca_cert.*cert_pem$/, ca.certPem],
      [/^cross-stack-output-random_uuid.*consul-management_token.*result$/, secrets.consulToken],
      [/^cross-stack-output-random_uuid.*nomad-management_token.*result$/, secrets.nomadToken],
    ];
    for (const site of SITES) {
      const stack = stacks.get(site);
      for (const [name, data] of Object.entries((stack.data?.terraform_remote_state ?? {}) as Record<string, Json>)) {
        expect({ name, backend: data.backend }).toEqual({ name, backend: "local" });
        const file = path.resolve(stackDir(site), data.config.path);
        const outputs = byState.get(file) ?? {};
        const text = JSON.stringify(stack);
        for (const m of text.matchAll(new RegExp(`data\\.terraform_remote_state\\.${name}\\.outputs\\.([\\w-]+)`, "g"))) {
          const matches = values.filter(([re]) => re.test(m[1]));
          if (matches.length !== 1) throw new Error(`${platformStack(site)} reads output ${m[1]} of ${name}, which this test does not know how to fill`);
          outputs[m[1]] = { value: matches[0][1], type: "string", sensitive: true };
        }
        byState.set(file, outputs);
      }
    }
    const version = JSON.parse(runOk("terraform", ["version", "-json"]).stdout).terraform_version;
    for (const [file, outputs] of byState) {
      fs.writeFileSync(file, JSON.stringify({ version: 4, terraform_version: version, serial: 1, lineage: randomUUID(), outputs, resources: [], check_results: null }, null, 2));
    }
  }

  /** The address of the site's first server, as the stack's providers name it. */
  function siteAddress(stack: Json): string {
    const consul = stack.provider.consul[0];
    const nomad = stack.provider.nomad[0];
    const [host, port] = String(consul.address).split(":");
    expect({ consul: `${consul.scheme}://${port}`, nomad: nomad.address }).toEqual({ consul: "https://8501", nomad: `https://${host}:4646` });
    return host;
  }

  /**
   * One site's agents at `address`, configured as cloud-init/agents.ts configures the servers in
   * the points that matter here: TLS with verify_server_hostname, gossip encryption, ACLs at
   * default deny; in the backup, the ACL primary and Nomad's authoritative region are the
   * primary's, and the servers replicate with the management tokens.
   */
  async function startSite(site: Site, address: string, keys: { consul: string; nomad: string }, primaryAddress?: string): Promise<SiteAgents> {
    const n = ns as TestNetns;
    const cert = issueCert(ca, { dnsNames: [`server.${site}.consul`, `server.${site}.nomad`, `client.${site}.nomad`], ipAddresses: [address] });
    const tls = {
      ca_file: writeFile(dir, `${site}/pki/ca.pem`, cert.caPem),
      cert_file: writeFile(dir, `${site}/pki/agent.pem`, cert.certPem),
      key_file: writeFile(dir, `${site}/pki/agent-key.pem`, cert.keyPem, 0o600),
    };
    const federated = primaryAddress !== undefined;
    const consulConfig = writeFile(
      dir,
      `${site}/consul.json`,
      JSON.stringify({
        datacenter: site,
        primary_datacenter: PRIMARY,
        node_name: `${site}-server-1`,
        data_dir: path.join(dir, site, "consul-data"),
        server: true,
        bootstrap_expect: 1,
        bind_addr: address,
        advertise_addr: address,
        client_addr: address,
        ports: { http: -1, https: 8501, grpc: -1, grpc_tls: -1, dns: -1 },
        ...(federated ? { retry_join_wan: [primaryAddress] } : {}),
        encrypt: keys.consul,
        tls: { defaults: { ...tls, verify_incoming: true, verify_outgoing: true }, internal_rpc: { verify_server_hostname: true }, https: { verify_incoming: false } },
        connect: { enabled: true },
        acl: {
          enabled: true,
          default_policy: "deny",
          down_policy: "extend-cache",
          ...(federated ? { enable_token_replication: true } : {}),
          // The agent registers itself with the management token: a test agent, nothing more.
          tokens: { agent: secrets.consulToken, ...(federated ? { replication: secrets.consulToken } : { initial_management: secrets.consulToken }) },
        },
        disable_update_check: true,
      }),
    );
    const consulLog = path.join(dir, site, "consul.log");
    const consulAgent = new AgentProcess(`consul ${site}`, n.spawn(requireTool("consul"), ["agent", `-config-file=${consulConfig}`], consulLog), consulLog);
    const consul = new Api(`Consul ${site}`, `https://${address}:8501`, ca.certPem, await n.forward(address, 8501, path.join(dir, `${site}-consul.sock`)), { "X-Consul-Token": secrets.consulToken });
    await consulAgent.waitUntil(`Consul ${site} did not elect a leader and accept the management token`, async () => {
      const leader = await consul.request("GET", "/v1/status/leader");
      if (!/:\d+"$/.test(leader.text.trim())) return `leader ${leader.text}`;
      const self = await consul.request("GET", "/v1/acl/token/self");
      return self.status === 200 || `token/self ${self.status} ${self.text}`;
    }, 120_000);
    mark(`consul ${site} ready`);

    const nomadConfig = writeFile(
      dir,
      `${site}/nomad.json`,
      JSON.stringify({
        region: site,
        datacenter: site,
        name: `${site}-server-1`,
        data_dir: path.join(dir, site, "nomad-data"),
        bind_addr: address,
        advertise: { http: address, rpc: address, serf: address },
        ports: { http: 4646, rpc: 4647, serf: 4648 },
        server: {
          enabled: true,
          bootstrap_expect: 1,
          encrypt: keys.nomad,
          ...(federated ? { authoritative_region: PRIMARY, server_join: { retry_join: [`${primaryAddress}:4648`] } } : {}),
        },
        // The primary's server is also a client: the workload-identity probe runs there.
        ...(federated
          ? {}
          : {
              client: { enabled: true, network_interface: "lo", options: { "fingerprint.denylist": "env_aws,env_gce,env_azure,env_digitalocean" } },
              plugin: [{ raw_exec: { config: { enabled: true } } }],
            }),
        acl: { enabled: true, ...(federated ? { replication_token: secrets.nomadToken } : {}) },
        tls: { http: true, rpc: true, ...tls, verify_server_hostname: true, verify_https_client: false },
        consul: {
          address: `${address}:8501`,
          ssl: true,
          ca_file: tls.ca_file,
          token: secrets.consulToken,
          auto_advertise: false,
          server_auto_join: false,
          client_auto_join: false,
          service_identity: { aud: ["consul.io"], ttl: "1h" },
          task_identity: { aud: ["consul.io"], ttl: "1h" },
        },
        disable_update_check: true,
      }),
    );
    const nomadLog = path.join(dir, site, "nomad.log");
    const nomadAgent = new AgentProcess(`nomad ${site}`, n.spawn(requireTool("nomad"), ["agent", `-config=${nomadConfig}`], nomadLog), nomadLog);
    const nomad = new Api(`Nomad ${site}`, `https://${address}:4646`, ca.certPem, await n.forward(address, 4646, path.join(dir, `${site}-nomad.sock`)), { "X-Nomad-Token": secrets.nomadToken });
    await nomadAgent.waitUntil(`Nomad ${site} did not elect a leader`, async () => {
      const leader = await nomad.request("GET", `/v1/status/leader?region=${site}`);
      return /:\d+"$/.test(leader.text.trim()) || `leader ${leader.status} ${leader.text}`;
    }, 120_000);
    mark(`nomad ${site} leader`);
    return { site, address, consul, nomad, consulAgent, nomadAgent };
  }

  beforeAll(async () => {
    requireRoot("the platform real test (a network namespace)");
    for (const tool of ["terraform", "consul", "nomad", "openssl", "ip"]) requireTool(tool);
    dir = makeTempDir("platform-real");
    const synth = run(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { CDKTF_OUTDIR: path.join(dir, "out") }, timeoutMs: 180_000 });
    if (synth.status !== 0) throw new Error(`synth failed:\n${describeRun(synth)}`);
    for (const site of SITES) stacks.set(site, JSON.parse(fs.readFileSync(path.join(stackDir(site), "cdk.tf.json"), "utf8")));
    mark("synth");

    const addresses = Object.fromEntries(SITES.map((s) => [s, siteAddress(stacks.get(s))])) as Record<Site, string>;
    ns = TestNetns.create("platform", Object.values(addresses));
    ca = createCa(path.join(dir, "pki"), "platform test CA");
    const keys = { consul: gossipKey(), nomad: gossipKey() };

    const primary = await startSite(PRIMARY, addresses[PRIMARY], keys);
    sites.set(PRIMARY, primary);
    // `nomad acl bootstrap FILE`: the management token is the secret the test generated.
    const tokenFile = writeFile(dir, "nomad-bootstrap-token", `${secrets.nomadToken}\n`, 0o600);
    const nomadEnv = { NOMAD_ADDR: primary.nomad.base, NOMAD_CACERT: path.join(dir, PRIMARY, "pki", "ca.pem"), NOMAD_REGION: PRIMARY };
    await primary.nomadAgent.waitUntil("nomad acl bootstrap failed", async () => {
      const r = ns!.exec("nomad", ["acl", "bootstrap", tokenFile], { env: nomadEnv, timeoutMs: 30_000 });
      return (r.status === 0 && r.stdout.includes(secrets.nomadToken)) || describeRun(r);
    });
    await primary.nomadAgent.waitUntil("Nomad's client did not become ready", async () => {
      const nodes = await primary.nomad.ok("GET", "/v1/nodes");
      return nodes.some((node: Json) => node.Status === "ready") || `nodes ${JSON.stringify(nodes.map((node: Json) => node.Status))}`;
    });

    const backup = await startSite(BACKUP, addresses[BACKUP], keys, addresses[PRIMARY]);
    sites.set(BACKUP, backup);
    // The backup holds no token of its own: the primary's replicate to it.
    await backup.consulAgent.waitUntil("Consul backup did not replicate the primary's management token", async () => {
      const self = await backup.consul.request("GET", "/v1/acl/token/self");
      return self.status === 200 || `token/self ${self.status} ${self.text}`;
    }, 120_000);
    await backup.nomadAgent.waitUntil("Nomad backup did not replicate the primary's management token", async () => {
      const self = await backup.nomad.request("GET", "/v1/acl/token/self");
      return self.status === 200 || `token/self ${self.status} ${self.text}`;
    }, 120_000);
    mark("federation ready");

    secrets.variables = Object.fromEntries(SITES.flatMap((s) => Object.keys(stacks.get(s).variable ?? {})).map((v) => [v, `test-${v}-${randomBytes(6).toString("hex")}`]));
    writeInfraStates();
    await replicated();
    for (const site of SITES) snapshots.set(`${site} before`, await listings(agentsOf(site)));
  }, 600_000);

  afterAll(async () => {
    for (const s of sites.values()) {
      s.consul.close();
      s.nomad.close();
    }
    await ns?.destroy();
    // The identity probe's allocation left Nomad's tmpfs secrets mounted in the data dir.
    if (dir) for (const mp of mountsUnder(dir)) run("umount", ["-l", mp]);
    removeDir(dir);
    // eslint-disable-next-line no-console
    if (timings.length > 0) console.log(`platform real test timings: ${timings.join("; ")}`);
  }, 120_000);

  test("the agents are the pinned Consul 1.22 and Nomad 1.11, federated: two WAN members, two Nomad regions", async () => {
    expect(run("consul", ["version"]).stdout).toMatch(/Consul v1\.22\./);
    expect(run("nomad", ["version"]).stdout).toMatch(/Nomad v1\.11\./);
    const wan: Json[] = await agentsOf(PRIMARY).consul.ok("GET", "/v1/agent/members?wan=1");
    expect(wan.filter((m) => m.Status === 1).map((m) => m.Tags.dc).sort()).toEqual([BACKUP, PRIMARY]);
    expect((await agentsOf(BACKUP).nomad.ok("GET", "/v1/regions")).sort()).toEqual([BACKUP, PRIMARY]);
  });

  test("the providers talk HTTPS to each site's first server, in its datacenter and region, with the infra stack's CA and tokens", () => {
    for (const site of SITES) {
      const p = stacks.get(site).provider;
      const remote = (what: string) => expect.stringMatching(new RegExp(`^\\$\\{data\\.terraform_remote_state\\.[\\w-]+\\.outputs\\.cross-stack-output-[\\w-]*${what}`));
      expect(p.consul[0]).toEqual(expect.objectContaining({ scheme: "https", datacenter: site, ca_pem: remote("cluster_ca_cert"), token: remote("consul-management_token") }));
      expect(p.nomad[0]).toEqual(expect.objectContaining({ region: site, ca_pem: remote("cluster_ca_cert"), secret_id: remote("nomad-management_token") }));
    }
  });

  /**
   * The stack as the earlier release laid it out, built from what that release had (not from the
   * moved blocks, which are what is under test): Grafana's password and its KV entry, and the
   * autoscaler's Nomad policy, at their former addresses, references included; no moved blocks.
   * Written beside the stack's folder, so that both use the same state file.
   */
  function formerLayout(site: Site): { dir: string; moves: string[] } {
    const json = JSON.parse(JSON.stringify(stacks.get(site)));
    delete json.moved;
    const find = (type: string, match: (r: Json) => boolean) => {
      const names = Object.entries((json.resource[type] ?? {}) as Record<string, Json>).filter(([, r]) => match(r)).map(([n]) => n);
      expect({ type, found: names.length }).toEqual({ type, found: 1 });
      return `${type}.${names[0]}`;
    };
    const kv = find("consul_keys", (r) => r.key?.some((k: Json) => k.path === "config/grafana/admin-password"));
    const password = /\$\{(random_password\.[\w-]+)\.result\}/.exec(JSON.stringify(json.resource.consul_keys[kv.split(".")[1]]))?.[1] as string;
    const policy = find("nomad_acl_policy", (r) => r.name === "nomad-autoscaler");
    const earlier: Record<string, string> = { [kv]: "consul_keys.grafana-admin", [password]: "random_password.grafana-admin-password", [policy]: "nomad_acl_policy.autoscaler-policy" };
    let text = JSON.stringify(json);
    for (const [now, before] of Object.entries(earlier)) text = text.split(`\${${now}.`).join(`\${${before}.`);
    const former = JSON.parse(text);
    for (const [now, before] of Object.entries(earlier)) {
      const [type, name] = now.split(".");
      former.resource[type][before.split(".")[1]] = former.resource[type][name];
      delete former.resource[type][name];
    }
    const dir = `${stackDir(site)}-former`;
    writeFile(dir, "cdk.tf.json", JSON.stringify(former, null, 2));
    return { dir, moves: Object.entries(earlier).map(([now, before]) => `${before} -> ${now}`).sort() };
  }
  let expectedMoves: string[] = [];

  test("apply primary-platform as an earlier release laid it out (the resources its moved blocks carry over at their former addresses)", () => {
    const { dir, moves } = formerLayout(PRIMARY);
    expectedMoves = moves;
    terraformOk(PRIMARY, ["init", "-input=false", "-no-color"], dir);
    terraformOk(PRIMARY, ["apply", "-auto-approve", "-input=false", "-no-color"], dir);
    mark("primary-platform applied as laid out before");
  });

  test("apply primary-platform: the moved resources are moves (Grafana's password kept), nothing is replaced, and every resource of the stack is in the state", async () => {
    const password = async () => (await agentsOf(PRIMARY).consul.request("GET", "/v1/kv/config/grafana/admin-password?raw=true")).text;
    const before = await password();
    expect(before).toMatch(/^[A-Za-z0-9]{32}$/);
    terraformOk(PRIMARY, ["init", "-input=false", "-no-color"]);
    terraformOk(PRIMARY, ["plan", "-input=false", "-no-color", "-out=carry-over.plan"]);
    const plan = JSON.parse(terraformOk(PRIMARY, ["show", "-json", "carry-over.plan"]).stdout);
    const changes = ((plan.resource_changes ?? []) as Json[]).filter((c) => c.mode === "managed");
    const moved = changes.filter((c) => c.previous_address).map((c) => `${c.previous_address} -> ${c.address}`).sort();
    expect(moved).toEqual(expectedMoves);
    expect(changes.filter((c) => c.change.actions.join() !== "no-op").map((c) => `${c.address}: ${c.change.actions.join("+")}`)).toEqual([]);
    applyStack(PRIMARY);
    expect(await password()).toBe(before);
  });

  test("read back: every object the agents store has what Terraform applied", async () => {
    expect((applied.get(PRIMARY) ?? []).length).toBeGreaterThan(100);
    expect(await readBackAll(PRIMARY)).toEqual([]);
  });

  test("every job passes Nomad's validation, without warnings", async () => {
    const problems: string[] = [];
    const jobs = ofType(PRIMARY, "nomad_job");
    for (const v of jobs) {
      const res = await agentsOf(PRIMARY).nomad.request("POST", "/v1/validate/job", { Job: jobOf(v) });
      const msgs = [...(res.json?.ValidationErrors ?? []), res.json?.Error ?? "", res.json?.Warnings ?? "", res.status === 200 ? "" : res.text].filter((x) => x);
      if (msgs.length > 0) problems.push(`${v.id}: ${msgs.join("; ")}`);
    }
    expect(jobs.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  test("the intentions allow exactly the declared sources, and deny everything else with * -> *", async () => {
    const { consul } = agentsOf(PRIMARY);
    const entries: Json[] = await consul.ok("GET", "/v1/config/service-intentions");
    const declared = Object.fromEntries(ofType(PRIMARY, "consul_config_entry_service_intentions").map((v) => [v.name, v.sources.map((s: Json) => `${s.action} ${s.name}`)]));
    const stored = Object.fromEntries(entries.map((e) => [e.Name, e.Sources.map((s: Json) => `${s.Action} ${s.Name}`)]));
    expect(stored).toEqual(declared);
    expect(stored["*"]).toEqual(["deny *"]);
    // Consul's own view: an allowed pair is allowed, an undeclared one denied.
    const [destination, sources] = Object.entries(declared).find(([name]) => name !== "*") as [string, string[]];
    const allowed = sources[0].split(" ")[1];
    const check = async (source: string) => (await consul.ok("GET", `/v1/connect/intentions/check?source=${source}&destination=${destination}`)).Allowed;
    expect(await check(allowed)).toBe(true);
    expect(await check("not-a-declared-source")).toBe(false);
  });

  test("the jobs have their groups, tasks, services, checks, update and scaling as declared", async () => {
    for (const v of ofType(PRIMARY, "nomad_job")) {
      const declared = jobOf(v);
      const stored = await agentsOf(PRIMARY).nomad.ok("GET", `/v1/job/${encodeURIComponent(declared.ID)}`);
      const shape = (job: Json) =>
        (job.TaskGroups as Json[]).map((g) => ({
          group: g.Name,
          count: g.Count,
          tasks: (g.Tasks as Json[]).map((t) => `${t.Name}:${t.Driver}`).filter((t) => !t.startsWith("connect-proxy-")),
          services: (g.Services ?? []).map((s: Json) => `${s.Name}:${s.PortLabel ?? ""}:${(s.Checks ?? []).map((c: Json) => `${c.Type}${c.Path ?? ""}`).join("+")}`),
          scaling: g.Scaling ? `${g.Scaling.Min}-${g.Scaling.Max}` : undefined,
          canary: (g.Update ?? declared.Update)?.Canary ?? 0,
        }));
      expect({ job: declared.ID, groups: shape(stored) }).toEqual({ job: declared.ID, groups: shape(declared) });
      for (const g of stored.TaskGroups as Json[]) {
        for (const s of (g.Services ?? []) as Json[]) {
          // Nomad injects the Connect sidecar task next to the declared ones.
          if (s.Connect?.SidecarService) expect(g.Tasks.map((t: Json) => t.Name)).toContain(`connect-proxy-${s.Name}`);
        }
      }
    }
  });

  test("the Nomad variables hold the generated secrets whole, and the ingress certificate is a real one", async () => {
    const { nomad } = agentsOf(PRIMARY);
    for (const v of ofType(PRIMARY, "nomad_variable")) {
      const stored = await nomad.ok("GET", `/v1/var/${v.path}`);
      expect({ path: stored.Path, keys: Object.keys(stored.Items).sort() }).toEqual({ path: v.path, keys: Object.keys(v.items).sort() });
      // Generated values arrive whole: no reference, no escape left in them.
      expect(Object.values(stored.Items).filter((x) => x === "" || /\$\{|%\{/.test(x as string))).toEqual([]);
    }
    const ingress = ofType(PRIMARY, "nomad_variable").find((v) => v.items.ingress_tls_certificate);
    if (ingress) {
      const stored = await nomad.ok("GET", `/v1/var/${ingress.path}`);
      const certFile = writeFile(dir, "ingress-readback.pem", stored.Items.ingress_tls_certificate);
      expect(runOk("openssl", ["x509", "-in", certFile, "-noout", "-subject"]).stdout).toMatch(/CN\s*=\s*\*\./);
    }
  });

  test("a Nomad workload identity logs in to Consul through the auth method and gets exactly its workload's role", async () => {
    const { consul, nomad, nomadAgent } = agentsOf(PRIMARY);
    // GIVEN a workload with settings in KV (config/<workload>/), and its role
    const prefixes = ofType(PRIMARY, "consul_key_prefix");
    const roles = ofType(PRIMARY, "consul_acl_role");
    const settings = prefixes.find((p) => /^config\/[^/]+\/$/.test(p.path_prefix) && roles.some((r) => r.name.endsWith(`-${p.path_prefix.split("/")[1]}`)));
    expect(settings).toBeDefined();
    const workload = settings.path_prefix.split("/")[1] as string;
    const role = roles.find((r) => r.name.endsWith(`-${workload}`)).name;
    const other = prefixes.find((p) => p !== settings);
    const authMethod = ofType(PRIMARY, "consul_acl_auth_method")[0].name;

    // WHEN a job with that workload's ID (in its own namespace, so the stack's job stays as it is)
    // runs a task with the consul_default identity, and its JWT logs in to Consul
    const namespace = "identity-probe";
    await nomad.ok("POST", "/v1/namespace", { Name: namespace, Description: "platform real test: workload identity probe" });
    const probe = {
      ID: workload,
      Name: workload,
      Namespace: namespace,
      Type: "batch",
      Datacenters: [PRIMARY],
      TaskGroups: [
        {
          Name: "probe",
          Count: 1,
          RestartPolicy: { Attempts: 0, Mode: "fail" },
          ReschedulePolicy: { Attempts: 0, Unlimited: false },
          Tasks: [
            {
              Name: "probe",
              Driver: "raw_exec",
              Config: { command: "/bin/sh", args: ["-c", 'cp "$NOMAD_SECRETS_DIR/nomad_consul_default.jwt" "$NOMAD_ALLOC_DIR/identity.jwt" && sleep 300'] },
              Identities: [{ Name: "consul_default", Audience: ["consul.io"], File: true, TTL: 3600e9 }],
              Resources: { CPU: 50, MemoryMB: 32 },
            },
          ],
        },
      ],
    };
    let jwt = "";
    let allocId = "";
    try {
      await nomad.ok("POST", `/v1/jobs?namespace=${namespace}`, { Job: probe });
      await nomadAgent.waitUntil("the identity probe did not run", async () => {
        const allocs: Json[] = await nomad.ok("GET", `/v1/job/${workload}/allocations?namespace=${namespace}`);
        const alloc = allocs[0];
        if (!alloc) return "no allocation yet";
        allocId = alloc.ID;
        if (alloc.ClientStatus === "failed") {
          const full = await nomad.ok("GET", `/v1/allocation/${alloc.ID}?namespace=${namespace}`);
          throw new Error(`probe failed: ${JSON.stringify(full.TaskStates)}`);
        }
        if (alloc.ClientStatus !== "running") return `allocation ${alloc.ClientStatus}`;
        const file = await nomad.request("GET", `/v1/client/fs/cat/${alloc.ID}?path=alloc/identity.jwt&namespace=${namespace}`);
        if (file.status !== 200 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(file.text.trim())) return `allocation running, identity file: ${file.status} ${file.text.slice(0, 200)}`;
        jwt = file.text.trim();
        return true;
      }, 60_000);
      // Consul fetches the JWKS from the address the stack gives (the site's first server).
      const login = await consul.request("POST", "/v1/acl/login", { AuthMethod: authMethod, BearerToken: jwt }, {});
      expect({ status: login.status, text: login.status === 200 ? "" : login.text }).toEqual({ status: 200, text: "" });
      const token = login.json;

      // THEN the token has the workload's role only, reads the workload's settings and nothing else
      expect({ authMethod: token.AuthMethod, roles: (token.Roles ?? []).map((r: Json) => r.Name), services: token.ServiceIdentities ?? [] }).toEqual({ authMethod, roles: [role], services: [] });
      const as = { "X-Consul-Token": token.SecretID };
      const [key, value] = Object.entries(settings.subkeys)[0] as [string, string];
      const otherKey = `${other.path_prefix}${Object.keys(other.subkeys)[0]}`;
      const own = await consul.request("GET", `/v1/kv/${settings.path_prefix}${key}?raw=true`, undefined, as);
      const write = (await consul.request("PUT", `/v1/kv/${settings.path_prefix}${key}`, "changed", as)).status;
      const otherRead = (await consul.request("GET", `/v1/kv/${otherKey}?raw=true`, undefined, as)).status;
      expect({ own: [own.status, own.text], write, other: otherRead }).toEqual({ own: [200, value], write: 403, other: 403 });
      await consul.request("POST", "/v1/acl/logout", undefined, as);
    } finally {
      // The probe is not part of the stack: it leaves nothing behind.
      await nomad.request("DELETE", `/v1/job/${workload}?purge=true&namespace=${namespace}`);
      await nomadAgent.waitUntil("the probe namespace could not be deleted", async () => {
        const res = await nomad.request("DELETE", `/v1/namespace/${namespace}`);
        return res.status === 200 || `${res.status} ${res.text} (alloc ${allocId})`;
      }, 60_000);
    }
  });

  test("negative controls: the agents refuse invalid policy rules, an unknown intention action and a broken job", async () => {
    const { consul, nomad } = agentsOf(PRIMARY);
    const policy = ofType(PRIMARY, "consul_acl_policy")[0];
    const broken = { Name: `${policy.name}-negative`, Rules: policy.rules.replace(/"(read|write)"/, '"sudo"') };
    expect(broken.Rules).not.toBe(policy.rules);
    const refusedPolicy = await consul.request("PUT", "/v1/acl/policy", broken);
    expect([refusedPolicy.status >= 400, refusedPolicy.text]).toEqual([true, expect.stringMatching(/sudo/)]);

    const entry = ofType(PRIMARY, "consul_config_entry_service_intentions").find((v) => v.name !== "*");
    const intention = { Kind: "service-intentions", Name: `${entry.name}-negative`, Sources: [{ Name: entry.sources[0].name, Action: "permit" }] };
    const refusedIntention = await consul.request("PUT", "/v1/config", intention);
    expect([refusedIntention.status >= 400, refusedIntention.text]).toEqual([true, expect.stringMatching(/action/i)]);

    const job = jobOf(ofType(PRIMARY, "nomad_job")[0]);
    const brokenJob = JSON.parse(JSON.stringify({ ...job, ID: `${job.ID}-negative`, Name: `${job.ID}-negative` }));
    brokenJob.TaskGroups[0].Count = -1;
    const refusedJob = await nomad.request("POST", "/v1/jobs", { Job: brokenJob });
    expect([refusedJob.status >= 400, refusedJob.text]).toEqual([true, expect.stringMatching(/count can't be negative/i)]);
    expect(await consul.find(`/v1/config/service-intentions/${intention.Name}`)).toBeUndefined();
    expect(await nomad.find(`/v1/job/${brokenJob.ID}`)).toBeUndefined();
  });

  test("re-plan primary-platform: a second plan reports no changes", () => {
    const plan = terraform(PRIMARY, ["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    expect({ status: plan.status, changes: plan.status === 0 ? "" : plan.stdout.split("\n").filter((l) => /^\s+[-+~]|must be replaced|will be (updated|created|destroyed)/.test(l)).slice(0, 60).join("\n") || plan.stderr }).toEqual({ status: 0, changes: "" });
    mark("primary-platform re-planned");
  });

  test("apply backup-platform against the federated backup datacenter and region, then re-plan: no changes", async () => {
    await replicated();
    snapshots.set("primary after its apply", await listings(agentsOf(PRIMARY)));
    snapshots.set("backup before its apply", await listings(agentsOf(BACKUP)));
    // The primary's global objects reach the backup datacenter, where its workloads log in.
    expect(snapshots.get("backup before its apply")!["consul acl roles"]).toEqual(expect.arrayContaining(ofType(PRIMARY, "consul_acl_role").map((r) => r.name)));
    applyStack(BACKUP);
    expect(await readBackAll(BACKUP)).toEqual([]);
    const plan = terraform(BACKUP, ["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    expect({ status: plan.status, out: plan.status === 0 ? "" : plan.output.slice(-4000) }).toEqual({ status: 0, out: "" });
    // Applying the backup changed nothing the primary's stack owns.
    expect(await listings(agentsOf(PRIMARY))).toEqual(snapshots.get("primary after its apply"));
  });

  test("destroy backup-platform: every object of primary-platform stays, the backup is back to what it held before", async () => {
    terraformOk(BACKUP, ["destroy", "-auto-approve", "-input=false", "-no-color"]);
    await purgeStoppedJobs(BACKUP);
    expect(await listings(agentsOf(BACKUP))).toEqual(snapshots.get("backup before its apply"));
    expect(await listings(agentsOf(PRIMARY))).toEqual(snapshots.get("primary after its apply"));
    expect(await readBackAll(PRIMARY)).toEqual([]);
  });

  test("destroy primary-platform: nothing of either stack is left in either site", async () => {
    const t0 = Date.now();
    terraformOk(PRIMARY, ["destroy", "-auto-approve", "-input=false", "-no-color"]);
    mark(`primary-platform destroyed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await purgeStoppedJobs(PRIMARY);
    expect(await listings(agentsOf(PRIMARY))).toEqual(snapshots.get(`${PRIMARY} before`));
    // Global objects leave the backup datacenter by replication.
    const backup = agentsOf(BACKUP);
    await backup.consulAgent.waitUntil("the backup still holds replicated objects of the primary's stack", async () => {
      const now = await listings(backup);
      return JSON.stringify(now) === JSON.stringify(snapshots.get(`${BACKUP} before`)) || JSON.stringify(now);
    }, 60_000);
  });

  /**
   * `terraform destroy` deregisters the jobs (purge_on_destroy = false keeps their history until
   * Nomad's garbage collection); every one must be stopped, and a forced GC then removes them.
   */
  async function purgeStoppedJobs(site: Site): Promise<void> {
    const { nomad, nomadAgent } = agentsOf(site);
    const jobs: Json[] = await nomad.ok("GET", "/v1/jobs?namespace=*");
    expect(jobs.filter((j) => j.Stop !== true).map((j) => j.ID)).toEqual([]);
    if (jobs.length === 0) return;
    await nomadAgent.waitUntil("stopped jobs were not garbage-collected", async () => {
      await nomad.ok("PUT", "/v1/system/gc");
      const left: Json[] = await nomad.ok("GET", "/v1/jobs?namespace=*");
      return left.length === 0 || `left: ${left.map((j) => `${j.ID} (${j.Status})`).join(", ")}`;
    }, 60_000);
  }
});
