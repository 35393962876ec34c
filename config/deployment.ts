/**
 * Loads `config/deployment.yaml` (or `DEPLOYMENT_CONFIG`) into a resolved, typed deployment.
 *
 * Every problem is collected and reported together, one line each, naming the field path, the
 * value received and what is expected; nothing is synthesized while there is one.
 */
import { AgentVersions, declaredVersionProblem, TESTED_AGENT_VERSIONS } from "./versions";
import * as fs from "node:fs";
import * as ipaddr from "ipaddr.js";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { docAt, exampleAt, yamlInline } from "./fields";
import { contains, hostAt, overlaps, size } from "./net";
import { BackendInput, CertificatesInput, DEFAULT_COUNTS, PlatformInput, ROLES, Role, SiteInput, TIERS, Tier, deploymentSchema } from "./schema";

export { DEFAULT_COUNTS, ROLES, TIERS, overlaps };
export type { Role, Tier };

/** One problem in the deployment description. */
export interface ConfigProblem {
  /** Field path, e.g. `sites[0].vms.server.count`. */
  readonly path: string;
  /** The value received (undefined when the field is missing). */
  readonly value: unknown;
  /** What is expected instead. */
  readonly expected: string;
}

/** Thrown by loadDeployment when the description has problems; `problems` lists them all. */
export class DeploymentConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
    this.name = "DeploymentConfigError";
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const got = p.value === undefined ? "nothing" : JSON.stringify(p.value);
  return `${file}: ${p.path || "(top level)"}: got ${got}, expected ${p.expected}`;
}

/** A VM as the constructs create it. */
export interface VmSpec {
  readonly name: string;
  readonly role: Role;
  readonly flavor: string;
  readonly image: string;
  /** Fixed address, for the VMs others must know at plan time (servers, utility VMs). */
  readonly fixedIp?: string;
  /** Persistent volume size in GB. */
  readonly volumeGb?: number;
}

export interface VpnPeerConfig {
  readonly name: string;
  readonly publicKey: string;
  readonly address: string;
}

/** A site, with every default resolved. */
export interface SiteConfig {
  readonly name: string;
  readonly region: string;
  readonly cloud: string;
  readonly externalNetwork: string;
  readonly dnsServers: readonly string[];
  readonly datacenter: string;
  readonly siteRange: string;
  readonly tiers: Readonly<Record<Tier, string>>;
  readonly antiAffinity: "hard" | "soft";
  /** Consul and Nomad versions of the site's VMs. */
  readonly agentVersions: AgentVersions;
  readonly adminSshKeys: readonly string[];
  readonly adminNetworks: readonly string[];
  readonly servers: readonly VmSpec[];
  readonly clients: readonly VmSpec[];
  readonly development: readonly VmSpec[];
  readonly bastion: VmSpec;
  readonly vpnGateway: VmSpec;
  readonly ingress: readonly VmSpec[];
  readonly vpn: {
    readonly port: number;
    readonly range: string;
    /** The gateway's tunnel address: the first host of the range. */
    readonly gatewayAddress: string;
    readonly publicKey: string;
    readonly peers: readonly VpnPeerConfig[];
  };
  /** The site linked by the site-to-site tunnel, if any. */
  readonly peerSite?: string;
  /** True on the side that dials the tunnel (the later of the two sites in the file). */
  readonly initiatesTunnel: boolean;
  /** What the platform stack runs, with defaults resolved. */
  readonly platform?: PlatformInput;
}

export interface DeploymentConfig {
  readonly project: string;
  readonly adminUser: string;
  /** Where Terraform keeps each stack's state. @default { type: "local" } */
  readonly backend?: BackendInput;
  /** The agents' certificates and their CA: lifetimes and renewal. @default - the schema's defaults */
  readonly certificates?: CertificatesInput;
  readonly sites: readonly SiteConfig[];
}

/** Hosts below this offset in a tier are left to OpenStack (gateway, DHCP ports). */
export const FIRST_FIXED_HOST = 10;
/** Allowed Consul/Nomad server counts: odd, for a quorum that survives failures. */
export const SERVER_COUNTS = [3, 5, 7] as const;

/** A server's persistent volume when `vms.server.volumeGb` says nothing: its Raft data and node identity (GB). */
export const DEFAULT_SERVER_VOLUME_GB = 10;

/** The deployment file when nothing names another. */
export const DEFAULT_DEPLOYMENT_FILE = "config/deployment.yaml";

/** The deployment file of a command, and what chose it (for the messages that name it). */
export interface ConfigChoice {
  readonly file: string;
  /** `DEPLOYMENT_CONFIG`, `cdktf.json context deploymentConfig`, or `the default`. */
  readonly by: string;
}

/**
 * The deployment file, chosen once per working copy: `DEPLOYMENT_CONFIG` when set (an override
 * for one command), else the `deploymentConfig` context of the working copy's cdktf.json (so that
 * synth, diff and deploy always read the same file), else config/deployment.yaml.
 */
export function chosenConfig(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): ConfigChoice {
  if (env.DEPLOYMENT_CONFIG) return { file: env.DEPLOYMENT_CONFIG, by: "DEPLOYMENT_CONFIG" };
  try {
    const cdktf = JSON.parse(fs.readFileSync(`${cwd}/cdktf.json`, "utf8")) as { context?: { deploymentConfig?: unknown } };
    const chosen = cdktf.context?.deploymentConfig;
    if (typeof chosen === "string" && chosen.length > 0) return { file: chosen, by: "cdktf.json context deploymentConfig" };
  } catch {
    /* no cdktf.json here, or not JSON: the default */
  }
  return { file: DEFAULT_DEPLOYMENT_FILE, by: "the default" };
}

/** The deployment file's path (chosenConfig). */
export function defaultConfigPath(cwd: string = process.cwd()): string {
  return chosenConfig(cwd).file;
}

/**
 * A check of the resolved sites that needs more than the file (e.g. the names of the workloads
 * the library adds to a site); its problems are reported with the file's own.
 */
export type DeploymentCheck = (sites: readonly SiteConfig[]) => readonly ConfigProblem[];

/** The deployment file's text; a DeploymentConfigError when it cannot be read. */
export function readDeploymentFile(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new DeploymentConfigError(file, [{ path: "", value: file, expected: `a readable deployment file (${(err as Error).message})` }]);
  }
}

export function loadDeployment(file: string = defaultConfigPath(), checks: readonly DeploymentCheck[] = []): DeploymentConfig {
  return parseDeployment(readDeploymentFile(file), file, checks);
}

export function parseDeployment(text: string, file = "deployment.yaml", checks: readonly DeploymentCheck[] = []): DeploymentConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new DeploymentConfigError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? "?"}`, value: undefined, expected: `valid YAML (${e.message.split("\n")[0]})` })),
    );
  }
  // Issues without a message of their own get DEFAULT_MESSAGE, and their expectation from the field's documentation.
  const parsed = deploymentSchema.safeParse(doc.toJS(), { reportInput: true, error: () => DEFAULT_MESSAGE });
  if (!parsed.success) throw new DeploymentConfigError(file, parsed.error.issues.flatMap(issueToProblems));
  const problems: ConfigProblem[] = [];
  const sites = parsed.data.sites.map((s, i) => resolveSite(s, `sites[${i}]`, problems));
  crossSiteChecks(parsed.data.sites, sites, problems);
  const certs = parsed.data.certificates;
  if (certs.renewBeforeDays >= certs.agentValidityDays) {
    problems.push({ path: "certificates.renewBeforeDays", value: certs.renewBeforeDays, expected: `fewer days than certificates.agentValidityDays (${certs.agentValidityDays}): a certificate is re-issued that long before it expires` });
  }
  if (certs.agentValidityDays + 365 > certs.caValidityDays) {
    problems.push({
      path: "certificates.caValidityDays",
      value: certs.caValidityDays,
      expected: `at least certificates.agentValidityDays + 365 (${certs.agentValidityDays + 365}): the CA is re-issued a year before it expires, and no agent certificate outlives it`,
    });
  }
  if (problems.length === 0) for (const check of checks) problems.push(...check(sites));
  if (problems.length > 0) throw new DeploymentConfigError(file, problems);
  return { project: parsed.data.project, adminUser: parsed.data.adminUser, backend: parsed.data.backend, certificates: certs, sites };
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), "");
}

/** Marks an issue zod raised without a message of the schema's (see expectationOf). */
const DEFAULT_MESSAGE = "\u0000default";

/** Keys that would put a credential in the file: refused without echoing their value. */
const CREDENTIAL_KEYS = /^(conn_?str|connection_?string|password|passwd|secret|secret_?key|secret_?access_?key|access_?key(_?id)?|token)$/i;

/** What a backend reads its credentials from, for the refusal of one in the file. */
const CREDENTIALS_FROM = "the pg backend reads PG_CONN_STR, s3 AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, http TF_HTTP_USERNAME / TF_HTTP_PASSWORD";

const TYPE_NOUNS: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping of fields",
  record: "a mapping",
  array: "a list",
};

/** `<what>, e.g. <key>: <example>`: the example only when the text has none. */
function withExample(text: string, path: readonly PropertyKey[]): string {
  const example = exampleAt(path);
  return example && !text.includes("e.g.") ? `${text}, ${example}` : text;
}

/** What an issue without a message of the schema's expects, in words, with the field's example. */
function expectationOf(issue: z.core.$ZodIssue, input: unknown): string {
  const n = (v: unknown) => Number(v);
  switch (issue.code) {
    case "invalid_type": {
      const noun = TYPE_NOUNS[issue.expected] ?? `a ${issue.expected}`;
      if (input !== undefined) return withExample(noun, issue.path);
      const doc = docAt(issue.path);
      return `${withExample(noun, issue.path)}; this field is required${doc ? `: ${doc}` : ""}`;
    }
    case "too_small":
      if (issue.origin === "string") return withExample(n(issue.minimum) <= 1 ? "a non-empty string" : `at least ${issue.minimum} characters`, issue.path);
      if (issue.origin === "array" || issue.origin === "set") return withExample(`at least ${issue.minimum} item${n(issue.minimum) === 1 ? "" : "s"}`, issue.path);
      return withExample(`${issue.inclusive ? "at least" : "more than"} ${issue.minimum}`, issue.path);
    case "too_big":
      if (issue.origin === "string") return withExample(`at most ${issue.maximum} characters`, issue.path);
      if (issue.origin === "array" || issue.origin === "set") return withExample(`at most ${issue.maximum} items`, issue.path);
      return withExample(`${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`, issue.path);
    case "invalid_value":
      return withExample(`one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`, issue.path);
    default:
      return withExample("a valid value", issue.path);
  }
}

function issueToProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  const at = pathOf(issue.path);
  const input = (issue as { input?: unknown }).input;
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => {
      const credential = CREDENTIAL_KEYS.test(k);
      return {
        path: at ? `${at}.${k}` : k,
        // A credential is not echoed: the line may end up in a CI log.
        value: credential ? "(not shown)" : (input as Record<string, unknown> | undefined)?.[k],
        expected: !credential
          ? "no such field (check the spelling; unknown fields are refused)"
          : at === "backend"
            ? `no credential in the deployment file: Terraform's backends read them from the environment (${CREDENTIALS_FROM})`
            : "no such field, and no credential in the deployment file (README, Secrets and the Terraform state)",
      };
    });
  }
  const expected = issue.message === DEFAULT_MESSAGE ? expectationOf(issue, input) : withExample(issue.message, issue.path);
  // A union refused by its discriminator (backend.type) reports the whole object: say what the field held.
  const key = issue.path.at(-1);
  const value = issue.code === "invalid_union" && typeof key === "string" && typeof input === "object" && input !== null && key in input ? (input as Record<string, unknown>)[key] : input;
  return [{ path: at, value, expected }];
}

/** Consecutive /24s from the site range, for the tiers not given. */
function carveTiers(site: string, given: Partial<Record<Tier, string>>, at: string, problems: ConfigProblem[]): Record<Tier, string> {
  const out = {} as Record<Tier, string>;
  TIERS.forEach((tier, i) => {
    const explicit = given[tier];
    if (explicit) {
      out[tier] = explicit;
    } else if (ipaddr.IPv4.parseCIDR(site)[1] > 22) {
      problems.push({ path: `${at}.addressPlan.tiers.${tier}`, value: undefined, expected: `a subnet: the site range ${site} is too small to carve default /24 tiers from (it needs /22 or larger)` });
      out[tier] = site;
    } else {
      out[tier] = `${hostAt(site, i * 256)}/24`;
    }
  });
  return out;
}

function resolveSite(s: SiteInput, at: string, problems: ConfigProblem[]): SiteConfig {
  const tiers = carveTiers(s.addressPlan.site, s.addressPlan.tiers, at, problems);
  for (const tier of TIERS) {
    if (!contains(s.addressPlan.site, tiers[tier])) {
      problems.push({ path: `${at}.addressPlan.tiers.${tier}`, value: tiers[tier], expected: `a subnet inside the site range ${s.addressPlan.site}` });
    }
  }
  TIERS.forEach((a, i) =>
    TIERS.slice(i + 1).forEach((b) => {
      if (overlaps(tiers[a], tiers[b])) {
        problems.push({ path: `${at}.addressPlan.tiers.${b}`, value: tiers[b], expected: `a subnet that does not overlap tier ${a} (${tiers[a]})` });
      }
    }),
  );
  if (overlaps(s.vpn.range, s.addressPlan.site)) {
    problems.push({ path: `${at}.vpn.range`, value: s.vpn.range, expected: `a range outside the site range ${s.addressPlan.site} (tunnel addresses are routed to the gateway)` });
  }
  s.admins.networks.forEach((n, i) => {
    if (ipaddr.IPv4.parseCIDR(n)[1] === 0) {
      problems.push({ path: `${at}.admins.networks[${i}]`, value: n, expected: "a bounded admin network, not the whole Internet (SSH to the bastion must not be open to 0.0.0.0/0)" });
    }
  });

  for (const key of Object.keys(s.vms)) {
    if (!(ROLES as readonly string[]).includes(key)) {
      problems.push({ path: `${at}.vms.${key}`, value: key, expected: `a known role: one of ${ROLES.join(", ")}` });
    }
  }
  const group = (role: Role) => s.vms[role] ?? {};
  // Flavor names differ from cloud to cloud: no default. The roles with VMs and no flavor are named in one line.
  const flavorOf = (role: Role): string => group(role).flavor ?? (s.flavors as Record<string, string | undefined>)[role] ?? s.flavors.default ?? "";
  const names = (role: Role): string[] => {
    const g = group(role);
    if (g.names && g.count !== undefined && g.count !== g.names.length) {
      problems.push({ path: `${at}.vms.${role}.count`, value: g.count, expected: `either count or names, or a count equal to the ${g.names.length} names` });
    }
    if (g.names) return g.names;
    const count = g.count ?? DEFAULT_COUNTS[role];
    return Array.from({ length: count }, (_, i) => `${role}-${i + 1}`);
  };
  const vms = (role: Role, tier?: Tier, offset = FIRST_FIXED_HOST): VmSpec[] =>
    names(role).map((name, i) => ({
      name,
      role,
      flavor: flavorOf(role),
      image: group(role).image ?? s.image,
      ...(tier ? { fixedIp: hostAt(tiers[tier], offset + i) } : {}),
      ...((group(role).volumeGb ?? (role === "server" ? DEFAULT_SERVER_VOLUME_GB : undefined)) ? { volumeGb: group(role).volumeGb ?? DEFAULT_SERVER_VOLUME_GB } : {}),
    }));

  const unflavored = ROLES.filter((role) => names(role).length > 0 && !flavorOf(role));
  if (unflavored.length === 1 && s.flavors.default === undefined && Object.keys(s.flavors).length > 0) {
    const role = unflavored[0];
    problems.push({ path: `${at}.flavors.${role}`, value: undefined, expected: `a flavor for role ${role} (or flavors.default), e.g. ${role}: m1.medium (openstack flavor list): flavor names differ from cloud to cloud, so there is no default` });
  } else if (unflavored.length > 0) {
    problems.push({
      path: `${at}.flavors.default`,
      value: undefined,
      expected: `a flavor for the roles ${unflavored.join(", ")}, which name none of their own, e.g. flavors: { default: m1.medium, client: m1.large } (openstack flavor list): flavor names differ from cloud to cloud, so there is no default`,
    });
  }

  const servers = vms("server", "servers");
  if (!(SERVER_COUNTS as readonly number[]).includes(servers.length)) {
    problems.push({
      path: `${at}.vms.server.count`,
      value: servers.length,
      expected:
        servers.length % 2 === 0 && servers.length > 0
          ? `an odd number of servers (3, 5 or 7): with ${servers.length}, losing half the servers loses the Raft quorum, so an even count adds no fault tolerance`
          : `3, 5 or 7 servers: Consul and Nomad need a Raft quorum, and fewer than 3 servers cannot survive the loss of one`,
    });
  }
  for (const role of ["bastion", "vpn"] as const) {
    const n = names(role).length;
    if (n !== 1) problems.push({ path: `${at}.vms.${role}.count`, value: n, expected: `exactly 1 ${role} VM per site` });
  }
  const utility = [...vms("bastion", "utility", FIRST_FIXED_HOST), ...vms("vpn", "utility", FIRST_FIXED_HOST + 1), ...vms("ingress", "utility", FIRST_FIXED_HOST + 2)];
  const ingress = utility.filter((v) => v.role === "ingress");
  if (ingress.length < 1) problems.push({ path: `${at}.vms.ingress.count`, value: 0, expected: "at least 1 ingress VM: it carries the public HTTP(S) entry" });

  const fits = (tier: Tier, count: number, what: string) => {
    const room = size(tiers[tier]) - FIRST_FIXED_HOST - 1;
    if (count > room) {
      problems.push({ path: `${at}.addressPlan.tiers.${tier}`, value: tiers[tier], expected: `a subnet that holds ${count} ${what} (it has room for ${Math.max(room, 0)} from host .${FIRST_FIXED_HOST}); widen it or lower the count` });
    }
  };
  fits("servers", servers.length, "server VMs");
  fits("utility", utility.length, "utility VMs (bastion, VPN gateway, ingress)");
  const clients = vms("client");
  const development = vms("development");
  fits("clients", clients.length, "client VMs");
  fits("development", development.length, "development VMs");

  const all = [...servers, ...clients, ...development, ...utility];
  const seen = new Map<string, Role>();
  for (const vm of all) {
    const prev = seen.get(vm.name);
    if (prev) problems.push({ path: `${at}.vms.${vm.role}.names`, value: vm.name, expected: `a VM name not already used by role ${prev}` });
    seen.set(vm.name, vm.role);
  }

  if (s.platform) {
    const p = s.platform;
    // The capacity check at synth needs what the clients and the ingress VMs hold.
    const unsized = new Map<string, VmSpec>();
    for (const vm of [...clients, ...ingress]) if (vm.flavor && !(vm.flavor in p.flavorSizes) && !unsized.has(vm.flavor)) unsized.set(vm.flavor, vm);
    for (const [flavor, vm] of unsized) {
      problems.push({
        path: `${at}.platform.flavorSizes`,
        value: Object.keys(p.flavorSizes),
        expected: `the size of flavor ${flavor} (used by ${vm.role} ${vm.name}), e.g. flavorSizes: ${yamlInline({ [flavor]: { vcpus: 4, ramMb: 8192 } })} (openstack flavor show ${flavor}): the capacity check at synth compares the jobs' asks with what the VMs hold`,
      });
    }
    if (p.systems.length > 0 && p.registry === undefined) {
      problems.push({
        path: `${at}.platform.registry`,
        value: undefined,
        expected: `an image registry and path, e.g. registry: registry.example.org/platform: ${p.systems.length === 1 ? `the reference system ${p.systems[0]} runs its images` : `the reference systems ${p.systems.join(", ")} run their images`} from <registry>/<image>:<version>`,
      });
    }
    if (clients.length > 0 && group("client").volumeGb === undefined) {
      problems.push({
        path: `${at}.vms.client.volumeGb`,
        value: undefined,
        expected: "a data disk size in GB for the clients, e.g. client: { count: 3, volumeGb: 50 }: the site's platform runs Prometheus and Loki (and the reference systems' databases), which keep their data on the clients' data disk",
      });
    }
  }

  if (s.platform) s.platform.apps.forEach((a, j) => problems.push(...imageProblems(`${at}.platform.apps[${j}]`, a.image, a.version)));

  // The platform stack is deployed through the VPN: with no peer, no one can reach the servers' APIs.
  if (s.vpn.peers.length === 0) {
    problems.push({ path: `${at}.vpn.peers`, value: [], expected: "at least one admin peer, e.g. { name: alice, publicKey: <wg pubkey>, address: <an address in vpn.range> }: the platform stack is deployed through the VPN" });
  }

  const gatewayAddress = hostAt(s.vpn.range, 1);
  for (const agent of ["consul", "nomad"] as const) {
    const v = s.agents[agent];
    const wrong = v === undefined ? undefined : declaredVersionProblem(agent, v);
    if (wrong) problems.push({ path: `${at}.agents.${agent}`, value: v, expected: wrong });
  }
  const peerNames = new Set<string>();
  s.vpn.peers.forEach((p, i) => {
    if (!contains(s.vpn.range, `${p.address}/32`) || p.address === gatewayAddress) {
      problems.push({ path: `${at}.vpn.peers[${i}].address`, value: p.address, expected: `an address inside vpn.range ${s.vpn.range}, other than the gateway's ${gatewayAddress}` });
    }
    if (peerNames.has(p.name)) problems.push({ path: `${at}.vpn.peers[${i}].name`, value: p.name, expected: "a peer name used once" });
    peerNames.add(p.name);
  });

  return {
    name: s.name,
    region: s.region,
    cloud: s.cloud ?? s.name,
    externalNetwork: s.externalNetwork,
    dnsServers: s.dnsServers,
    datacenter: s.datacenter ?? s.name,
    siteRange: s.addressPlan.site,
    tiers,
    antiAffinity: s.antiAffinity,
    agentVersions: { consul: s.agents.consul ?? TESTED_AGENT_VERSIONS.consul, nomad: s.agents.nomad ?? TESTED_AGENT_VERSIONS.nomad },
    adminSshKeys: s.admins.sshKeys,
    adminNetworks: s.admins.networks,
    servers,
    clients,
    development,
    bastion: utility[0],
    vpnGateway: utility[1],
    ingress,
    vpn: { port: s.vpn.port, range: s.vpn.range, gatewayAddress, publicKey: s.vpn.publicKey, peers: s.vpn.peers },
    ...(s.peerSite ? { peerSite: s.peerSite } : {}),
    initiatesTunnel: false,
    ...(s.platform ? { platform: s.platform } : {}),
  };
}

/** Tags that move: a rollback or a canary of them is meaningless. */
export const MOVING_TAGS = ["latest", "stable", "edge", "main", "master", "nightly", "dev"];
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * An image reference and its version: the reference without tag or digest (the version is
 * given apart), the version a pinned tag or a `sha256:` digest, never a moving tag.
 */
function imageProblems(at: string, image: string, version: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const lastSegment = image.split("/").pop() ?? image;
  if (image.includes("@")) out.push({ path: `${at}.image`, value: image, expected: `an image name without digest, e.g. "${image.split("@")[0]}", the digest in version ("${image.split("@")[1]}")` });
  else if (lastSegment.includes(":")) {
    const [name, tag] = [image.slice(0, image.lastIndexOf(":")), image.slice(image.lastIndexOf(":") + 1)];
    out.push({ path: `${at}.image`, value: image, expected: `an image name without tag, e.g. "${name}", the tag in version ("${tag}")` });
  }
  if (MOVING_TAGS.includes(version.toLowerCase())) {
    out.push({ path: `${at}.version`, value: version, expected: `a pinned tag (e.g. "1.27.3") or a digest (sha256:...): "${version}" moves, so a rollback or a canary of it means nothing` });
  } else if (version.startsWith("sha256:") && !DIGEST.test(version)) {
    out.push({ path: `${at}.version`, value: version, expected: "a digest of 64 lower-case hex digits after sha256:" });
  }
  return out;
}

function crossSiteChecks(inputs: readonly SiteInput[], sites: SiteConfig[], problems: ConfigProblem[]): void {
  const index = new Map<string, number>();
  inputs.forEach((s, i) => {
    if (index.has(s.name)) problems.push({ path: `sites[${i}].name`, value: s.name, expected: `a site name used once (sites[${index.get(s.name)}] has it)` });
    else index.set(s.name, i);
  });
  inputs.forEach((a, i) =>
    inputs.forEach((b, j) => {
      if (j <= i) return;
      const pairs: [string, string, string, string][] = [
        [b.addressPlan.site, a.addressPlan.site, "addressPlan.site", "site range"],
        [b.vpn.range, a.vpn.range, "vpn.range", "VPN range"],
        [b.vpn.range, a.addressPlan.site, "vpn.range", "site range"],
        [b.addressPlan.site, a.vpn.range, "addressPlan.site", "VPN range"],
      ];
      for (const [mine, theirs, field, what] of pairs) {
        if (overlaps(mine, theirs)) {
          problems.push({ path: `sites[${j}].${field}`, value: mine, expected: `a range that does not overlap the ${what} ${theirs} of site ${a.name} (sites are routed to each other over the VPN)` });
        }
      }
    }),
  );
  inputs.forEach((s, i) => {
    if (!s.peerSite) return;
    const j = index.get(s.peerSite);
    if (j === undefined || j === i) {
      problems.push({ path: `sites[${i}].peerSite`, value: s.peerSite, expected: `the name of another site in this file (${inputs.filter((_, k) => k !== i).map((x) => x.name).join(", ") || "none"})` });
    } else if (inputs[j].peerSite !== s.name) {
      problems.push({ path: `sites[${j}].peerSite`, value: inputs[j].peerSite, expected: `"${s.name}": the site-to-site link must be declared on both sites` });
    } else {
      (sites[i] as { initiatesTunnel: boolean }).initiatesTunnel = i > j;
    }
  });
}
