/**
 * Real tier of the platform stack: the synthesized `primary-platform` stack applied to a real
 * Consul and a real Nomad agent through their HTTP APIs.
 *
 * The consul and nomad Terraform providers cannot be built here (toolchain/versions.json,
 * `unavailable`), so `terraform apply` of a platform stack is impossible. Instead, for every
 * resource of the synthesized JSON, this test makes the API call its provider makes, against
 * agents it starts and bootstraps itself: Consul and Nomad in dev mode, loopback only, random
 * ports, HTTPS with a CA made by openssl, ACLs at default deny with management tokens the test
 * generates, Nomad connected to that Consul with workload identities (as cloud-init/agents.ts
 * configures the platform's servers).
 *
 * 1. The references the JSON holds (the infra stack's CA and tokens, generated passwords and
 *    certificates, variables, other resources' ids) are substituted by `renderTemplate`, which
 *    unescapes `$${` and `%%{` as Terraform does and refuses anything it does not know.
 * 2. Apply: every resource, in the dependency order of its references; a refusal fails the test
 *    with the agent's message. Every job also passes `POST /v1/validate/job`.
 * 3. Read back: every stored object has every declared field (policies' rules, roles' policies,
 *    intentions' sources and actions in order, KV, queries, variables, jobs' groups, tasks,
 *    services, checks, update and scaling).
 * 4. A real Nomad workload identity logs in to Consul through the synthesized auth method and
 *    binding rule, and gets exactly its workload's role and policy.
 * 5. A second synth and apply changes nothing: what the providers compare is equal, Nomad's plan
 *    API sees no diff, re-registering a job makes no new version, and no ModifyIndex moves.
 * 6. Negative controls: the agents refuse invalid policy rules, an unknown intention action and
 *    a broken job.
 * 7. Destroy: every object is deleted; the agents' listings are back to what they were before.
 *
 * Runs only with REAL_TESTS=1. A missing `consul`, `nomad` or `openssl` fails the suite.
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { createCa, describeRun, issueCert, makeTempDir, removeDir, requireTool, ROOT, run, runOk, TestCa, writeFile, freePort, sleep } from "./real-helpers";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SITE = "primary";
const STACK = `${SITE}-platform`;

// ---------------------------------------------------------------------------------------------
// Terraform templates

/** Resolves one reference of a template (e.g. `random_password.x.result`); undefined when unknown. */
type ReferenceResolver = (reference: string) => string | undefined;

/** A template this test cannot evaluate: an unknown reference, an expression, a directive. */
class TemplateError extends Error {
  constructor(
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${where}: ${problem}`);
    this.name = "TemplateError";
  }
}

/** A plain reference: `name(.attr | [index])*`, the only expressions cdktf writes in this stack. */
const REFERENCE = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*$/;

/**
 * Evaluates a string of the synthesized JSON the way Terraform does: `$${` is a literal `${`,
 * `%%{` a literal `%{`, and `${expression}` the expression's value. Expressions are the ones cdktf
 * writes in this stack: plain references, and `jsonencode(...)` of HCL literals (objects, lists,
 * strings, numbers, booleans) and references. An unknown reference, any other expression, a `%{`
 * directive or an unterminated `${` throws, naming `where`: nothing reaches an agent unresolved.
 */
function renderTemplate(template: string, resolve: ReferenceResolver, where: string): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    if (template.startsWith("$${", i) || template.startsWith("%%{", i)) {
      out += `${template[i]}{`;
      i += 3;
    } else if (template.startsWith("%{", i)) {
      throw new TemplateError(where, `template directive "${template.slice(i, i + 30)}..." at offset ${i}: not evaluated by this test`);
    } else if (template.startsWith("${", i)) {
      if (template.indexOf("}", i + 2) < 0) throw new TemplateError(where, `unterminated "\${" at offset ${i}`);
      const parser = new HclExpression(template, i + 2, resolve, where);
      const value = parser.parse();
      parser.expect("}");
      out += typeof value === "string" ? value : JSON.stringify(value);
      i = parser.pos;
    } else {
      out += template[i];
      i += 1;
    }
  }
  return out;
}

/** Terraform's jsonencode: object keys sorted. */
function terraformJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(terraformJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${terraformJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A recursive-descent reader of the HCL expressions cdktf writes (see renderTemplate). */
class HclExpression {
  constructor(
    private readonly text: string,
    public pos: number,
    private readonly resolve: ReferenceResolver,
    private readonly where: string,
  ) {}

  parse(): unknown {
    this.space();
    const c = this.text[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.list();
    if (c === '"') return this.string();
    if (/[-\d]/.test(c)) return this.number();
    const word = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*/.exec(this.text.slice(this.pos))?.[0];
    if (!word) throw new TemplateError(this.where, `unexpected "${this.text.slice(this.pos, this.pos + 20)}" in an expression`);
    this.pos += word.length;
    if (word === "true" || word === "false") return word === "true";
    if (word === "null") return null;
    this.space();
    if (this.text[this.pos] === "(") {
      if (word !== "jsonencode") throw new TemplateError(this.where, `function ${word}() is not evaluated by this test`);
      this.pos++;
      const arg = this.parse();
      this.expect(")");
      return terraformJson(arg);
    }
    if (!REFERENCE.test(word)) throw new TemplateError(this.where, `"${word}" is not a plain reference`);
    const value = this.resolve(word);
    if (value === undefined) throw new TemplateError(this.where, `unknown reference "\${${word}}"`);
    return value;
  }

  expect(token: string): void {
    this.space();
    if (!this.text.startsWith(token, this.pos)) throw new TemplateError(this.where, `expected "${token}" at offset ${this.pos}, found "${this.text.slice(this.pos, this.pos + 20)}"`);
    this.pos += token.length;
  }

  private space(): void {
    while (/\s/.test(this.text[this.pos] ?? "")) this.pos++;
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.expect("{");
    this.space();
    while (this.text[this.pos] !== "}") {
      const key = this.string();
      this.expect("=");
      out[key] = this.parse();
      this.space();
      if (this.text[this.pos] === ",") this.pos++;
      this.space();
    }
    this.pos++;
    return out;
  }

  private list(): unknown[] {
    const out: unknown[] = [];
    this.expect("[");
    this.space();
    while (this.text[this.pos] !== "]") {
      out.push(this.parse());
      this.space();
      if (this.text[this.pos] === ",") this.pos++;
      this.space();
    }
    this.pos++;
    return out;
  }

  private string(): string {
    this.expect('"');
    let out = "";
    while (this.text[this.pos] !== '"') {
      if (this.pos >= this.text.length) throw new TemplateError(this.where, "unterminated string in an expression");
      const c = this.text[this.pos];
      if (c === "\\") {
        const n = this.text[this.pos + 1];
        out += n === "n" ? "\n" : n === "t" ? "\t" : n;
        this.pos += 2;
      } else if (this.text.startsWith("${", this.pos) || this.text.startsWith("%{", this.pos)) {
        throw new TemplateError(this.where, "template inside an expression's string: not evaluated by this test");
      } else if (this.text.startsWith("$${", this.pos) || this.text.startsWith("%%{", this.pos)) {
        out += `${c}{`;
        this.pos += 3;
      } else {
        out += c;
        this.pos++;
      }
    }
    this.pos++;
    return out;
  }

  private number(): number {
    const m = /^-?\d+(\.\d+)?/.exec(this.text.slice(this.pos));
    if (!m) throw new TemplateError(this.where, "bad number in an expression");
    this.pos += m[0].length;
    return Number(m[0]);
  }
}

/** `renderTemplate` on every string (and object key) of a JSON value. */
function renderValue(value: Json, resolve: ReferenceResolver, where: string): Json {
  if (typeof value === "string") return renderTemplate(value, resolve, where);
  if (Array.isArray(value)) return value.map((v, i) => renderValue(v, resolve, `${where}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [renderTemplate(k, resolve, `${where} (key)`), renderValue(v, resolve, `${where}.${k}`)]));
  }
  return value;
}

/** The references a JSON value holds (escaped `$${...}` are not references). */
function referencesIn(value: Json): string[] {
  const found = new Set<string>();
  renderValue(value, (ref) => (found.add(ref), ""), "scan");
  return [...found].sort();
}

// ---------------------------------------------------------------------------------------------
// The synthesized stack

interface StackResource {
  readonly type: string;
  readonly name: string;
  /** `type.name`, as references and Terraform name it. */
  readonly address: string;
  /** The arguments as synthesized (unrendered), without cdktf's `//` metadata. */
  readonly args: Json;
}

function synthesize(outdir: string): Json {
  const r = run("node", ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { CDKTF_OUTDIR: outdir }, timeoutMs: 180_000 });
  if (r.status !== 0) throw new Error(`synth failed:\n${describeRun(r)}`);
  return JSON.parse(fs.readFileSync(path.join(outdir, "stacks", STACK, "cdk.tf.json"), "utf8"));
}

function resourcesOf(stack: Json): StackResource[] {
  return Object.entries(stack.resource ?? {}).flatMap(([type, byName]) =>
    Object.entries(byName as Record<string, Json>).map(([name, raw]) => {
      const { "//": _metadata, ...args } = raw; // eslint-disable-line @typescript-eslint/no-unused-vars
      return { type, name, address: `${type}.${name}`, args };
    }),
  );
}

/** The resource a reference names (`type.name.attr` → `type.name`), if it is one of the stack's. */
function referencedResource(reference: string, byAddress: ReadonlyMap<string, StackResource>): StackResource | undefined {
  const [type, name] = reference.split(".");
  return byAddress.get(`${type}.${name}`);
}

/** Resources in dependency order (what each references comes first), ties by address; throws on a cycle. */
function dependencyOrder(resources: readonly StackResource[]): StackResource[] {
  const byAddress = new Map(resources.map((r) => [r.address, r]));
  const deps = new Map(resources.map((r) => [r.address, new Set(referencesIn(r.args).flatMap((ref) => referencedResource(ref, byAddress)?.address ?? []))]));
  const ordered: StackResource[] = [];
  const done = new Set<string>();
  while (ordered.length < resources.length) {
    const ready = resources.filter((r) => !done.has(r.address) && [...(deps.get(r.address) ?? [])].every((d) => done.has(d)));
    if (ready.length === 0) throw new Error(`dependency cycle among ${resources.filter((r) => !done.has(r.address)).map((r) => r.address).join(", ")}`);
    for (const r of ready.sort((a, b) => a.address.localeCompare(b.address))) {
      ordered.push(r);
      done.add(r.address);
    }
  }
  return ordered;
}

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

/**
 * The string Go's encoding/json makes of a decoded JSON value: object keys sorted, no spaces,
 * `<`, `>`, `&`, U+2028 and U+2029 escaped. The consul provider stores `json.Marshal(Config)` as
 * an auth method's `config_json` on every read, and compares it with the configuration.
 */
function goJsonMarshal(value: Json): string {
  const sorted = (v: Json): Json =>
    Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v;
  return JSON.stringify(sorted(value)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Seconds of a Go duration string ("1h", "1h0m0s", "90s"). */
function goDurationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, "µs": 1e-6, ns: 1e-9 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a Go duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

// ---------------------------------------------------------------------------------------------
// Agents and their APIs



interface ApiResponse {
  readonly status: number;
  readonly text: string;
  readonly json: Json;
}

/** An agent's HTTPS API, as a provider configured with `address`, `ca_pem` and a token talks to it. */
class Api {
  private readonly agent: https.Agent;

  constructor(
    readonly name: string,
    readonly base: string,
    ca: string,
    private readonly headers: Readonly<Record<string, string>>,
    /** Added to every request (`dc` / `region` of the provider block). */
    private readonly params: Readonly<Record<string, string>>,
  ) {
    this.agent = new https.Agent({ ca, keepAlive: true });
  }

  /** One request; `body` is sent as JSON unless it is a string (KV values). `headers` replace the token. */
  request(method: string, route: string, body?: unknown, headers?: Readonly<Record<string, string>>): Promise<ApiResponse> {
    const url = new URL(route, this.base);
    for (const [k, v] of Object.entries(this.params)) if (!url.searchParams.has(k)) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method, agent: this.agent, headers: { ...(headers ?? this.headers), ...(payload !== undefined ? { "content-type": "application/json" } : {}) }, timeout: 30_000 },
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

/** A spawned agent, logging to a file, killed with the test process at the latest. */
class AgentProcess {
  private readonly proc: ChildProcess;
  exited: string | undefined;
  private readonly onExit = () => this.proc.kill("SIGKILL");

  constructor(
    readonly name: string,
    bin: string,
    args: readonly string[],
    readonly logFile: string,
  ) {
    const out = fs.openSync(logFile, "w");
    this.proc = spawn(bin, args, { stdio: ["ignore", out, out] });
    fs.closeSync(out);
    this.proc.on("exit", (code, signal) => (this.exited = `exited with ${code ?? signal}`));
    process.once("exit", this.onExit);
  }

  log(tail = 6000): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8").slice(-tail) : "";
  }

  /** Polls `check` (true when ready, else a status) until ready; throws with the log otherwise. */
  async waitUntil(what: string, check: () => Promise<true | string>, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (!this.exited && Date.now() < deadline) {
      try {
        const r = await check();
        if (r === true) return;
        last = r;
      } catch (e) {
        last = String(e);
      }
      await sleep(300);
    }
    throw new Error(`${this.name}: ${what} (${this.exited ?? `timed out: ${last}`}); log:\n${this.log()}`);
  }

  async stop(): Promise<void> {
    process.removeListener("exit", this.onExit);
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const done = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGINT");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 15_000);
    await done;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// What each resource type does through the API, as its provider does

/** An applied resource: what others may reference, and the key the agent knows it by. */
interface Applied {
  readonly resource: StackResource;
  /** The rendered arguments it was applied with. */
  readonly args: Json;
  readonly key: string;
  readonly attrs: Readonly<Record<string, string>>;
}

interface ResourceType {
  /** The provider's create: the API call(s). Returns the key and the referenceable attributes. */
  create(args: Json, resource: StackResource): Promise<{ key: string; attrs: Record<string, string> }>;
  /** The stored object, undefined when gone. Absent for local resources (random, tls). */
  read?(key: string): Promise<Json | undefined>;
  /** Declared against stored: one line per difference. */
  differences?(args: Json, stored: Json): string[];
  /** The agent's change marker: moves when the object is written. */
  marker?(stored: Json): string;
  /** The provider's delete. */
  destroy?(args: Json, key: string): Promise<void>;
}

interface Agents {
  readonly consul: Api;
  readonly nomad: Api;
  readonly dir: string;
}

function consulEntryExpected(args: Json, kind: string): Json {
  if (kind === "service-defaults") {
    return { Kind: kind, Name: args.name, Protocol: args.protocol, ...(args.meta ? { Meta: args.meta } : {}) };
  }
  return {
    Kind: kind,
    Name: args.name,
    ...(args.meta ? { Meta: args.meta } : {}),
    Sources: (args.sources ?? []).map((s: Json) => ({ Name: s.name, Action: s.action, Type: s.type ?? "consul", ...(s.description !== undefined ? { Description: s.description } : {}) })),
  };
}

function configEntryType(api: Api, kind: string): ResourceType {
  return {
    async create(args) {
      // The provider sends the whole entry (empty Meta included) with PUT /v1/config.
      await api.ok("PUT", "/v1/config", { ...consulEntryExpected(args, kind), Meta: args.meta ?? {} });
      return { key: args.name, attrs: { id: `${kind}-${args.name}`, name: args.name, kind } };
    },
    read: (name) => api.find(`/v1/config/${kind}/${encodeURIComponent(name)}`),
    differences(args, stored) {
      const diffs = differences(stored, consulEntryExpected(args, kind), `${kind} ${args.name}`);
      if (kind === "service-intentions") {
        // The provider's sources are a list: Consul must keep them in the declared order.
        const declared = (args.sources ?? []).map((s: Json) => s.name);
        const kept = (stored?.Sources ?? []).map((s: Json) => s.Name);
        if (JSON.stringify(declared) !== JSON.stringify(kept)) diffs.push(`${kind} ${args.name}: sources declared in the order ${declared}, stored ${kept}`);
      }
      return diffs;
    },
    marker: (stored) => String(stored.ModifyIndex),
    destroy: async (args) => void (await api.ok("DELETE", `/v1/config/${kind}/${encodeURIComponent(args.name)}`)),
  };
}

/** Local resources are generated from the arguments this test knows; any other argument fails, so that the generator is updated. */
function onlyArguments(r: StackResource, args: Json, known: readonly string[]): void {
  const unknown = Object.keys(args).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`${r.address}: arguments ${unknown.join(", ")} are not generated by this test (it knows ${known.join(", ")})`);
}

function resourceTypes({ consul, nomad, dir }: Agents): Record<string, ResourceType> {
  const openssl = (args: readonly string[]) => runOk("openssl", args, { cwd: dir });
  return {
    // Local resources: Terraform generates them; here, a random string and openssl.
    random_password: {
      async create(args, r) {
        onlyArguments(r, args, ["length", "special"]);
        const alphabet = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${args.special === false ? "" : "!#$%&*()-_=+[]{}<>:?"}`;
        const result = [...randomBytes(args.length)].map((b) => alphabet[b % alphabet.length]).join("");
        return { key: result, attrs: { result, id: "none" } };
      },
    },
    tls_private_key: {
      async create(args, r) {
        onlyArguments(r, args, ["algorithm", "ecdsa_curve"]);
        if (args.algorithm !== "ECDSA" || args.ecdsa_curve !== "P256") throw new Error(`${r.address}: only ECDSA P256 keys are generated by this test, got ${args.algorithm} ${args.ecdsa_curve}`);
        const file = path.join(dir, `${r.name}.pem`);
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
        const pem = fs.readFileSync(file, "utf8");
        return { key: file, attrs: { private_key_pem: pem, private_key_pem_pkcs8: pem, id: r.name } };
      },
    },
    tls_self_signed_cert: {
      async create(args, r) {
        onlyArguments(r, args, ["private_key_pem", "validity_period_hours", "early_renewal_hours", "allowed_uses", "dns_names", "subject"]);
        const keyFile = writeFile(dir, `${r.name}-key.pem`, args.private_key_pem, 0o600);
        const certFile = path.join(dir, `${r.name}.pem`);
        const subject = (args.subject ?? [])[0] ?? {};
        openssl([
          "req", "-x509", "-new", "-key", keyFile, "-sha256",
          "-days", String(Math.max(1, Math.floor(args.validity_period_hours / 24))),
          "-subj", `/CN=${subject.common_name ?? r.name}`,
          ...(args.dns_names?.length ? ["-addext", `subjectAltName=${args.dns_names.map((d: string) => `DNS:${d}`).join(",")}`] : []),
          "-out", certFile,
        ]);
        return { key: certFile, attrs: { cert_pem: fs.readFileSync(certFile, "utf8"), id: r.name } };
      },
    },

    consul_acl_policy: {
      async create(args) {
        const p = await consul.ok("PUT", "/v1/acl/policy", { Name: args.name, Description: args.description ?? "", Rules: args.rules, Datacenters: args.datacenters ?? [] });
        return { key: p.ID, attrs: { id: p.ID, name: p.Name } };
      },
      read: (id) => consul.find(`/v1/acl/policy/${id}`),
      differences: (args, stored) =>
        differences(stored, { Name: args.name, Description: args.description ?? "", Rules: args.rules, ...(args.datacenters ? { Datacenters: args.datacenters } : {}) }, `policy ${args.name}`),
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (_args, id) => void (await consul.ok("DELETE", `/v1/acl/policy/${id}`)),
    },
    consul_acl_role: {
      async create(args) {
        const role = await consul.ok("PUT", "/v1/acl/role", { Name: args.name, Description: args.description ?? "", Policies: (args.policies ?? []).map((ID: string) => ({ ID })) });
        return { key: role.ID, attrs: { id: role.ID, name: role.Name } };
      },
      read: (id) => consul.find(`/v1/acl/role/${id}`),
      differences(args, stored) {
        const diffs = differences(stored, { Name: args.name, Description: args.description ?? "" }, `role ${args.name}`);
        const declared = [...(args.policies ?? [])].sort();
        const linked = (stored?.Policies ?? []).map((p: Json) => p.ID).sort();
        if (JSON.stringify(declared) !== JSON.stringify(linked)) diffs.push(`role ${args.name}: policies declared ${declared}, stored ${linked}`);
        return diffs;
      },
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (_args, id) => void (await consul.ok("DELETE", `/v1/acl/role/${id}`)),
    },
    consul_acl_auth_method: {
      async create(args) {
        await consul.ok("PUT", "/v1/acl/auth-method", {
          Name: args.name,
          Type: args.type,
          DisplayName: args.display_name ?? "",
          Description: args.description ?? "",
          ...(args.max_token_ttl ? { MaxTokenTTL: args.max_token_ttl } : {}),
          ...(args.token_locality ? { TokenLocality: args.token_locality } : {}),
          Config: parseJson(args.config_json, "config_json"),
        });
        return { key: args.name, attrs: { id: `auth-method-${args.name}`, name: args.name } };
      },
      read: (name) => consul.find(`/v1/acl/auth-method/${encodeURIComponent(name)}`),
      differences(args, stored) {
        const diffs = differences(stored, { Name: args.name, Type: args.type, DisplayName: args.display_name ?? "", Description: args.description ?? "", Config: JSON.parse(args.config_json) }, `auth method ${args.name}`);
        if (args.max_token_ttl && goDurationSeconds(stored?.MaxTokenTTL ?? "0s") !== goDurationSeconds(args.max_token_ttl)) {
          diffs.push(`auth method ${args.name}: MaxTokenTTL declared ${args.max_token_ttl}, stored ${stored?.MaxTokenTTL}`);
        }
        return diffs;
      },
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (args) => void (await consul.ok("DELETE", `/v1/acl/auth-method/${encodeURIComponent(args.name)}`)),
    },
    consul_acl_binding_rule: {
      async create(args) {
        const rule = await consul.ok("PUT", "/v1/acl/binding-rule", { AuthMethod: args.auth_method, Description: args.description ?? "", Selector: args.selector ?? "", BindType: args.bind_type, BindName: args.bind_name });
        return { key: rule.ID, attrs: { id: rule.ID } };
      },
      read: (id) => consul.find(`/v1/acl/binding-rule/${id}`),
      differences: (args, stored) =>
        differences(stored, { AuthMethod: args.auth_method, Description: args.description ?? "", Selector: args.selector ?? "", BindType: args.bind_type, BindName: args.bind_name }, `binding rule ${args.bind_name}`),
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (_args, id) => void (await consul.ok("DELETE", `/v1/acl/binding-rule/${id}`)),
    },
    consul_config_entry_service_defaults: configEntryType(consul, "service-defaults"),
    consul_config_entry_service_intentions: configEntryType(consul, "service-intentions"),
    consul_key_prefix: {
      async create(args) {
        for (const [key, value] of Object.entries(args.subkeys ?? {})) await consul.ok("PUT", `/v1/kv/${args.path_prefix}${key}`, value as string);
        return { key: args.path_prefix, attrs: { id: args.path_prefix } };
      },
      read: (prefix) => consul.find(`/v1/kv/${prefix}?recurse=true`),
      differences(args, stored) {
        // The provider owns the whole prefix: keys it did not declare would be deleted.
        const kv = Object.fromEntries((stored ?? []).map((p: Json) => [p.Key.slice(args.path_prefix.length), p.Value === null ? "" : Buffer.from(p.Value, "base64").toString("utf8")]));
        return JSON.stringify(kv, Object.keys(kv).sort()) === JSON.stringify(args.subkeys, Object.keys(args.subkeys).sort())
          ? []
          : [`key prefix ${args.path_prefix}: declared ${JSON.stringify(args.subkeys)}, stored ${JSON.stringify(kv)}`];
      },
      marker: (stored) => (stored ?? []).map((p: Json) => `${p.Key}@${p.ModifyIndex}`).join(","),
      destroy: async (args) => void (await consul.ok("DELETE", `/v1/kv/${args.path_prefix}?recurse=true`)),
    },
    consul_keys: {
      async create(args) {
        // The provider writes each key with a value; the resource's id is "consul".
        for (const k of args.key ?? []) if (k.value) await consul.ok("PUT", `/v1/kv/${k.path}`, k.value);
        return { key: (args.key ?? []).map((k: Json) => k.path).join("\n"), attrs: { id: "consul" } };
      },
      async read(paths) {
        const pairs = (await Promise.all(paths.split("\n").map((p) => consul.find(`/v1/kv/${p}`)))).flatMap((found) => found ?? []);
        return pairs.length > 0 ? pairs : undefined;
      },
      differences(args, stored) {
        const kv = Object.fromEntries((stored ?? []).map((p: Json) => [p.Key, p.Value === null ? "" : Buffer.from(p.Value, "base64").toString("utf8")]));
        return (args.key ?? []).filter((k: Json) => kv[k.path] !== (k.value ?? "")).map((k: Json) => `key ${k.path}: declared ${JSON.stringify(k.value)}, stored ${JSON.stringify(kv[k.path])}`);
      },
      marker: (stored) => (stored ?? []).map((p: Json) => `${p.Key}@${p.ModifyIndex}`).join(","),
      async destroy(args) {
        // The provider deletes only the keys marked `delete = true`; the others stay in Consul.
        for (const k of args.key ?? []) if (k.delete === true) await consul.ok("DELETE", `/v1/kv/${k.path}`);
      },
    },
    consul_prepared_query: {
      async create(args) {
        const failover = args.failover;
        const q = await consul.ok("POST", "/v1/query", {
          Name: args.name,
          Session: args.session ?? "",
          Token: args.stored_token ?? "",
          Service: {
            Service: args.service,
            Near: args.near ?? "",
            OnlyPassing: args.only_passing ?? false,
            Connect: args.connect ?? false,
            Tags: args.tags ?? [],
            NodeMeta: args.node_meta ?? {},
            ServiceMeta: args.service_meta ?? {},
            IgnoreCheckIDs: args.ignore_check_ids ?? [],
            ...(failover ? { Failover: { NearestN: failover.nearest_n ?? 0, Datacenters: failover.datacenters ?? [] } } : {}),
          },
          ...(args.dns ? { DNS: { TTL: args.dns.ttl ?? "" } } : {}),
        });
        return { key: q.ID, attrs: { id: q.ID } };
      },
      read: async (id) => (await consul.find(`/v1/query/${id}`))?.[0],
      differences: (args, stored) =>
        differences(
          stored,
          {
            Name: args.name,
            Service: {
              Service: args.service,
              OnlyPassing: args.only_passing ?? false,
              ...(args.failover ? { Failover: { NearestN: args.failover.nearest_n ?? 0, Datacenters: args.failover.datacenters ?? [] } } : {}),
            },
            ...(args.dns ? { DNS: { TTL: args.dns.ttl } } : {}),
          },
          `prepared query ${args.name}`,
        ),
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (_args, id) => void (await consul.ok("DELETE", `/v1/query/${id}`)),
    },

    nomad_acl_policy: {
      async create(args) {
        const acl = args.job_acl ? { JobACL: { Namespace: args.job_acl.namespace ?? "default", JobID: args.job_acl.job_id, Group: args.job_acl.group ?? "", Task: args.job_acl.task ?? "" } } : {};
        await nomad.ok("POST", `/v1/acl/policy/${encodeURIComponent(args.name)}`, { Name: args.name, Description: args.description ?? "", Rules: args.rules_hcl, ...acl });
        return { key: args.name, attrs: { id: args.name, name: args.name } };
      },
      read: (name) => nomad.find(`/v1/acl/policy/${encodeURIComponent(name)}`),
      differences: (args, stored) =>
        differences(
          stored,
          { Name: args.name, Description: args.description ?? "", Rules: args.rules_hcl, ...(args.job_acl ? { JobACL: { Namespace: args.job_acl.namespace ?? "default", JobID: args.job_acl.job_id } } : {}) },
          `Nomad ACL policy ${args.name}`,
        ),
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (args) => void (await nomad.ok("DELETE", `/v1/acl/policy/${encodeURIComponent(args.name)}`)),
    },
    nomad_variable: {
      async create(args) {
        const v = await nomad.ok("PUT", `/v1/var/${args.path}`, { Namespace: args.namespace ?? "default", Path: args.path, Items: args.items });
        return { key: args.path, attrs: { id: args.path, path: v.Path } };
      },
      read: (p) => nomad.find(`/v1/var/${p}`),
      differences: (args, stored) => differences(stored, { Namespace: args.namespace ?? "default", Path: args.path, Items: args.items }, `Nomad variable ${args.path}`),
      marker: (stored) => String(stored.ModifyIndex),
      destroy: async (args) => void (await nomad.ok("DELETE", `/v1/var/${args.path}`)),
    },
    nomad_job: {
      async create(args) {
        const job = jobOf(args);
        const res = await nomad.ok("POST", "/v1/jobs", { Job: job });
        if (res.Warnings) throw new Error(`Nomad registered job ${job.ID} with warnings: ${res.Warnings}`);
        return { key: job.ID, attrs: { id: job.ID, name: job.ID, modify_index: String(res.JobModifyIndex) } };
      },
      read: (id) => nomad.find(`/v1/job/${encodeURIComponent(id)}`),
      differences: (args, stored) => differences(stored, expectedJob(jobOf(args)), `job ${jobOf(args).ID}`),
      marker: (stored) => `version ${stored.Version}, JobModifyIndex ${stored.JobModifyIndex}`,
      destroy: async (args, id) => void (await nomad.ok("DELETE", `/v1/job/${encodeURIComponent(id)}?purge=${args.purge_on_destroy === true}`)),
    },
  };
}

/** The job of a `nomad_job` (json = true): the jobspec parsed, `Job` root or not, namespace defaulted as the provider does. */
function jobOf(args: Json): Json {
  if (args.json !== true) throw new Error("nomad_job: only json = true jobspecs are applied by this test");
  const doc = parseJson(args.jobspec, "jobspec");
  const job = doc.Job ?? doc;
  return { ...job, Namespace: job.Namespace || "default" };
}

/**
 * A JSON string argument once Terraform has interpolated it, parsed as the provider parses it;
 * when it is not JSON any more, says so with the text around the problem.
 */
function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = Number(/position (\d+)/.exec(String(e))?.[1] ?? -1);
    const near = at >= 0 ? `, near ${JSON.stringify(text.slice(Math.max(0, at - 80), at + 40))}` : "";
    throw new Error(`${what} is not valid JSON once Terraform has interpolated its references (${(e as Error).message}${near}): the provider fails to parse it`);
  }
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

/**
 * What Nomad's plan (`POST /v1/job/<id>/plan`, Diff) finds changed, one line each. One entry is
 * not a change of anything declared: a group's `Scaling` object "Edited" with no field and no
 * object edited. Nomad 1.11 reports that for every job with a scaling block until it has been
 * registered twice (the stored policy carries the ID and raft indexes Nomad gave it, the
 * submitted one does not; checked with a bare job: without a scaling block, plan says None and
 * re-registering keeps the version; with `Scaling {Min, Max}` only, plan says Edited and
 * re-registering makes a new version). It says nothing about what the library declares.
 */
function planChanges(diff: Json): string[] {
  if (!diff || diff.Type === "None") return [];
  const edited = (o: Json) => o && o.Type !== "None";
  const bookkeeping = (o: Json) => o.Name === "Scaling" && o.Type === "Edited" && !(o.Fields ?? []).length && !(o.Objects ?? []).length;
  const out = [...(diff.Fields ?? []).filter(edited).map((f: Json) => `${f.Name}: ${f.Old} -> ${f.New}`), ...(diff.Objects ?? []).filter(edited).map((o: Json) => `${o.Name} ${o.Type}`)];
  for (const g of (diff.TaskGroups ?? []) as Json[]) {
    if (!edited(g)) continue;
    out.push(...(g.Fields ?? []).filter(edited).map((f: Json) => `group ${g.Name} ${f.Name}: ${f.Old} -> ${f.New}`));
    out.push(...(g.Objects ?? []).filter((o: Json) => edited(o) && !bookkeeping(o)).map((o: Json) => `group ${g.Name} ${o.Name} ${o.Type}: ${JSON.stringify(o).slice(0, 300)}`));
    out.push(...(g.Tasks ?? []).filter(edited).map((t: Json) => `group ${g.Name} task ${t.Name} ${t.Type}: ${JSON.stringify(t).slice(0, 300)}`));
    if (g.Type === "Added" || g.Type === "Deleted") out.push(`group ${g.Name} ${g.Type}`);
  }
  return out;
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

describe("renderTemplate: Terraform's template escapes and references, nothing unknown let through", () => {
  const known: ReferenceResolver = (ref) => ({ "random_password.db.result": "s3cret", "consul_acl_policy.p.id": "1234" })[ref];

  test("replaces a known reference and unescapes $${ and %%{ as Terraform does", () => {
    expect(renderTemplate("pw=${random_password.db.result};", known, "t")).toBe("pw=s3cret;");
    expect(renderTemplate("workload-$${value.nomad_job_id}", known, "t")).toBe("workload-${value.nomad_job_id}");
    expect(renderTemplate("%%{ if x }y%%{ endif }", known, "t")).toBe("%{ if x }y%{ endif }");
    expect(renderTemplate("$$${random_password.db.result}", known, "t")).toBe("$${random_password.db.result}");
    expect(renderTemplate("cost: 5$ or $$ {x}", known, "t")).toBe("cost: 5$ or $$ {x}");
    expect(renderValue({ a: ["${consul_acl_policy.p.id}", 3, true, null] }, known, "t")).toEqual({ a: ["1234", 3, true, null] });
  });

  test("fails on an unknown reference, naming it and where it is", () => {
    expect(() => renderTemplate("x ${random_password.other.result}", known, "nomad_variable.v.items.pw")).toThrow(
      new TemplateError("nomad_variable.v.items.pw", 'unknown reference "${random_password.other.result}"'),
    );
    expect(() => renderValue({ items: { k: "${var.missing}" } }, known, "nomad_variable.v")).toThrow(/nomad_variable\.v\.items\.k: unknown reference "\$\{var\.missing\}"/);
  });

  test("fails on what it does not evaluate: expressions, directives, unterminated interpolations", () => {
    expect(() => renderTemplate("${upper(var.x)}", known, "t")).toThrow(/function upper\(\) is not evaluated by this test/);
    expect(() => renderTemplate("${random_password.db.result + 1}", known, "t")).toThrow(/expected "}"/);
    expect(() => renderTemplate("%{ if true }x%{ endif }", known, "t")).toThrow(/template directive/);
    expect(() => renderTemplate("${random_password.db.result", known, "t")).toThrow(/unterminated/);
  });

  test("evaluates jsonencode as Terraform does: keys sorted, references resolved", () => {
    expect(renderTemplate('${jsonencode({"b" = ["x", 1, true], "a" = var.x})}', (ref) => (ref === "var.x" ? "line1\nline2" : undefined), "t")).toBe('{"a":"line1\\nline2","b":["x",1,true]}');
  });

  test("lists references, not escaped ones", () => {
    expect(referencesIn({ a: "${var.a} $${node.class}", b: ["${random_password.db.result}"] })).toEqual(["random_password.db.result", "var.a"]);
  });

  test("Go's JSON of a config: keys sorted, HTML characters escaped", () => {
    expect(goJsonMarshal({ b: 1, a: { d: ["<&>"], c: null } })).toBe('{"a":{"c":null,"d":["\\u003c\\u0026\\u003e"]},"b":1}');
    expect(goDurationSeconds("1h0m0s")).toBe(goDurationSeconds("1h"));
  });
});

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

d(`the ${STACK} stack applied to real Consul and Nomad agents`, () => {
  let dir: string | undefined;
  let ca: TestCa;
  let consulAgent: AgentProcess | undefined;
  let nomadAgent: AgentProcess | undefined;
  let consul: Api;
  let nomad: Api;
  let stack: Json;
  let ordered: StackResource[] = [];
  let types: Record<string, ResourceType> = {};
  let resolve: ReferenceResolver;
  /** The provider blocks, rendered. */
  let providers: Json = {};
  /** Applied resources, by address: Terraform's state. */
  const state = new Map<string, Applied>();
  /** The agents' listings before anything was applied. */
  let baseline: Record<string, string[]> = {};
  const secrets = { consulToken: randomUUID(), nomadToken: randomUUID(), variables: {} as Record<string, string> };
  const timings: string[] = [];

  /** Every address the stack's literal server addresses stand for: the site's first server → the test agents. */
  let localize: (value: Json) => Json = (v) => v;

  function render(resource: StackResource, target: Json = resource.args): Json {
    return localize(renderValue(target, resolve, resource.address));
  }

  /** The remote resources of a type that were applied. */
  function appliedOf(type: string): Applied[] {
    return [...state.values()].filter((a) => a.resource.type === type);
  }

  /** Names of what the agents hold, per listing. */
  async function listings(): Promise<Record<string, string[]>> {
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

  beforeAll(async () => {
    const started = Date.now();
    const consulBin = requireTool("consul");
    const nomadBin = requireTool("nomad");
    dir = makeTempDir("platform-real");
    stack = synthesize(path.join(dir, "synth-1"));
    timings.push(`synth ${Date.now() - started} ms`);

    // A CA for the cluster (the infra stack's `cluster_ca_cert`), and one certificate for both agents.
    ca = createCa(path.join(dir, "pki"), "platform test CA");
    const cert = issueCert(ca, { dnsNames: [`server.${SITE}.consul`, `server.${SITE}.nomad`, `client.${SITE}.nomad`] });
    const tls = { ca_file: writeFile(dir, "pki/ca.pem", cert.caPem), cert_file: writeFile(dir, "pki/agent.pem", cert.certPem), key_file: writeFile(dir, "pki/agent-key.pem", cert.keyPem, 0o600) };

    // Consul: dev mode, datacenter as the provider block says, HTTPS only, ACLs at default deny.
    const [cHttps, cSerfLan, cSerfWan, cServer] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const consulConfig = writeFile(
      dir,
      "consul.json",
      JSON.stringify({
        datacenter: SITE,
        node_name: "platform-test",
        bind_addr: "127.0.0.1",
        advertise_addr: "127.0.0.1",
        client_addr: "127.0.0.1",
        ports: { http: -1, https: cHttps, dns: -1, grpc: -1, grpc_tls: -1, serf_lan: cSerfLan, serf_wan: cSerfWan, server: cServer },
        tls: { defaults: { ...tls, verify_incoming: false, verify_outgoing: false } },
        // The agent token is the management token too: a test agent registering itself, nothing more.
        acl: { enabled: true, default_policy: "deny", down_policy: "extend-cache", tokens: { initial_management: secrets.consulToken, agent: secrets.consulToken } },
        disable_update_check: true,
      }),
    );
    consulAgent = new AgentProcess("consul", consulBin, ["agent", "-dev", `-config-file=${consulConfig}`], path.join(dir, "consul.log"));
    consul = new Api("Consul", `https://127.0.0.1:${cHttps}`, ca.certPem, { "X-Consul-Token": secrets.consulToken }, { dc: SITE });
    await consulAgent.waitUntil("Consul did not elect itself leader and accept the management token", async () => {
      const leader = await consul.request("GET", "/v1/status/leader");
      if (!/:\d+"$/.test(leader.text.trim())) return `leader ${leader.text}`;
      const self = await consul.request("GET", "/v1/acl/token/self");
      return self.status === 200 || `token/self ${self.status} ${self.text}`;
    });
    timings.push(`consul ready ${Date.now() - started} ms`);

    // Nomad: dev mode (server + client), region and datacenter as the provider block says, TLS,
    // ACLs, and Consul with workload identities, as cloud-init/agents.ts configures the servers.
    const [nHttp, nRpc, nSerf] = [await freePort(), await freePort(), await freePort()];
    const nomadConfig = writeFile(
      dir,
      "nomad.json",
      JSON.stringify({
        region: SITE,
        datacenter: SITE,
        name: "platform-test",
        data_dir: path.join(dir, "nomad-data"),
        bind_addr: "127.0.0.1",
        ports: { http: nHttp, rpc: nRpc, serf: nSerf },
        acl: { enabled: true },
        tls: { http: true, rpc: true, ...tls, verify_server_hostname: true, verify_https_client: false },
        consul: {
          address: `127.0.0.1:${cHttps}`,
          ssl: true,
          ca_file: tls.ca_file,
          token: secrets.consulToken,
          auto_advertise: false,
          server_auto_join: false,
          client_auto_join: false,
          service_identity: { aud: ["consul.io"], ttl: "1h" },
          task_identity: { aud: ["consul.io"], ttl: "1h" },
        },
        // No cloud metadata fingerprinting (env_aws fails when AWS_CA_BUNDLE is set).
        client: { options: { "fingerprint.denylist": "env_aws,env_gce,env_azure,env_digitalocean" } },
        disable_update_check: true,
      }),
    );
    nomadAgent = new AgentProcess("nomad", nomadBin, ["agent", "-dev", "-bind=127.0.0.1", "-network-interface=lo", `-config=${nomadConfig}`], path.join(dir, "nomad.log"));
    nomad = new Api("Nomad", `https://127.0.0.1:${nHttp}`, ca.certPem, { "X-Nomad-Token": secrets.nomadToken }, { region: SITE });
    await nomadAgent.waitUntil("Nomad did not elect itself leader", async () => {
      const leader = await nomad.request("GET", "/v1/status/leader");
      return /:\d+"$/.test(leader.text.trim()) || `leader ${leader.status} ${leader.text}`;
    });
    // `nomad acl bootstrap FILE`: the management token is the secret the test generated.
    const tokenFile = writeFile(dir, "nomad-bootstrap-token", `${secrets.nomadToken}\n`, 0o600);
    const nomadEnv = { NOMAD_ADDR: nomad.base, NOMAD_CACERT: tls.ca_file, NOMAD_REGION: SITE };
    await nomadAgent.waitUntil("nomad acl bootstrap failed", async () => {
      const r = run("nomad", ["acl", "bootstrap", tokenFile], { env: nomadEnv, timeoutMs: 30_000 });
      return (r.status === 0 && r.stdout.includes(secrets.nomadToken)) || describeRun(r);
    });
    await nomadAgent.waitUntil("Nomad's client did not become ready", async () => {
      const nodes = await nomad.ok("GET", "/v1/nodes");
      return nodes.some((n: Json) => n.Status === "ready") || `nodes ${JSON.stringify(nodes.map((n: Json) => n.Status))}`;
    });
    timings.push(`nomad ready ${Date.now() - started} ms`);

    // What the stack's references stand for.
    secrets.variables = Object.fromEntries(Object.keys(stack.variable ?? {}).map((v) => [v, `test-${v}-${randomBytes(6).toString("hex")}`]));
    const infraOutputs: ReadonlyArray<readonly [RegExp, string]> = [
      [/^cross-stack-output-tls_self_signed_cert.*cluster_ca_cert.*cert_pem$/, ca.certPem],
      [/^cross-stack-output-random_uuid.*consul-management_token.*result$/, secrets.consulToken],
      [/^cross-stack-output-random_uuid.*nomad-management_token.*result$/, secrets.nomadToken],
    ];
    const remoteState = `cross-stack-reference-input-${SITE}-infra`;
    const resources = resourcesOf(stack);
    const byAddress = new Map(resources.map((r) => [r.address, r]));
    resolve = (ref) => {
      const parts = ref.split(".");
      if (parts[0] === "data") {
        if (parts[1] !== "terraform_remote_state" || parts[2] !== remoteState || !stack.data?.terraform_remote_state?.[remoteState] || parts[3] !== "outputs" || parts.length !== 5) return undefined;
        const matches = infraOutputs.filter(([re]) => re.test(parts[4]));
        return matches.length === 1 ? matches[0][1] : undefined;
      }
      if (parts[0] === "var") return parts.length === 2 && stack.variable?.[parts[1]] ? secrets.variables[parts[1]] : undefined;
      const target = referencedResource(ref, byAddress);
      if (!target || parts.length !== 3) return undefined;
      const applied = state.get(target.address);
      if (!applied) throw new TemplateError(ref, `${target.address} is referenced before it was applied (dependency order)`);
      return applied.attrs[parts[2]];
    };
    // The stack addresses the site's first server; the test agents stand in for it.
    const consulProvider = renderValue(stack.provider.consul[0], resolve, "provider.consul");
    const nomadProvider = renderValue(stack.provider.nomad[0], resolve, "provider.nomad");
    const sites: ReadonlyArray<readonly [string, string]> = [
      [nomadProvider.address, nomad.base],
      [`${consulProvider.scheme}://${consulProvider.address}`, consul.base],
    ];
    localize = (v: Json): Json =>
      typeof v === "string" ? sites.reduce((s, [from, to]) => s.split(from).join(to), v) : Array.isArray(v) ? v.map(localize) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, localize(x)])) : v;
    providers = { consul: consulProvider, nomad: nomadProvider };

    types = resourceTypes({ consul, nomad, dir });
    ordered = dependencyOrder(resources);
    baseline = await listings();
  }, 240_000);

  afterAll(async () => {
    consul?.close();
    nomad?.close();
    await Promise.all([nomadAgent?.stop(), consulAgent?.stop()]);
    // The identity probe's allocation left Nomad's tmpfs secrets mounted in the data dir.
    if (dir) for (const mp of mountsUnder(dir)) run("umount", [mp]);
    removeDir(dir);
    // eslint-disable-next-line no-console
    if (timings.length > 0) console.log(`platform real test timings: ${timings.join("; ")}`);
  }, 60_000);

  test("the agents are the pinned Consul 1.22 and Nomad 1.11", () => {
    expect(run("consul", ["version"]).stdout).toMatch(/Consul v1\.22\./);
    expect(run("nomad", ["version"]).stdout).toMatch(/Nomad v1\.11\./);
  });

  test("the providers talk HTTPS to the site with the infra stack's CA and management tokens, in the site's datacenter and region", () => {
    expect(providers).toEqual({
      consul: expect.objectContaining({ scheme: "https", datacenter: SITE, ca_pem: ca.certPem, token: secrets.consulToken }),
      nomad: expect.objectContaining({ address: expect.stringMatching(/^https:\/\//), region: SITE, ca_pem: ca.certPem, secret_id: secrets.nomadToken }),
    });
  });

  test("every resource type of the stack is one this test applies, and every reference resolves", () => {
    const counts = Object.fromEntries(Object.entries(stack.resource).map(([t, byName]) => [t, Object.keys(byName as Json).length]));
    expect(Object.keys(counts).filter((t) => !types[t])).toEqual([]);
    expect(counts).toMatchObject({ consul_acl_policy: expect.any(Number), consul_acl_role: expect.any(Number), nomad_job: expect.any(Number) });
    // Every reference is one of: the infra stack's outputs, variables, or resources of this stack.
    const unknown = ordered.flatMap((r) =>
      referencesIn(r.args).filter((ref) => {
        try {
          return ref.startsWith("data.") || ref.startsWith("var.") ? resolve(ref) === undefined : !ordered.some((o) => ref.startsWith(`${o.address}.`));
        } catch {
          return false;
        }
      }).map((ref) => `${r.address}: ${ref}`),
    );
    expect(unknown).toEqual([]);
    // Key prefixes are owned whole by their resource: none may contain another.
    const prefixes = resourcesOf(stack).filter((r) => r.type === "consul_key_prefix").map((r) => r.args.path_prefix as string);
    expect(prefixes.filter((p) => prefixes.some((q) => q !== p && p.startsWith(q)))).toEqual([]);
  });

  test("apply: the agents accept every resource, in dependency order", async () => {
    const started = Date.now();
    const refused: string[] = [];
    const byAddress = new Map(ordered.map((r) => [r.address, r]));
    for (const resource of ordered) {
      const failed = referencesIn(resource.args).flatMap((ref) => referencedResource(ref, byAddress)?.address ?? []).filter((a) => !state.has(a));
      if (failed.length > 0) {
        refused.push(`${resource.address}: not applied: it depends on ${[...new Set(failed)].join(", ")}, which failed`);
        continue;
      }
      let args: Json;
      try {
        args = render(resource);
      } catch (e) {
        refused.push(`${resource.address}: ${(e as Error).message}`);
        continue;
      }
      if (!types[resource.type]) {
        refused.push(`${resource.address}: no API mapping for ${resource.type} in this test`);
        continue;
      }
      try {
        const created = await types[resource.type].create(args, resource);
        state.set(resource.address, { resource, args, ...created });
      } catch (e) {
        refused.push(`${resource.address}: ${(e as Error).message}`);
      }
    }
    timings.push(`apply of ${ordered.length} resources ${Date.now() - started} ms`);
    expect(refused).toEqual([]);
    expect(state.size).toBe(ordered.length);
  });

  test("every job passes Nomad's validation, without warnings", async () => {
    const problems: string[] = [];
    const jobs = ordered.filter((r) => r.type === "nomad_job");
    for (const r of jobs) {
      let job: Json;
      try {
        job = jobOf(render(r));
      } catch (e) {
        problems.push(`${r.address}: ${(e as Error).message}`);
        continue;
      }
      const res = await nomad.request("POST", "/v1/validate/job", { Job: job });
      const found = [...(res.json?.ValidationErrors ?? []), res.json?.Error ?? "", res.json?.Warnings ?? "", res.status === 200 ? "" : res.text].filter((x) => x);
      if (found.length > 0) problems.push(`${r.address}: ${found.join("; ")}`);
    }
    expect(jobs.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  test("read back: every stored object has every declared field", async () => {
    const diffs: string[] = [];
    for (const a of state.values()) {
      const type = types[a.resource.type];
      if (!type.read || !type.differences) continue;
      const stored = await type.read(a.key);
      if (stored === undefined) diffs.push(`${a.resource.address}: not found`);
      else diffs.push(...type.differences(a.args, stored).map((x) => `${a.resource.address}: ${x}`));
    }
    expect(diffs).toEqual([]);
  });

  test("the intentions allow exactly the declared sources, and deny everything else with * -> *", async () => {
    const entries: Json[] = await consul.ok("GET", "/v1/config/service-intentions");
    const declared = Object.fromEntries(appliedOf("consul_config_entry_service_intentions").map((a) => [a.args.name, a.args.sources.map((s: Json) => `${s.action} ${s.name}`)]));
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

  test("the roles link the policies of their workload, and the policies hold the declared rules", async () => {
    for (const role of appliedOf("consul_acl_role")) {
      const stored = await consul.ok("GET", `/v1/acl/role/${role.key}`);
      // Each `${consul_acl_policy.X.id}` of the role names a policy of the stack.
      const policyNames = referencesIn(role.resource.args.policies).map((ref) => state.get(ref.split(".").slice(0, 2).join("."))?.attrs.name);
      expect({ role: stored.Name, policies: stored.Policies.map((p: Json) => p.Name) }).toEqual({ role: role.args.name, policies: policyNames });
    }
    for (const policy of appliedOf("consul_acl_policy")) {
      const stored = await consul.ok("GET", `/v1/acl/policy/${policy.key}`);
      expect({ name: stored.Name, rules: JSON.parse(stored.Rules) }).toEqual({ name: policy.args.name, rules: JSON.parse(policy.args.rules) });
    }
  });

  test("the jobs have their groups, tasks, services, checks, update and scaling as declared", async () => {
    for (const a of appliedOf("nomad_job")) {
      const declared = jobOf(a.args);
      const stored = await nomad.ok("GET", `/v1/job/${encodeURIComponent(a.key)}`);
      const shape = (job: Json) =>
        (job.TaskGroups as Json[]).map((g) => ({
          group: g.Name,
          count: g.Count,
          tasks: (g.Tasks as Json[]).map((t) => `${t.Name}:${t.Driver}`).filter((t) => !t.startsWith("connect-proxy-")),
          services: (g.Services ?? []).map((s: Json) => `${s.Name}:${s.PortLabel ?? ""}:${(s.Checks ?? []).map((c: Json) => `${c.Type}${c.Path ?? ""}`).join("+")}`),
          scaling: g.Scaling ? `${g.Scaling.Min}-${g.Scaling.Max}` : undefined,
          canary: (g.Update ?? declared.Update)?.Canary ?? 0,
        }));
      expect({ job: a.key, groups: shape(stored) }).toEqual({ job: a.key, groups: shape(declared) });
      for (const g of stored.TaskGroups as Json[]) {
        for (const s of (g.Services ?? []) as Json[]) {
          // Nomad injects the Connect sidecar task next to the declared ones.
          if (s.Connect?.SidecarService) expect(g.Tasks.map((t: Json) => t.Name)).toContain(`connect-proxy-${s.Name}`);
        }
      }
    }
  });

  test("the KV prefixes, prepared queries and Nomad variables hold the declared values", async () => {
    for (const a of appliedOf("consul_key_prefix")) {
      for (const [key, value] of Object.entries(a.args.subkeys)) {
        const res = await consul.request("GET", `/v1/kv/${a.args.path_prefix}${key}?raw=true`);
        expect({ key: `${a.args.path_prefix}${key}`, status: res.status, value: res.text }).toEqual({ key: `${a.args.path_prefix}${key}`, status: 200, value });
      }
    }
    const queries: Json[] = await consul.ok("GET", "/v1/query");
    expect(queries.map((q) => `${q.Name}->${q.Service.Service} failover ${q.Service.Failover.Datacenters} ttl ${q.DNS.TTL}`).sort()).toEqual(
      appliedOf("consul_prepared_query").map((a) => `${a.args.name}->${a.args.service} failover ${a.args.failover.datacenters} ttl ${a.args.dns.ttl}`).sort(),
    );
    for (const a of appliedOf("nomad_variable")) {
      const stored = await nomad.ok("GET", `/v1/var/${a.key}`);
      expect({ path: stored.Path, keys: Object.keys(stored.Items).sort() }).toEqual({ path: a.args.path, keys: Object.keys(a.args.items).sort() });
      // Generated values arrive whole: no reference, no escape left in them.
      expect(Object.values(stored.Items).filter((v) => /\$\{|%\{/.test(v as string))).toEqual([]);
    }
    const ingress = appliedOf("nomad_variable").find((a) => a.args.items.ingress_tls_certificate);
    if (ingress) {
      const stored = await nomad.ok("GET", `/v1/var/${ingress.key}`);
      const certFile = writeFile(dir as string, "ingress-readback.pem", stored.Items.ingress_tls_certificate);
      expect(runOk("openssl", ["x509", "-in", certFile, "-noout", "-subject"]).stdout).toMatch(/CN\s*=\s*\*\./);
    }
  });

  test("a Nomad workload identity logs in to Consul through the auth method and gets exactly its workload's role", async () => {
    // GIVEN a workload with settings in KV (config/<workload>/), and its role
    const settings = appliedOf("consul_key_prefix").find((a) => /^config\/[^/]+\/$/.test(a.args.path_prefix) && appliedOf("consul_acl_role").some((r) => r.args.name.endsWith(`-${a.args.path_prefix.split("/")[1]}`)));
    expect(settings).toBeDefined();
    const workload = settings!.args.path_prefix.split("/")[1] as string;
    const role = appliedOf("consul_acl_role").find((r) => r.args.name.endsWith(`-${workload}`))!.args.name;
    const other = appliedOf("consul_key_prefix").find((a) => a !== settings)!;
    // (The auth method and its binding rules must have been applied: see the apply test otherwise.)
    expect({ appliedAuthMethods: appliedOf("consul_acl_auth_method").map((a) => a.resource.address) }).toEqual({ appliedAuthMethods: ordered.filter((r) => r.type === "consul_acl_auth_method").map((r) => r.address) });
    const authMethod = appliedOf("consul_acl_auth_method")[0].args.name;

    // WHEN a job with that workload's ID (in its own namespace, so the stack's job stays as it is)
    // runs a task with the consul_default identity, and its JWT logs in to Consul
    const namespace = "identity-probe";
    await nomad.ok("POST", "/v1/namespace", { Name: namespace, Description: "platform real test: workload identity probe" });
    const probe = {
      ID: workload,
      Name: workload,
      Namespace: namespace,
      Type: "batch",
      Datacenters: [SITE],
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
      await nomadAgent!.waitUntil("the identity probe did not run", async () => {
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
      const login = await consul.request("POST", "/v1/acl/login", { AuthMethod: authMethod, BearerToken: jwt }, {});
      expect({ status: login.status, text: login.status === 200 ? "" : login.text }).toEqual({ status: 200, text: "" });
      const token = login.json;

      // THEN the token has the workload's role only, reads the workload's settings and nothing else
      expect({ authMethod: token.AuthMethod, roles: (token.Roles ?? []).map((r: Json) => r.Name), services: token.ServiceIdentities ?? [] }).toEqual({ authMethod, roles: [role], services: [] });
      const as = { "X-Consul-Token": token.SecretID };
      const [key, value] = Object.entries(settings!.args.subkeys)[0] as [string, string];
      const otherKey = `${other.args.path_prefix}${Object.keys(other.args.subkeys)[0]}`;
      const reads = {
        own: (await consul.request("GET", `/v1/kv/${settings!.args.path_prefix}${key}?raw=true`, undefined, as)),
        write: (await consul.request("PUT", `/v1/kv/${settings!.args.path_prefix}${key}`, "changed", as)).status,
        other: (await consul.request("GET", `/v1/kv/${otherKey}?raw=true`, undefined, as)).status,
      };
      expect({ own: [reads.own.status, reads.own.text], write: reads.write, other: reads.other }).toEqual({ own: [200, value], write: 403, other: 403 });
      await consul.request("POST", "/v1/acl/logout", undefined, as);
    } finally {
      // The probe is not part of the stack: it leaves nothing behind.
      await nomad.request("DELETE", `/v1/job/${workload}?purge=true&namespace=${namespace}`);
      await nomadAgent!.waitUntil("the probe namespace could not be deleted", async () => {
        const res = await nomad.request("DELETE", `/v1/namespace/${namespace}`);
        return res.status === 200 || `${res.status} ${res.text} (alloc ${allocId})`;
      }, 60_000);
    }
  });

  test("second apply: a new synth changes nothing (providers' comparison, Nomad's plan, ModifyIndex)", async () => {
    const started = Date.now();
    // GIVEN the agents' change markers after the first apply
    const markers = async () => {
      const out: Record<string, string> = {};
      for (const a of state.values()) {
        const type = types[a.resource.type];
        if (type.read && type.marker) out[a.resource.address] = type.marker(await type.read(a.key));
      }
      return out;
    };
    const before = await markers();
    // WHEN the app is synthesized again and every resource is planned against what the agents hold
    const again = synthesize(path.join(dir as string, "synth-2"));
    const resources = resourcesOf(again);
    expect(resources.map((r) => r.address).sort()).toEqual(ordered.map((r) => r.address).sort());
    const changes: string[] = [];
    for (const r of resources) {
      const applied = state.get(r.address);
      if (!applied) continue; // refused by the first apply: reported there
      const type = types[r.type];
      const args = render(r);
      if (!type.read || !type.differences) {
        // Local resources (random, tls) are replaced only when their arguments change.
        if (JSON.stringify(r.args) !== JSON.stringify(applied.resource.args)) changes.push(`${r.address}: arguments changed, would be replaced`);
        continue;
      }
      const stored = await type.read(applied.key);
      if (stored === undefined) {
        changes.push(`${r.address}: gone, would be created`);
        continue;
      }
      changes.push(...type.differences(args, stored).map((x) => `${r.address}: ${x}`));
      if (r.type === "consul_acl_auth_method" && args.config_json !== goJsonMarshal(stored.Config)) {
        // The provider reads config_json back as json.Marshal(Config) and diffs it with the configuration as a string.
        changes.push(`${r.address}: config_json: the provider reads back ${goJsonMarshal(stored.Config).slice(0, 160)}..., the configuration holds ${args.config_json.slice(0, 160)}...: every plan updates it`);
      }
      if (r.type === "nomad_job") {
        // The provider compares the jobspec strings; Nomad compares the job itself.
        if (r.args.jobspec !== applied.resource.args.jobspec) changes.push(`${r.address}: jobspec changed between two synths`);
        const plan = await nomad.ok("POST", `/v1/job/${encodeURIComponent(applied.key)}/plan`, { Job: jobOf(args), Diff: true });
        changes.push(...planChanges(plan.Diff).map((x) => `${r.address}: Nomad plans a change: ${x}`));
        // Registering the identical job again is a no-op for Nomad: no new version. (Not for jobs
        // with a scaling block: Nomad versions those once more whatever they declare, see planChanges.)
        if (!jobOf(args).TaskGroups.some((g: Json) => g.Scaling)) {
          const res = await nomad.ok("POST", "/v1/jobs", { Job: jobOf(args) });
          if (String(res.JobModifyIndex) !== applied.attrs.modify_index) changes.push(`${r.address}: re-registering moved JobModifyIndex ${applied.attrs.modify_index} -> ${res.JobModifyIndex}`);
        }
      }
    }
    const after = await markers();
    timings.push(`second apply ${Date.now() - started} ms`);
    // THEN nothing would change and nothing did
    expect(changes).toEqual([]);
    expect(Object.keys(after).filter((k) => after[k] !== before[k]).map((k) => `${k}: ${before[k]} -> ${after[k]}`)).toEqual([]);
  });

  test("negative control: Consul refuses a policy with invalid rules", async () => {
    const policy = appliedOf("consul_acl_policy")[0].args;
    const broken = { Name: `${policy.name}-negative`, Rules: policy.rules.replace(/"(read|write)"/, '"sudo"') };
    expect(broken.Rules).not.toBe(policy.rules);
    const res = await consul.request("PUT", "/v1/acl/policy", broken);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.text).toMatch(/sudo/);
    const garbage = await consul.request("PUT", "/v1/acl/policy", { Name: `${policy.name}-negative`, Rules: 'key_prefix "x/" { policy = ' });
    expect(garbage.status).toBeGreaterThanOrEqual(400);
    expect((await consul.ok("GET", "/v1/acl/policies")).map((p: Json) => p.Name)).not.toContain(broken.Name);
  });

  test("negative control: Consul refuses an intentions entry with an unknown action", async () => {
    const entry = appliedOf("consul_config_entry_service_intentions").find((a) => a.args.name !== "*")!.args;
    const body = { ...consulEntryExpected(entry, "service-intentions"), Name: `${entry.name}-negative` };
    body.Sources[0].Action = "permit";
    const res = await consul.request("PUT", "/v1/config", body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.text).toMatch(/action/i);
    expect(await consul.find(`/v1/config/service-intentions/${body.Name}`)).toBeUndefined();
  });

  test("negative control: Nomad refuses a job with a broken field", async () => {
    const job = jobOf(appliedOf("nomad_job")[0].args);
    const broken = JSON.parse(JSON.stringify({ ...job, ID: `${job.ID}-negative`, Name: `${job.ID}-negative` }));
    broken.TaskGroups[0].Count = -1;
    broken.TaskGroups[0].Tasks[0].Resources.MemoryMB = 1;
    const registered = await nomad.request("POST", "/v1/jobs", { Job: broken });
    expect(registered.status).toBeGreaterThanOrEqual(400);
    expect(registered.text).toMatch(/count can't be negative/i);
    expect(registered.text).toMatch(/minimum MemoryMB value is 10; got 1/);
    const validated = await nomad.request("POST", "/v1/validate/job", { Job: broken });
    expect((validated.json?.ValidationErrors ?? []).join("\n")).toMatch(/count can't be negative/i);
    expect(await nomad.find(`/v1/job/${broken.ID}`)).toBeUndefined();
  });

  test("destroy: every object is deleted, and the agents hold nothing of the stack afterwards", async () => {
    const started = Date.now();
    const failures: string[] = [];
    // Reverse dependency order, as Terraform destroys.
    for (const resource of [...ordered].reverse()) {
      const applied = state.get(resource.address);
      const type = types[resource.type];
      if (!applied || !type.destroy) continue;
      try {
        await type.destroy(applied.args, applied.key);
      } catch (e) {
        failures.push(`${resource.address}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    // Jobs: purge_on_destroy = false deregisters them, Nomad keeps them stopped until its GC.
    const jobs = appliedOf("nomad_job");
    for (const a of jobs) {
      const stored = await nomad.find(`/v1/job/${encodeURIComponent(a.key)}`);
      if (a.args.purge_on_destroy === true) expect({ job: a.key, stored }).toEqual({ job: a.key, stored: undefined });
      else expect({ job: a.key, stop: stored?.Stop }).toEqual({ job: a.key, stop: true });
    }
    // The test purges what the stack left stopped, as Nomad's garbage collection would.
    for (const a of jobs) if (a.args.purge_on_destroy !== true) await nomad.ok("DELETE", `/v1/job/${encodeURIComponent(a.key)}?purge=true`);
    // Nothing of the stack is left: every object reads 404, every listing is back to the baseline.
    const left: string[] = [];
    for (const a of state.values()) {
      const type = types[a.resource.type];
      if (!type.read) continue;
      const stored = await type.read(a.key);
      if (stored !== undefined && !(Array.isArray(stored) && stored.length === 0)) {
        left.push(`${a.resource.address}: still stored${Array.isArray(stored) ? ` (${stored.map((x: Json) => x.Key ?? x.Name ?? x.ID).join(", ")})` : ""}`);
      }
    }
    expect(left).toEqual([]);
    expect(await listings()).toEqual(baseline);
    timings.push(`destroy ${Date.now() - started} ms`);
  });
});
