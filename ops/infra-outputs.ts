/**
 * What an operator tool reads of a deployed site: its infra stack's outputs, as `terraform output
 * -json` gives them in the stack's folder (cdktf.out/stacks/<site>-infra) after `cdktf deploy`.
 * That works whatever the backend (Terraform reads the state from wherever the stack keeps it).
 *
 * The output `cluster_members` is declared here, with its shape, for the infra stack to write
 * and for `npm run status` to read. Nothing here depends on cdktf: the status command loads in a
 * fraction of a second.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** A problem with what the command was given: said in one line (naming the site and what to do), never as a stack trace. */
export class StatusInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatusInputError";
  }
}

/** Name of the infra stack's output that lists the Consul members and Nomad clients it declares. */
export const CLUSTER_MEMBERS_OUTPUT = "cluster_members";

/**
 * Name of the infra stack's output that says, per VM (by instance name), what waits for a roll:
 * a list of "user data", "image", "flavor", "volumes", empty when the VM runs what is declared.
 */
export const PENDING_ROLL_OUTPUT = "pending_roll";

export type PendingRollOutput = Readonly<Record<string, readonly string[]>>;

/**
 * The value of the `cluster_members` output (not sensitive: names, node classes and the servers'
 * fixed addresses). Every VM of the site is a Consul member; the clients and the ingress VMs are
 * also Nomad clients, in their node class.
 */
export interface ClusterMembersOutput {
  /** Consul datacenter of the site. */
  readonly datacenter: string;
  /** Nomad region of the site. */
  readonly region: string;
  /** The Consul + Nomad servers: node name and fixed private address. */
  readonly servers: readonly { readonly name: string; readonly address: string }[];
  /** Node name of every Consul agent of the site (the servers included). */
  readonly consul_members: readonly string[];
  /** Every Nomad client: node name and node class. */
  readonly nomad_clients: readonly { readonly name: string; readonly node_class: string }[];
}

/** What the status command needs of a site's infra outputs. */
export interface InfraOutputs {
  readonly site: string;
  /** https://<address>:8501 per server, in the order the stack declares them. */
  readonly consulServers: readonly string[];
  /** https://<address>:4646 per server. */
  readonly nomadServers: readonly string[];
  readonly caCertificate: string;
  /** Sensitive: never printed. */
  readonly consulToken: string;
  /** Sensitive: never printed. */
  readonly nomadToken: string;
  readonly members: ClusterMembersOutput;
  /** What waits for `npm run roll`, per VM; absent in a state written before the output existed. */
  readonly pendingRoll?: PendingRollOutput;
}

/** Name of a site's infra stack. */
export const infraStackName = (site: string) => `${site}-infra`;

/** How to deploy a site's infra stack: said in errors. */
const deployHint = (site: string) => `deploy it with \`npm run deploy -- ${infraStackName(site)}\``;

/**
 * The folder of `site`'s infra stack in the synthesized output `outdir`, from its manifest.
 * Throws a StatusInputError naming the site and what to do when there is none.
 */
export function infraStackDir(site: string, outdir: string, manifestText: string | undefined): string {
  const stack = infraStackName(site);
  if (manifestText === undefined) {
    throw new StatusInputError(`site ${site}: nothing is synthesized in ${outdir} (no manifest.json): ${deployHint(site)} first (it synthesizes the stacks), then run the status again`);
  }
  let manifest: { stacks?: Record<string, { workingDirectory?: string }> };
  try {
    manifest = JSON.parse(manifestText);
  } catch {
    throw new StatusInputError(`site ${site}: ${outdir}/manifest.json is not JSON: run \`npm run synth\` again`);
  }
  const stacks = manifest.stacks ?? {};
  const entry = stacks[stack];
  if (!entry) {
    const sites = Object.keys(stacks).filter((s) => s.endsWith("-infra")).map((s) => s.slice(0, -"-infra".length));
    throw new StatusInputError(
      `unknown site "${site}": ${outdir} has no stack ${stack} (its sites: ${sites.length > 0 ? sites.join(", ") : "none"}); ` +
        "give one of those, or run `npm run synth` if the deployment file has changed",
    );
  }
  return path.join(outdir, entry.workingDirectory ?? path.join("stacks", stack));
}

/** The first error Terraform printed, on one line (its summary), without colours. */
export function terraformError(stderr: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = stderr.replace(/\u001b\[[0-9;]*m/g, "").replace(/[│╷╵]/g, " ");
  const line = plain.split("\n").map((l) => l.trim()).find((l) => /^Error:/.test(l)) ?? plain.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "no message";
  return line;
}

/**
 * What a failed `terraform output` in `stackDir` means for the operator, in one line. The usual
 * case is a working copy that never deployed (or initialized) the stack.
 */
export function terraformOutputFailure(site: string, stackDir: string, stderr: string): StatusInputError {
  const stack = infraStackName(site);
  if (/Backend initialization required|Initial configuration of the requested backend|please run "terraform init"/i.test(stderr)) {
    return new StatusInputError(
      `site ${site}: ${stack} is not initialized in ${stackDir}: ${deployHint(site)}, or, if it was deployed from another working copy to a shared backend, ` +
        `run \`terraform -chdir=${stackDir} init\` and run the status again`,
    );
  }
  return new StatusInputError(`site ${site}: \`terraform output\` of ${stack} failed: ${terraformError(stderr)}`);
}

type Json = unknown;

const isString = (v: Json): v is string => typeof v === "string" && v.length > 0;
const isStringList = (v: Json): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);
const isRecord = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Where `value` is not a ClusterMembersOutput: one phrase each. */
function membersProblems(value: Json): string[] {
  if (!isRecord(value)) return [`got ${typeof value}, expected an object`];
  const problems: string[] = [];
  for (const key of ["datacenter", "region"]) if (!isString(value[key])) problems.push(`${key}: expected a name`);
  const servers = value.servers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => isRecord(s) && isString(s.name) && isString(s.address))) problems.push("servers: expected a list of { name, address }");
  if (!isStringList(value.consul_members)) problems.push("consul_members: expected a list of node names");
  const clients = value.nomad_clients;
  if (!Array.isArray(clients) || !clients.every((c) => isRecord(c) && isString(c.name) && isString(c.node_class))) problems.push("nomad_clients: expected a list of { name, node_class }");
  return problems;
}

/**
 * The outputs the status command needs, from `terraform output -json` of `site`'s infra stack.
 * Throws a StatusInputError, one line naming the site, the outputs missing and what to do.
 */
export function parseInfraOutputs(site: string, outputJson: string): InfraOutputs {
  const stack = infraStackName(site);
  let parsed: Json;
  try {
    parsed = JSON.parse(outputJson);
  } catch {
    throw new StatusInputError(`site ${site}: \`terraform output -json\` of ${stack} did not print JSON`);
  }
  if (!isRecord(parsed)) throw new StatusInputError(`site ${site}: \`terraform output -json\` of ${stack} did not print an object`);
  const outputs = parsed;
  if (Object.keys(outputs).length === 0) {
    throw new StatusInputError(`site ${site}: ${stack} has no outputs: it has not been deployed (or its state is elsewhere): ${deployHint(site)}, then run the status again`);
  }
  const value = (name: string): Json => (isRecord(outputs[name]) ? (outputs[name] as Record<string, Json>).value : undefined);
  const wanted: Record<string, (v: Json) => string[]> = {
    consul_servers: (v) => (isStringList(v) ? [] : ["expected a list of URLs"]),
    nomad_servers: (v) => (isStringList(v) ? [] : ["expected a list of URLs"]),
    ca_certificate: (v) => (isString(v) && v.includes("BEGIN CERTIFICATE") ? [] : ["expected a PEM certificate"]),
    consul_management_token: (v) => (isString(v) ? [] : ["expected a token"]),
    nomad_management_token: (v) => (isString(v) ? [] : ["expected a token"]),
    [CLUSTER_MEMBERS_OUTPUT]: membersProblems,
  };
  const missing = Object.keys(wanted).filter((name) => value(name) === undefined);
  if (missing.length > 0) {
    throw new StatusInputError(
      `site ${site}: ${stack}'s state has no output ${missing.join(", ")} (deployed by an earlier version of this library?): ${deployHint(site)} again to add ${missing.length > 1 ? "them" : "it"}`,
    );
  }
  // Never the value itself: two of them are tokens.
  const wrong = Object.entries(wanted).flatMap(([name, check]) => check(value(name)).map((p) => `${name}: ${p}`));
  if (wrong.length > 0) throw new StatusInputError(`site ${site}: ${stack}'s outputs are not what this version of the library writes (${wrong.join("; ")}): ${deployHint(site)} again`);
  return {
    site,
    consulServers: value("consul_servers") as string[],
    nomadServers: value("nomad_servers") as string[],
    caCertificate: value("ca_certificate") as string,
    consulToken: value("consul_management_token") as string,
    nomadToken: value("nomad_management_token") as string,
    members: value(CLUSTER_MEMBERS_OUTPUT) as ClusterMembersOutput,
    ...(isPendingRoll(value(PENDING_ROLL_OUTPUT)) ? { pendingRoll: value(PENDING_ROLL_OUTPUT) as PendingRollOutput } : {}),
  };
}

/** A record of VM name to a list of what is pending (possibly empty). */
function isPendingRoll(v: Json): boolean {
  return isRecord(v) && Object.values(v).every((l) => Array.isArray(l) && l.every(isString));
}

export interface ReadInfraOutputsOptions {
  /** The synthesized output folder. @default CDKTF_OUTDIR, else cdktf.out */
  readonly outdir?: string;
  /** The terraform executable. @default terraform (on PATH) */
  readonly terraform?: string;
  /** Kill terraform after this long (a remote backend that hangs). @default 120000 */
  readonly timeoutMs?: number;
}

/**
 * `site`'s infra outputs, read with `terraform output -json` in its synthesized folder (which
 * works for every backend: Terraform reads the state where the stack keeps it). Throws a
 * StatusInputError, one line, for an unknown site, a stack never deployed or initialized from
 * here, outputs missing.
 */
export function readInfraOutputs(site: string, opts: ReadInfraOutputsOptions = {}): InfraOutputs {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(site)) throw new StatusInputError(`site "${site}": expected a site name of the deployment file (lower-case letters, digits, -)`);
  const outdir = opts.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
  const manifestFile = path.join(outdir, "manifest.json");
  const stackDir = infraStackDir(site, outdir, fs.existsSync(manifestFile) ? fs.readFileSync(manifestFile, "utf8") : undefined);
  const terraform = opts.terraform ?? "terraform";
  const res = spawnSync(terraform, [`-chdir=${stackDir}`, "output", "-json", "-no-color"], {
    encoding: "utf8",
    env: { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" },
    timeout: opts.timeoutMs ?? 120_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (res.error) {
    if ((res.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new StatusInputError(`site ${site}: ${terraform} is not on PATH: install Terraform (1.9 or newer; \`cdktf deploy\` needs it too) and run the status again`);
    }
    throw new StatusInputError(`site ${site}: \`terraform output\` of ${infraStackName(site)} did not finish: ${res.error.message}`);
  }
  if (res.status !== 0) throw terraformOutputFailure(site, stackDir, res.stderr);
  return parseInfraOutputs(site, res.stdout);
}
