/**
 * The deployment description: what `config/deployment.yaml` may say, with its defaults.
 *
 * The shape is checked here by zod (types, ranges, unknown keys); relations between fields
 * (overlapping ranges, quorum, capacity of the address plan) are checked in ./deployment.ts (resolveSite, crossSiteChecks).
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";

/** The VM roles a site can have. */
export const ROLES = ["server", "client", "development", "bastion", "vpn", "ingress"] as const;
export type Role = (typeof ROLES)[number];

/** The address tiers of a site's private network. */
export const TIERS = ["utility", "servers", "clients", "development"] as const;
export type Tier = (typeof TIERS)[number];

const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const name = (what: string) =>
  z.string().regex(NAME, { message: `a ${what} name: lower-case letters, digits and dashes, starting with a letter, at most 31 characters` });

/** An IPv4 network in CIDR notation with no host bits set. */
export const cidr = z.string().refine(
  (v) => {
    if (!ipaddr.IPv4.isValidCIDR(v)) return false;
    const [addr, len] = ipaddr.IPv4.parseCIDR(v);
    return ipaddr.IPv4.networkAddressFromCIDR(v).toString() === addr.toString() && len >= 0;
  },
  { message: "an IPv4 network in CIDR notation with no host bits set, e.g. 10.10.1.0/24" },
);

const ipv4 = z.string().refine((v) => ipaddr.IPv4.isValidFourPartDecimal(v), { message: "an IPv4 address, e.g. 10.10.0.5" });

const SSH_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const sshKey = z.string().regex(SSH_KEY, { message: "an OpenSSH public key line, e.g. ssh-ed25519 AAAA... user@host" });

/** A WireGuard public key: 32 bytes in base64 (44 characters ending with "="). */
const wgKey = z.string().regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, { message: "a WireGuard public key: 32 bytes in base64, 44 characters ending with =" });

const port = z.number().int({ message: "a whole number" }).min(1, { message: "a port from 1 to 65535" }).max(65535, { message: "a port from 1 to 65535" });

const vmGroup = z.strictObject({
  /** How many VMs of the role. */
  count: z.number().int({ message: "a whole number" }).min(0, { message: "zero or more" }).optional(),
  /** Explicit VM names (instead of count): one VM per name. */
  names: z.array(name("VM")).optional(),
  /** Flavor for the role. @default the site's flavors.default */
  flavor: z.string().min(1).optional(),
  /** Image for the role. @default the site's image */
  image: z.string().min(1).optional(),
  /** Size in GB of a persistent Cinder volume per VM, for stateful jobs. @default - no volume */
  volumeGb: z.number().int().min(1, { message: "a size in GB of at least 1" }).optional(),
});
export type VmGroupInput = z.infer<typeof vmGroup>;

const vpnPeer = z.strictObject({
  name: name("peer"),
  publicKey: wgKey,
  /** The peer's tunnel address, inside vpn.range. */
  address: ipv4,
});

/** The reference systems a site can run (constructs/workloads/systems.ts). */
export const SYSTEMS = ["fleet", "community", "paas", "images"] as const;
export type SystemName = (typeof SYSTEMS)[number];

const url = z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, { message: "an http(s) URL, e.g. https://s3.example.org" });

/** A workload declared in the deployment file (a stateless HTTP service). */
const appSchema = z.strictObject({
  name: name("workload"),
  description: z.string().min(1).default("application"),
  image: z.string().min(1, { message: "a container image" }),
  version: z.string().min(1, { message: "an image tag" }),
  cpuMhz: z.number().int().min(1, { message: "a CPU ask in MHz >= 1" }),
  memoryMb: z.number().int().min(1, { message: "a memory ask in MB >= 1" }),
  /** @default 2 */
  count: z.number().int().min(1, { message: "a count >= 1" }).default(2),
  /** The HTTP port the application listens on. */
  port: z.number().int().min(1, { message: "a port from 1 to 65535" }).max(65535, { message: "a port from 1 to 65535" }),
  /** @default "/health" */
  healthPath: z.string().regex(/^\//, { message: "a path starting with /" }).default("/health"),
  /** Publish as <public>.<domain> through the ingress. @default - internal only */
  public: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, { message: "a host name label, e.g. api" }).optional(),
  /** Prometheus scrapes this path. @default - not scraped */
  metricsPath: z.string().regex(/^\//, { message: "a path starting with /" }).optional(),
  /** Services it calls, each on 127.0.0.1:localPort (by default the service's own port). */
  dependsOn: z.array(z.strictObject({ service: name("service"), localPort: z.number().int().min(1).max(65535, { message: "a port from 1 to 65535" }).optional() })).default([]),
  scaling: z.strictObject({ min: z.number().int().min(1), max: z.number().int().min(1), cpuTargetPercent: z.number().int().min(1).max(100).optional() }).optional(),
  env: z.record(z.string(), z.string()).default({}),
  settings: z.record(z.string(), z.string()).default({}),
});
export type AppInput = z.infer<typeof appSchema>;

const platformSchema = z.strictObject({
  /** DNS suffix of the public host names: <service>.<domain>. */
  domain: z.string().regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, { message: "a DNS domain, e.g. fleet.example.org" }),
  /** Registry and path prefix of the reference systems' own images, e.g. registry.example.org/fleet. */
  registry: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/, { message: "an image registry and path, e.g. registry.example.org/fleet" }),
  /** Tag of the reference systems' own images. @default "1.0.0" */
  version: z.string().min(1).default("1.0.0"),
  /** Reference systems to run. @default - none (only the shared services) */
  systems: z.array(z.enum(SYSTEMS, { message: `one of ${SYSTEMS.join(", ")}` })).default([]),
  /** Warm standby: data services and one replica of each stateless service. @default false */
  standby: z.boolean().default(false),
  /** Size of each flavor the Nomad clients use, for the capacity check at synth. */
  flavorSizes: z.record(
    z.string(),
    z.strictObject({
      vcpus: z.number().int().min(1, { message: "at least 1 vCPU" }),
      ramMb: z.number().int().min(256, { message: "at least 256 MB" }),
    }),
  ),
  /** CPU MHz Nomad counts per vCPU. @default 2000 */
  cpuMhzPerVcpu: z.number().int().min(500, { message: "at least 500 MHz" }).default(2000),
  /** Share of each client kept for the OS and the agents, in percent. @default 10 */
  reservedPercent: z.number().int().min(0).max(90, { message: "a percentage from 0 to 90" }).default(10),
  /** Where the backups go: the other site's S3-compatible object storage. @default - no backups */
  backups: z.strictObject({ endpoint: url, bucket: z.string().min(3), region: z.string().min(1).default("us-east-1") }).optional(),
  /** Your own workloads, declared here. @default - none */
  apps: z.array(appSchema).default([]),
  /** Alertmanager's webhook receiver: where alerts are posted. */
  alertWebhook: url,
});
export type PlatformInput = z.infer<typeof platformSchema>;

export const siteSchema = z.strictObject({
  name: name("site"),
  /** OpenStack region. */
  region: z.string().min(1),
  /** Entry of clouds.yaml that holds the credentials (never the credentials themselves). @default the site name */
  cloud: z.string().min(1).optional(),
  /** Name of the external (provider) network that floating IPs come from. */
  externalNetwork: z.string().min(1),
  /** DNS servers handed out by DHCP on the private subnets. */
  dnsServers: z.array(ipv4).min(1, { message: "at least one DNS server" }).default(["1.1.1.1", "9.9.9.9"]),
  addressPlan: z.strictObject({
    /** The whole site's range; every tier lies inside it. */
    site: cidr,
    /** Per-tier subnets. @default - consecutive /24s carved from the site range, in the order utility, servers, clients, development */
    tiers: z.strictObject({ utility: cidr, servers: cidr, clients: cidr, development: cidr }).partial().default({}),
  }),
  /** Default image name for every role. */
  image: z.string().min(1),
  /** Flavor per role; `default` for the roles not named. */
  flavors: z.strictObject({ default: z.string().min(1).optional(), ...Object.fromEntries(ROLES.map((r) => [r, z.string().min(1).optional()])) }),
  /** VMs per role. Keys must be roles. */
  vms: z.record(z.string(), vmGroup).default({}),
  /** Server group policy for the Consul/Nomad servers: hard anti-affinity, or soft for small clouds. */
  antiAffinity: z.enum(["hard", "soft"], { message: "hard or soft" }).default("hard"),
  admins: z.strictObject({
    /** SSH public keys installed on every VM for the admin user. */
    sshKeys: z.array(sshKey).min(1, { message: "at least one SSH public key (an empty list would lock every admin out)" }),
    /** Networks allowed to reach the bastion's SSH port. */
    networks: z.array(cidr).min(1, { message: "at least one admin network for the bastion" }),
  }),
  vpn: z.strictObject({
    /** WireGuard UDP port on the gateway. */
    port: port.default(51820),
    /** Tunnel addresses of the admins' peers; the gateway takes the first host. */
    range: cidr,
    /** The gateway's own WireGuard public key; its private key is a sensitive Terraform variable. */
    publicKey: wgKey,
    /** Admins' WireGuard peers. */
    peers: z.array(vpnPeer).default([]),
  }),
  /** Name of the site this one is linked to by a site-to-site tunnel (and federated with). @default - none */
  peerSite: name("site").optional(),
  /** Consul datacenter and Nomad region. @default the site name */
  datacenter: name("datacenter").optional(),
  /** What the site's platform stack runs. @default - the platform stack configures the cluster only */
  platform: platformSchema.optional(),
});
export type SiteInput = z.infer<typeof siteSchema>;

/**
 * Where Terraform keeps each stack's state. Credentials never go here: Terraform's backends read
 * them from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for s3, TF_HTTP_USERNAME /
 * TF_HTTP_PASSWORD for http).
 */
const backendSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("local") }),
  z.strictObject({
    type: z.literal("s3"),
    /** The bucket; each stack's state is `<keyPrefix><stack>.tfstate`. */
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "an S3 bucket name (3-63 lower-case letters, digits, '.', '-')" }),
    /** @default "" */
    keyPrefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, { message: "a key prefix ending with /, e.g. fleet/" }).default(""),
    region: z.string().min(1),
    /** An S3-compatible endpoint (OpenStack Swift's S3 API, Ceph RGW, MinIO). @default - AWS S3 */
    endpoint: url.optional(),
  }),
  z.strictObject({
    type: z.literal("http"),
    /** Base URL; each stack's state is at `<address><stack>` (GitLab, a state server). */
    address: z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?\/$/, { message: "an http(s) URL ending with /, e.g. https://state.example.org/fleet/" }),
  }),
], { message: "a backend type: local, s3 or http" });
export type BackendInput = z.infer<typeof backendSchema>;

export const deploymentSchema = z.strictObject({
  /** Prefix of every resource name, so that several deployments can share a project. */
  project: name("project"),
  /** Admin user created on every VM. @default "ops" */
  adminUser: name("user").default("ops"),
  /** Where Terraform keeps the state. @default { type: local }: terraform.<stack>.tfstate beside the project */
  backend: backendSchema.default({ type: "local" }),
  sites: z.array(siteSchema).min(1, { message: "at least one site" }),
});
export type DeploymentInput = z.infer<typeof deploymentSchema>;
