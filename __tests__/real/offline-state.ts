/**
 * A synthesized stack planned offline, with the real Terraform and the real providers, against a
 * state "as if deployed": what a day-2 `cdktf diff` would show on a running site, without a cloud.
 *
 * - The stack's working copy has no backend (its state is `terraform.tfstate` in the copy) and
 *   each reference to an OpenStack data source's ID is a literal (`fake-data.<type>.<name>`):
 *   Terraform reads data sources at every plan, even with `-refresh=false`, and that read needs
 *   the API. The synthesized file itself is not changed.
 * - The OpenStack provider authenticates against a tripwire: a loopback port that accepts and
 *   drops every connection, and counts them. Plans run with `-refresh=false` (the provider
 *   authenticates only when it first calls the API), so a plan that reached for the API at all
 *   shows in `ApiTripwire.connections`.
 * - The state: the stack's `tls_*` and `random_*` resources applied for real in a scratch root;
 *   every other resource planned by the real provider from that state (a creation), its unknown
 *   values filled (what a pure reference `${type.name.attr}` there names, else a fake, stable and
 *   plausible: IDs `fake-<address>`, addresses of 198.18.0.0/15), then planned again against the
 *   state until the plan is empty. The sensitive marks are those of the creation, as its apply
 *   would record them (a later plan of an attribute in ignore_changes does not say them).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { RunResult, describeRun, writeFile } from "./real-helpers";
import { mapStrings } from "../../rehearsal/evaluate";

// ---------------------------------------------------------------------------------------------
// Terraform's JSON (the parts used here)

/** `terraform show -json <plan>`: one resource's planned change. */
export interface ResourceChange {
  readonly address: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly index?: string | number;
  readonly provider_name: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before: unknown;
    readonly after: unknown;
    readonly after_unknown: unknown;
    readonly after_sensitive: unknown;
    readonly replace_paths?: readonly (readonly (string | number)[])[];
  };
}

/** `terraform show -json <plan>`. */
export interface PlanJson {
  readonly resource_changes?: readonly ResourceChange[];
  readonly output_changes?: Readonly<Record<string, { readonly actions: readonly string[]; readonly after: unknown; readonly after_unknown: unknown; readonly after_sensitive: unknown }>>;
  readonly planned_values: { readonly outputs?: Readonly<Record<string, { readonly sensitive: boolean; readonly value?: unknown }>> };
}

/** A resource of a state (format version 4). */
export interface StateResource {
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly provider: string;
  instances: { index_key?: string | number; schema_version: number; attributes: Record<string, unknown>; sensitive_attributes: unknown[] }[];
}

/** A state, format version 4. */
export interface StateV4 {
  readonly version: 4;
  readonly terraform_version: string;
  serial: number;
  readonly lineage: string;
  readonly outputs: Record<string, unknown>;
  resources: StateResource[];
}

type Json = Record<string, unknown>;
type CtyType = string | [string, unknown];
interface SchemaBlock {
  readonly attributes?: Readonly<Record<string, { readonly type: CtyType }>>;
  readonly block_types?: Readonly<Record<string, { readonly nesting_mode: string; readonly block: SchemaBlock }>>;
}
interface ResourceSchema {
  readonly version: number;
  readonly block: SchemaBlock;
}

/** The changes of a plan that are not no-ops (data source reads included). */
export const changesOf = (plan: PlanJson): ResourceChange[] => (plan.resource_changes ?? []).filter((c) => !(c.change.actions.length === 1 && c.change.actions[0] === "no-op"));

/** `address: action[,action]`, one per change: for assertion messages. */
export const describeChanges = (changes: readonly ResourceChange[]): string[] => changes.map((c) => `${c.address}: ${c.change.actions.join(",")}`);

/** The top-level attributes a change modifies (before !== after, or unknown after). */
export function changedAttributes(c: ResourceChange): string[] {
  const before = (c.change.before ?? {}) as Json;
  const after = (c.change.after ?? {}) as Json;
  const unknown = (c.change.after_unknown ?? {}) as Json;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]) || containsTrue(unknown[k])).sort();
}

const containsTrue = (v: unknown): boolean => v === true || (Array.isArray(v) ? v.some(containsTrue) : !!v && typeof v === "object" && Object.values(v).some(containsTrue));

// ---------------------------------------------------------------------------------------------
// Commands, without blocking the event loop (the tripwire answers from this process)

/** Runs `cmd args` (no shell); never throws on a non-zero exit. */
export function runAsync(cmd: string, args: readonly string[], opts: { cwd: string; env?: Readonly<Record<string, string>>; timeoutMs?: number }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, TF_IN_AUTOMATION: "1", ...(opts.env ?? {}) }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", (e) => (stderr += `\n[${e.message}]`));
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ command: [cmd, ...args].join(" "), status, signal, stdout, stderr, output: `${stdout}${stderr}`, durationMs: Date.now() - started });
    });
  });
}

async function runAsyncOk(cmd: string, args: readonly string[], opts: { cwd: string; env?: Readonly<Record<string, string>>; timeoutMs?: number }): Promise<RunResult> {
  const r = await runAsync(cmd, args, opts);
  if (r.status !== 0) throw new Error(`command failed:\n${describeRun(r)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The tripwire the OpenStack provider authenticates against

/** A loopback port that accepts and drops every connection: what a plan must never reach. */
export class ApiTripwire {
  connections = 0;

  private constructor(
    private readonly server: net.Server,
    /** The port on 127.0.0.1. */
    readonly port: number,
  ) {}

  static async start(): Promise<ApiTripwire> {
    let tripwire: ApiTripwire | undefined;
    const server = net.createServer((socket) => {
      if (tripwire) tripwire.connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    tripwire = new ApiTripwire(server, (server.address() as net.AddressInfo).port);
    return tripwire;
  }

  /** A clouds.yaml whose every `clouds` entry authenticates at the tripwire. */
  cloudsYaml(clouds: readonly string[]): string {
    const entry = (c: string) =>
      [`  ${c}:`, "    auth:", `      auth_url: http://127.0.0.1:${this.port}/v3`, "      username: offline", "      password: offline", "      project_name: offline", "      user_domain_name: Default", "      project_domain_name: Default"].join("\n");
    return `clouds:\n${clouds.map(entry).join("\n")}\n`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

// ---------------------------------------------------------------------------------------------
// A stack's offline working copy

/** A data source reference in Terraform JSON: `data.<type>.<name>.<attr>`. */
const DATA_REF = /\bdata\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)/g;


/**
 * The stack's Terraform JSON without its backend, and with each reference to an OpenStack data
 * source's `id` written as a literal (the only attribute an infra stack reads of one); any other
 * data source, or attribute, is an error naming it. Returns the JSON and the substitutions made.
 */
export function offlineJson(stack: Json): { json: Json; substituted: string[] } {
  const data = (stack.data ?? {}) as Record<string, Record<string, unknown>>;
  for (const type of Object.keys(data)) {
    if (!type.startsWith("openstack_")) throw new Error(`offline plan: the stack has a data source ${type} that cannot be read offline`);
  }
  const substituted = new Set<string>();
  const rewrite = (s: string) =>
    s.replace(DATA_REF, (whole, type: string, name: string, attr: string) => {
      if (!data[type]?.[name]) throw new Error(`offline plan: ${whole} names no data source of the stack`);
      if (attr !== "id") throw new Error(`offline plan: ${whole}: only the id of a data source has an offline value`);
      substituted.add(`data.${type}.${name}.id`);
      // Inside an interpolation `${...}`: a string literal there.
      return `"fake-data.${type}.${name}"`;
    });
  const json: Json = {};
  for (const [key, value] of Object.entries(stack)) {
    if (key === "data") continue;
    json[key] = key === "terraform" ? Object.fromEntries(Object.entries(value as Json).filter(([k]) => k !== "backend")) : mapStrings(value, rewrite);
  }
  return { json, substituted: [...substituted].sort() };
}

export interface OfflineOptions {
  /** Added to Terraform's environment: OS_CLIENT_CONFIG_FILE (the tripwire's clouds.yaml), TF_VAR_* of the stack's variables. */
  readonly env: Readonly<Record<string, string>>;
  /** Leave the stack's outputs out of the working copy (no resource's plan reads one). @default false */
  readonly withoutOutputs?: boolean;
}

/** A working copy of a synthesized stack, initialized, that plans offline against a given state. */
export class OfflineStack {
  private plans = 0;

  private constructor(
    readonly dir: string,
    private readonly env: Readonly<Record<string, string>>,
    /** The data source references written as literals. */
    readonly substituted: readonly string[],
  ) {}

  /** Copies `stackDir`'s cdk.tf.json into `dir` (offlineJson) and runs `terraform init` there. */
  static async prepare(stackDir: string, dir: string, opts: OfflineOptions): Promise<OfflineStack> {
    const stack = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as Json;
    const { json, substituted } = offlineJson(stack);
    if (opts.withoutOutputs) delete json.output;
    writeFile(dir, "cdk.tf.json", JSON.stringify(json, null, 2));
    await runAsyncOk("terraform", ["init", "-input=false", "-no-color"], { cwd: dir, env: opts.env });
    return new OfflineStack(dir, opts.env, substituted);
  }

  /** `terraform plan -refresh=false [args]` against `state` (none: an empty one), as JSON. Throws with Terraform's output when the plan fails. */
  async plan(state: StateV4 | undefined, args: readonly string[] = []): Promise<PlanJson> {
    const statePath = path.join(this.dir, "terraform.tfstate");
    if (state) fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
    else fs.rmSync(statePath, { force: true });
    const out = `plan-${++this.plans}.tfplan`;
    const plan = await runAsync("terraform", ["plan", "-refresh=false", "-input=false", "-no-color", "-lock=false", ...args, `-out=${out}`], { cwd: this.dir, env: this.env });
    // What it planned is long: its errors say why it failed.
    if (plan.status !== 0) throw new Error(`terraform plan in ${this.dir} failed (exit ${plan.status ?? plan.signal}):\n${plan.stderr.trim()}`);
    const show = await runAsyncOk("terraform", ["show", "-json", out], { cwd: this.dir, env: this.env });
    return JSON.parse(show.stdout) as PlanJson;
  }

  /** `terraform providers schema -json`: each resource type's schema, by type. */
  async resourceSchemas(): Promise<Map<string, ResourceSchema>> {
    const r = await runAsyncOk("terraform", ["providers", "schema", "-json"], { cwd: this.dir, env: this.env });
    const json = JSON.parse(r.stdout) as { provider_schemas: Record<string, { resource_schemas?: Record<string, ResourceSchema> }> };
    return new Map(Object.values(json.provider_schemas).flatMap((p) => Object.entries(p.resource_schemas ?? {})));
  }

  /** The scratch root of the stack's tls_* and random_* resources, applied; its state. */
  private async appliedSecrets(scratchDir: string): Promise<StateV4> {
    const stack = JSON.parse(fs.readFileSync(path.join(this.dir, "cdk.tf.json"), "utf8")) as Json;
    const resources = Object.fromEntries(Object.entries((stack.resource ?? {}) as Json).filter(([t]) => /^(tls|random)_/.test(t)));
    // Whatever they reference must be in the scratch root too.
    const refs = [...JSON.stringify(resources).matchAll(/\b(var|local|data|[a-z][a-z0-9]*_[a-z0-9_]+)\.[A-Za-z0-9_-]+\.?/g)].map((m) => m[0]);
    const foreign = [...new Set(refs.filter((r) => !/^(tls|random)_/.test(r)))];
    if (foreign.length > 0) throw new Error(`offline state: the stack's tls/random resources reference other resources: ${foreign.join(", ")}`);
    const required = ((stack.terraform as Json).required_providers ?? {}) as Json;
    const providers = Object.keys(required).filter((p) => p === "tls" || p === "random");
    const root = {
      terraform: { required_providers: Object.fromEntries(providers.map((p) => [p, required[p]])) },
      provider: Object.fromEntries(providers.map((p) => [p, [{}]])),
      resource: resources,
    };
    writeFile(scratchDir, "main.tf.json", JSON.stringify(root, null, 2));
    await runAsyncOk("terraform", ["init", "-input=false", "-no-color"], { cwd: scratchDir, env: this.env });
    await runAsyncOk("terraform", ["apply", "-auto-approve", "-input=false", "-no-color", "-lock=false"], { cwd: scratchDir, env: this.env });
    return JSON.parse(fs.readFileSync(path.join(scratchDir, "terraform.tfstate"), "utf8")) as StateV4;
  }

  /**
   * The state of the stack "as if deployed" (see the module's comment). `scratchDir` holds the
   * applied tls/random root. Throws, naming what still changes, unless a plan against the state
   * is empty after `maxPlans` plans.
   */
  async deployedState(scratchDir: string, maxPlans = 5): Promise<{ state: StateV4; plans: number }> {
    const [schemas, secrets] = await Promise.all([this.resourceSchemas(), this.appliedSecrets(scratchDir)]);
    const config = JSON.parse(fs.readFileSync(path.join(this.dir, "cdk.tf.json"), "utf8")) as { resource?: Record<string, Record<string, unknown>> };
    const state: StateV4 = { version: 4, terraform_version: secrets.terraform_version, serial: 1, lineage: randomUUID(), outputs: {}, resources: secrets.resources };
    const find = (type: string, name: string) => state.resources.find((r) => r.mode === "managed" && r.type === type && r.name === name);
    // What a pure reference `${type.name.attr}` stands for: the state's value, or the ID the resource will get.
    const lookup = (type: string, name: string, attr: string): unknown => {
      const value = find(type, name)?.instances[0]?.attributes[attr];
      if (value !== undefined && value !== null) return value;
      return attr === "id" && config.resource?.[type]?.[name] ? fakeId(`${type}.${name}`) : undefined;
    };
    const fakes = new FakeValues(lookup);
    for (let n = 1; n <= maxPlans; n++) {
      const changes = changesOf(await this.plan(state));
      if (changes.length === 0) return { state, plans: n };
      if (n === maxPlans) throw new Error(`offline state: a plan against it still changes, after ${n} plans:\n${describeChanges(changes).join("\n")}`);
      const priors = new Map(changes.map((c) => [c.address, find(c.type, c.name)?.instances[0]?.attributes]));
      const priorMarks = new Map(changes.map((c) => [c.address, find(c.type, c.name)?.instances[0]?.sensitive_attributes]));
      // Twice: a reference to another computed attribute than an ID resolves once that resource is filled.
      for (let pass = 0; pass < 2; pass++) {
        for (const c of changes) {
          if (c.mode !== "managed" || c.index !== undefined || (c.change.actions.includes("delete") && !c.change.actions.includes("create"))) {
            throw new Error(`offline state: unexpected change ${c.address}: ${c.change.actions.join(",")}`);
          }
          const schema = schemas.get(c.type);
          if (!schema) throw new Error(`offline state: no schema for ${c.type}`);
          let res = find(c.type, c.name);
          if (!res) {
            res = { mode: "managed", type: c.type, name: c.name, provider: `provider["${c.provider_name}"]`, instances: [] };
            state.resources.push(res);
          }
          const filled = fakes.fill(c.address, c.change.after, c.change.after_unknown, priors.get(c.address), config.resource?.[c.type]?.[c.name], schema.block, []);
          const attributes = emptyNestedMaps(filled, schema.block, false) as Record<string, unknown>;
          // The marks of an apply stay in the state (a later plan's of an ignored attribute do not say them).
          const marks = [...(priorMarks.get(c.address) ?? []), ...sensitivePaths(c.change.after_sensitive, [])];
          res.instances = [{ schema_version: schema.version, attributes, sensitive_attributes: [...new Map(marks.map((m) => [JSON.stringify(m), m])).values()] }];
        }
      }
      state.serial++;
    }
    throw new Error("unreachable");
  }
}

/** The fake ID of a resource that has none yet. Lower case, as every fake: providers normalize some strings (a StateFunc) and would see a change. */
const fakeId = (address: string) => `fake-${address}`.toLowerCase();

/** after_sensitive as a state's sensitive_attributes: one path (of steps) per sensitive value. */
function sensitivePaths(marks: unknown, at: unknown[]): unknown[] {
  if (marks === true) return [at];
  if (Array.isArray(marks)) return marks.flatMap((m, i) => sensitivePaths(m, [...at, { type: "index", value: { value: i, type: "number" } }]));
  if (marks && typeof marks === "object") return Object.entries(marks).flatMap(([k, m]) => sensitivePaths(m, [...at, { type: "get_attr", value: k }]));
  return [];
}

/** A pure reference in Terraform JSON: `${type.name.attr}`. */
const PURE_REF = /^\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}$/;

/**
 * Values for what a plan leaves unknown, in order: what the configuration's pure reference there
 * names (another resource's ID...), what the prior state holds, else a fake, stable per attribute
 * and plausible per kind.
 */
class FakeValues {
  private readonly made = new Map<string, unknown>();
  private ips = 0;
  private macs = 0;

  constructor(private readonly lookup: (type: string, name: string, attr: string) => unknown) {}

  fill(address: string, after: unknown, unknown: unknown, prior: unknown, config: unknown, schema: SchemaBlock | CtyType | undefined, at: (string | number)[]): unknown {
    if (unknown === true) {
      const referenced = this.referenced(config);
      if (referenced !== undefined) return referenced;
      if (prior !== undefined && prior !== null) return prior;
      const key = `${address}:${at.join(".")}`;
      if (!this.made.has(key)) this.made.set(key, this.make(address, at, schema));
      return this.made.get(key);
    }
    if (Array.isArray(unknown)) {
      const list = Array.isArray(after) ? after : [];
      // A block written as one object in the JSON stands for a list of one.
      const configs = Array.isArray(config) ? config : config !== undefined ? [config] : [];
      return list.map((v, i) => this.fill(address, v, unknown[i], Array.isArray(prior) ? prior[i] : undefined, configs[i], elementSchema(schema), [...at, i]));
    }
    if (unknown && typeof unknown === "object") {
      const obj = { ...((after ?? {}) as Json) };
      for (const [k, u] of Object.entries(unknown)) {
        const member = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json)[k] : undefined);
        obj[k] = this.fill(address, obj[k], u, member(prior), member(config), memberSchema(schema, k), [...at, k]);
      }
      return obj;
    }
    return after;
  }

  /** What `config`, a pure reference or a list of them, stands for; undefined when not all known. */
  private referenced(config: unknown): unknown {
    if (Array.isArray(config)) {
      const values = config.map((c) => this.referenced(c));
      return config.length > 0 && values.every((v) => v !== undefined) ? values : undefined;
    }
    const ref = typeof config === "string" ? PURE_REF.exec(config) : null;
    const value = ref ? this.lookup(ref[1], ref[2], ref[3]) : undefined;
    return value === null ? undefined : value;
  }

  private make(address: string, at: (string | number)[], schema: SchemaBlock | CtyType | undefined): unknown {
    const name = String([...at].reverse().find((s) => typeof s === "string") ?? "");
    if (isBlock(schema)) return []; // a nested block left unknown: none
    const kind = Array.isArray(schema) ? schema[0] : schema;
    switch (kind) {
      case "string":
        if (at.length === 1 && name === "id") return fakeId(address);
        if (/(^|_)(address|ip|ip_address|fixed_ip_v4|floating_ip|access_ip_v4)$/.test(name)) return this.ip();
        if (/(^|_)mac(_address)?$/.test(name)) return this.mac();
        return `fake-${address}.${at.join(".")}`.toLowerCase();
      case "number":
        return 0;
      case "bool":
        return false;
      case "list":
      case "set":
        return name === "all_fixed_ips" ? [this.ip()] : [];
      case "map":
      case "object":
        return {};
      default:
        throw new Error(`offline state: no fake for ${address} ${at.join(".")} (schema ${JSON.stringify(schema)})`);
    }
  }

  /** An address of 198.18.0.0/15 (benchmarking): never one of the deployment's. */
  private ip(): string {
    const n = ++this.ips;
    return `198.18.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  }

  private mac(): string {
    const n = ++this.macs;
    return `fa:16:3e:00:${Math.floor(n / 256).toString(16).padStart(2, "0")}:${(n % 256).toString(16).padStart(2, "0")}`;
  }
}

/**
 * `value` (of a block) with each null map inside a nested block written `{}`: what a legacy SDK
 * provider returns from an apply, where its plan of a new object says null (the next plan would
 * otherwise update null to `{}`).
 */
function emptyNestedMaps(value: unknown, block: SchemaBlock, nested: boolean): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const out = { ...(value as Json) };
  for (const [k, a] of Object.entries(block.attributes ?? {})) {
    if (nested && out[k] === null && Array.isArray(a.type) && a.type[0] === "map") out[k] = {};
  }
  for (const [k, b] of Object.entries(block.block_types ?? {})) {
    const v = out[k];
    out[k] = Array.isArray(v) ? v.map((e) => emptyNestedMaps(e, b.block, true)) : emptyNestedMaps(v, b.block, true);
  }
  return out;
}

function isBlock(s: SchemaBlock | CtyType | undefined): s is SchemaBlock {
  return !!s && typeof s === "object" && !Array.isArray(s);
}

/** The schema of a member `k` of a block or an object type. */
function memberSchema(s: SchemaBlock | CtyType | undefined, k: string): SchemaBlock | CtyType | undefined {
  if (isBlock(s)) return s.attributes?.[k]?.type ?? s.block_types?.[k]?.block;
  if (Array.isArray(s) && s[0] === "object") return (s[1] as Record<string, CtyType>)[k];
  return undefined;
}

/** The schema of an element of a list/set type, or of a nested block (which stands for its elements). */
function elementSchema(s: SchemaBlock | CtyType | undefined): SchemaBlock | CtyType | undefined {
  if (isBlock(s)) return s;
  if (Array.isArray(s) && (s[0] === "list" || s[0] === "set")) return s[1] as CtyType;
  return undefined;
}
