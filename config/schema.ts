/**
 * The deployment description: what `config/deployment.yaml` may say, with its defaults.
 *
 * The shape is checked here by zod (types, ranges, unknown keys); relations between fields
 * (overlapping ranges, quorum, capacity of the address plan, the fields only some sites need) are
 * checked in ./deployment.ts (resolveSite, crossSiteChecks).
 *
 * Every field is documented in the FIELDS registry (what it does, an example, what happens when
 * it is left out): the README's table of fields is generated from it (config/fields.ts, checked by
 * a unit test), and a shape error quotes the field's example.
 */
import { TESTED_AGENT_VERSIONS } from "./versions";
import * as ipaddr from "ipaddr.js";
import { z } from "zod";

/** The VM roles a site can have. */
export const ROLES = ["server", "client", "development", "bastion", "vpn", "ingress"] as const;
export type Role = (typeof ROLES)[number];

/** The address tiers of a site's private network. */
export const TIERS = ["utility", "servers", "clients", "development"] as const;
export type Tier = (typeof TIERS)[number];

/**
 * Default number of VMs per role. Development VMs are made only when the file asks for them
 * (`vms.development`); the others are what a working site needs (a quorum of servers, clients to
 * run the jobs, one ingress, the bastion and the VPN gateway).
 */
export const DEFAULT_COUNTS: Readonly<Record<Role, number>> = { server: 3, client: 3, development: 0, bastion: 1, vpn: 1, ingress: 1 };

/** What the README's table of fields, and the errors about a field, say of it. */
export interface FieldDoc {
  /** What the field does. */
  readonly doc: string;
  /** A value as it would be written in the file. */
  readonly example: unknown;
  /** For a field that may be left out without a zod default: what happens then. */
  readonly absent?: string;
  /** For a field required only by what needs it: when it is required, and why. */
  readonly requiredWhen?: string;
  /** For a mapping with free keys: the placeholder of its keys in field paths, e.g. `<role>`. */
  readonly key?: string;
}

/** The documentation of every field of the deployment file. */
export const FIELDS = z.registry<FieldDoc>();

/** The schema documented as one field: a copy, so that a shared schema (a URL, a CIDR) is documented per field. */
function field<T extends z.ZodType>(schema: T, doc: FieldDoc): T {
  const copy = schema.clone() as T;
  FIELDS.add(copy, doc);
  return copy;
}

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

const WG_EXAMPLE = "qSgvZQz3U9cOfSpW8seF6kJpfRPE1dNBHhuPuUjkElI=";
const SSH_EXAMPLE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0vT9n1j0mCq0yXU2mN4x2mVtX9Jm5T3bC6s0F0b1Z alice@ops";

const countText = ROLES.map((r) => `${r} ${DEFAULT_COUNTS[r]}`).join(", ");

const vmGroup = field(
  z.strictObject({
    count: field(z.number().int({ message: "a whole number" }).min(0, { message: "zero or more" }).optional(), {
      doc: "How many VMs of the role, named `<role>-1`, `<role>-2`... Servers: 3, 5 or 7; bastion and vpn: exactly 1; ingress: at least 1",
      example: 3,
      absent: `the number of names, else per role: ${countText} (no development VM unless asked for)`,
    }),
    names: field(z.array(name("VM")).optional(), { doc: "Explicit VM names instead of a count: one VM per name", example: ["dev-fleet", "dev-web"], absent: "`<role>-<n>` names from the count" }),
    flavor: field(z.string().min(1).optional(), { doc: "Flavor of the role's VMs", example: "m1.large", absent: "`flavors.<role>`, else `flavors.default`" }),
    image: field(z.string().min(1).optional(), { doc: "Image of the role's VMs", example: "debian-12", absent: "the site's `image`" }),
    volumeGb: field(z.number().int({ message: "a whole number of GB" }).min(1, { message: "a size in GB of at least 1" }).optional(), {
      doc: "Size in GB of a persistent Cinder volume per VM: the data disk of stateful jobs on clients; on servers, their Raft data and node identity (`/var/lib/platform`), kept across a replacement",
      example: 50,
      absent: "no volume, except servers: 10 GB",
      requiredWhen:
        "for `client` when the site has a `platform`: Prometheus, Loki and the reference systems' databases keep their data on the clients' data disk",
    }),
  }),
  { doc: "The VMs of one role (`server`, `client`, `development`, `bastion`, `vpn`, `ingress`)", example: { count: 3, volumeGb: 50 }, absent: "the role's default count, with the site's flavors and image" },
);
export type VmGroupInput = z.infer<typeof vmGroup>;

const vpnPeer = z.strictObject({
  name: field(name("peer"), { doc: "The peer's name: the output `wireguard_<name>` holds its wg-quick configuration", example: "alice" }),
  publicKey: field(wgKey, { doc: "The peer's WireGuard public key", example: "OnTJmPmVjbWFjlyeI6FOxX/7Q4aX4h2UVCEAYiTzEHU=" }),
  address: field(ipv4, { doc: "The peer's tunnel address, inside `vpn.range`, not the gateway's", example: "10.210.0.10" }),
});

/** The reference systems a site can run (constructs/workloads/systems.ts). */
export const SYSTEMS = ["fleet", "community", "paas", "images"] as const;
export type SystemName = (typeof SYSTEMS)[number];

const url = z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, { message: "an http(s) URL, e.g. https://s3.example.org" });

/** A workload declared in the deployment file (a stateless HTTP service). */
const appSchema = z.strictObject({
  name: field(name("workload"), { doc: "The workload's name: its Nomad job, Consul service and settings prefix", example: "hello" }),
  description: field(z.string().min(1).default("application"), { doc: "Shown in the job's meta and the Consul policy", example: "the hello page" }),
  image: field(z.string().min(1, { message: "a container image" }), { doc: "Container image, without tag or digest", example: "nginxdemos/hello" }),
  version: field(z.string().min(1, { message: "an image tag" }), { doc: "Image tag or `sha256:` digest; moving tags such as `latest` are refused", example: "0.4" }),
  cpuMhz: field(z.number().int({ message: "a whole number" }).min(1, { message: "a CPU ask in MHz >= 1" }), { doc: "CPU ask per instance, in MHz", example: 100 }),
  memoryMb: field(z.number().int({ message: "a whole number" }).min(1, { message: "a memory ask in MB >= 1" }), { doc: "Memory ask per instance, in MB", example: 64 }),
  count: field(z.number().int({ message: "a whole number" }).min(1, { message: "a count >= 1" }).default(2), {
    doc: "Instances: two by default, so that a rolling update (one canary at a time) or the loss of one client leaves one serving; with `scaling`, the starting count",
    example: 3,
  }),
  port: field(z.number().int({ message: "a whole number" }).min(1, { message: "a port from 1 to 65535" }).max(65535, { message: "a port from 1 to 65535" }), {
    doc: "The HTTP port the application listens on",
    example: 80,
  }),
  healthPath: field(z.string().regex(/^\//, { message: "a path starting with /" }).default("/health"), { doc: "Path of the HTTP health check", example: "/" }),
  public: field(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, { message: "a host name label, e.g. api" }).optional(), {
    doc: "Publish as `<public>.<domain>` through the ingress",
    example: "hello",
    absent: "internal only",
  }),
  metricsPath: field(z.string().regex(/^\//, { message: "a path starting with /" }).optional(), { doc: "Prometheus scrapes this path", example: "/metrics", absent: "not scraped" }),
  dependsOn: field(
    z
      .array(
        z.strictObject({
          service: field(name("service"), { doc: "Another workload of the site", example: "fleet-api" }),
          localPort: field(z.number().int({ message: "a whole number" }).min(1, { message: "a port from 1 to 65535" }).max(65535, { message: "a port from 1 to 65535" }).optional(), {
            doc: "It is reached at `127.0.0.1:<localPort>` (its Connect upstream)",
            example: 9100,
            absent: "the service's own port",
          }),
        }),
      )
      .default([]),
    { doc: "Services it calls (intentions, upstreams and its Consul policy follow)", example: [{ service: "fleet-api", localPort: 9100 }] },
  ),
  scaling: field(
    z
      .strictObject({
        min: field(z.number().int({ message: "a whole number" }).min(1, { message: "at least 1" }), { doc: "Fewest instances", example: 2 }),
        max: field(z.number().int({ message: "a whole number" }).min(1, { message: "at least 1" }), { doc: "Most instances (the capacity check counts these)", example: 6 }),
        cpuTargetPercent: field(z.number().int({ message: "a whole number" }).min(1, { message: "a percentage from 1 to 100" }).max(100, { message: "a percentage from 1 to 100" }).optional(), {
          doc: "CPU use the autoscaler aims at",
          example: 70,
          absent: "70",
        }),
      })
      .optional(),
    { doc: "Autoscaled on CPU by the Nomad Autoscaler", example: { min: 2, max: 6 }, absent: "a fixed count" },
  ),
  env: field(z.record(z.string(), z.string({ message: "a string (quote numbers and booleans)" })).default({}), { doc: "Environment variables of the task (not secrets)", example: { LOG_LEVEL: "info" } }),
  settings: field(z.record(z.string(), z.string({ message: "a string (quote numbers and booleans)" })).default({}), {
    doc: "Consul KV settings under `config/<name>/`, which the app's policy may read",
    example: { greeting: "hello" },
  }),
});
export type AppInput = z.infer<typeof appSchema>;

const platformSchema = z.strictObject({
  domain: field(z.string().regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, { message: "a DNS domain, e.g. fleet.example.org" }), {
    doc: "DNS suffix of the public host names: `<service>.<domain>` (the ingress certificate is for `*.<domain>`)",
    example: "fleet.example.org",
  }),
  registry: field(z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/, { message: "an image registry and path, e.g. registry.example.org/fleet" }).optional(), {
    doc: "Registry and path prefix of the reference systems' own images and of the database backup images (`<registry>/postgres-backup`, `<registry>/mariadb-backup`)",
    example: "registry.fleet.example.org/platform",
    absent: "none: nothing is pulled from it",
    requiredWhen: "when `systems` is not empty: the reference systems run images from it",
  }),
  version: field(z.string().min(1).default("1.0.0"), { doc: "Tag of the reference systems' own images", example: "1.2.0" }),
  systems: field(z.array(z.enum(SYSTEMS, { message: `one of ${SYSTEMS.join(", ")}` })).default([]), {
    doc: `Reference systems to run: ${SYSTEMS.map((s) => `\`${s}\``).join(", ")}`,
    example: ["fleet", "paas"],
  }),
  standby: field(z.boolean().default(false), { doc: "Warm standby: data services and one replica of each stateless service", example: true }),
  flavorSizes: field(
    z
      .record(
        z.string(),
        field(
          z.strictObject({
            vcpus: field(z.number().int({ message: "a whole number" }).min(1, { message: "at least 1 vCPU" }), { doc: "vCPUs of the flavor", example: 8 }),
            ramMb: field(z.number().int({ message: "a whole number" }).min(256, { message: "at least 256 MB" }), { doc: "RAM of the flavor, in MB", example: 16384 }),
          }),
          { doc: "The size of one flavor (`openstack flavor show <flavor>`)", example: { vcpus: 8, ramMb: 16384 }, absent: "one entry per flavor of the clients and the ingress VMs" },
        ),
      )
      .default({}),
    {
      doc: "Size of each flavor the Nomad clients and the ingress VMs use",
      example: { "m1.large": { vcpus: 8, ramMb: 16384 } },
      key: "<flavor>",
      requiredWhen: "for the flavors of the clients and the ingress VMs: the capacity check at synth compares the jobs' asks with what they hold",
    },
  ),
  cpuMhzPerVcpu: field(z.number().int({ message: "a whole number" }).min(500, { message: "at least 500 MHz" }).default(2000), { doc: "CPU MHz Nomad counts per vCPU, for the capacity check", example: 2400 }),
  reservedPercent: field(z.number().int({ message: "a whole number" }).min(0, { message: "a percentage from 0 to 90" }).max(90, { message: "a percentage from 0 to 90" }).default(10), {
    doc: "Share of each client kept for the OS and the agents, in percent",
    example: 15,
  }),
  backups: field(
    z
      .strictObject({
        endpoint: field(url, { doc: "S3 endpoint of the object storage (the other site's)", example: "https://object.backup.example.org" }),
        bucket: field(z.string().min(3, { message: "a bucket name of at least 3 characters" }), { doc: "The bucket; each site writes under `<site>/`", example: "fleet-primary-backups" }),
        region: field(z.string().min(1).default("us-east-1"), { doc: "The S3 region the endpoint expects", example: "RegionTwo" }),
      })
      .optional(),
    {
      doc: "Nightly backups of Consul, Nomad and every database to S3-compatible object storage (credentials: `TF_VAR_backup_s3_access_key_id`, `TF_VAR_backup_s3_secret_access_key`)",
      example: { endpoint: "https://object.backup.example.org", bucket: "fleet-primary-backups" },
      absent: "no backups",
    },
  ),
  dataVolumes: field(
    z
      .record(
        z.string().min(1),
        field(z.string().min(1, { message: "a client's name, e.g. client-1" }), { doc: "The client (its name in `vms.client`) that keeps this data volume", example: "client-1" }),
      )
      .default({}),
    {
      doc: "Which client keeps each data volume of the site's workloads (databases, object stores, Prometheus, Loki): a volume stays on its client, so adding or removing a client never moves one",
      example: { "fleet-postgres": "client-1", "prometheus-data": "client-2" },
      key: "<volume>",
      requiredWhen: "for every data volume of the site's workloads: the synth error lists the missing ones, with a placement to start from",
    },
  ),
  apps: field(z.array(appSchema).default([]), { doc: "Your own workloads (see Adding a workload)", example: [{ name: "hello", image: "nginxdemos/hello", version: "0.4", cpuMhz: 100, memoryMb: 64, port: 80 }] }),
  alertWebhook: field(url.optional(), {
    doc: "Where Alertmanager posts every alert (and its resolution)",
    example: "https://alerts.fleet.example.org/hooks/primary",
    absent: "alerts are not routed: they fire in Prometheus (Grafana shows them) and Alertmanager posts them nowhere",
  }),
});
export type PlatformInput = z.infer<typeof platformSchema>;

const flavorName = (role: string) => field(z.string().min(1).optional(), { doc: `Flavor of the ${role}`, example: role === "Nomad clients" ? "m1.large" : "m1.small", absent: "`flavors.default`" });

export const siteSchema = z.strictObject({
  name: field(name("site"), { doc: "The site's name: stacks `<name>-infra` and `<name>-platform`", example: "primary" }),
  region: field(z.string().min(1), { doc: "OpenStack region of the site's resources", example: "RegionOne" }),
  cloud: field(z.string().min(1).optional(), { doc: "Entry of clouds.yaml that holds the credentials (never the credentials themselves)", example: "primary", absent: "the site name" }),
  externalNetwork: field(z.string().min(1), { doc: "External (provider) network of the floating IPs and the router's gateway (`openstack network list --external`)", example: "public" }),
  dnsServers: field(z.array(ipv4).min(1, { message: "at least one DNS server" }).default(["1.1.1.1", "9.9.9.9"]), { doc: "DNS servers handed out by DHCP on the private subnets", example: ["10.0.0.53"] }),
  addressPlan: field(
    z.strictObject({
      site: field(cidr, { doc: "The whole site's range; every tier lies inside it; sites and VPN ranges may not overlap", example: "10.10.0.0/16" }),
      tiers: field(
        z
          .strictObject({
            utility: field(cidr, { doc: "Bastion (.10), VPN gateway (.11), ingress (.12 on)", example: "10.10.0.0/24", absent: "carved from the site range" }),
            servers: field(cidr, { doc: "Consul + Nomad servers, at fixed addresses from .10", example: "10.10.1.0/24", absent: "carved from the site range" }),
            clients: field(cidr, { doc: "Nomad clients (DHCP)", example: "10.10.2.0/24", absent: "carved from the site range" }),
            development: field(cidr, { doc: "Development VMs (DHCP)", example: "10.10.3.0/24", absent: "carved from the site range" }),
          })
          .partial()
          .default({}),
        { doc: "Per-tier subnets", example: { utility: "10.10.0.0/24", servers: "10.10.1.0/24" }, absent: "consecutive /24s carved from the site range, in the order utility, servers, clients, development (the site range must be /22 or larger)" },
      ),
    }),
    { doc: "The site's private addresses", example: { site: "10.10.0.0/16" } },
  ),
  image: field(z.string().min(1), {
    doc: "Image every VM boots (`vms.<role>.image` overrides): a Debian 12 image of the cloud (`openstack image list`); no default, since image names differ from cloud to cloud and cloud-init installs Consul, Nomad and the rest with apt",
    example: "debian-12",
  }),
  flavors: field(
    z
      .strictObject({
        default: field(z.string().min(1).optional(), { doc: "Flavor of every role not named", example: "m1.medium", absent: "each role with VMs needs `flavors.<role>` or `vms.<role>.flavor`" }),
        server: flavorName("Consul + Nomad servers"),
        client: flavorName("Nomad clients"),
        development: flavorName("development VMs"),
        bastion: flavorName("bastion"),
        vpn: flavorName("VPN gateway"),
        ingress: flavorName("ingress VMs"),
      })
      .default({}),
    {
      doc: "Flavor per role; `default` for the roles not named. No default: flavor names differ from cloud to cloud (`openstack flavor list`)",
      example: { default: "m1.medium", client: "m1.large", bastion: "m1.small" },
      requiredWhen: "unless every role with VMs names its flavor in `vms.<role>.flavor`",
    },
  ),
  vms: field(z.record(z.string(), vmGroup).default({}), {
    doc: `VMs per role; a role left out gets its default count (${countText})`,
    example: { client: { count: 4, volumeGb: 50 }, development: { names: ["dev-web"] } },
    key: "<role>",
  }),
  antiAffinity: field(z.enum(["hard", "soft"], { message: "hard or soft" }).default("hard"), {
    doc: "Server group policy of the Consul/Nomad servers: `hard` needs as many hypervisors as servers, `soft` for small clouds",
    example: "soft",
  }),
  agents: field(
    z
      .strictObject({
        consul: field(z.string().optional(), { doc: `Consul version of the site's VMs (the HashiCorp package); an upgrade jumps at most 2 minor versions, never down, and rolls (servers first)`, example: TESTED_AGENT_VERSIONS.consul, absent: `the tested version, ${TESTED_AGENT_VERSIONS.consul}` }),
        nomad: field(z.string().optional(), { doc: `Nomad version of the site's VMs; an upgrade jumps at most 1 minor version, never down, and rolls (servers first)`, example: TESTED_AGENT_VERSIONS.nomad, absent: `the tested version, ${TESTED_AGENT_VERSIONS.nomad}` }),
      })
      .default({}),
    { doc: `The agents' versions (see Changing a running site: upgrades); default: the versions the library is tested with (Consul ${TESTED_AGENT_VERSIONS.consul}, Nomad ${TESTED_AGENT_VERSIONS.nomad})`, example: { consul: TESTED_AGENT_VERSIONS.consul, nomad: TESTED_AGENT_VERSIONS.nomad } },
  ),
  admins: field(
    z.strictObject({
      sshKeys: field(z.array(sshKey).min(1, { message: "at least one SSH public key (an empty list would lock every admin out)" }), {
        doc: "SSH public keys of the admin user on every VM (keys only, no password)",
        example: [SSH_EXAMPLE],
      }),
      networks: field(z.array(cidr).min(1, { message: "at least one admin network for the bastion" }), { doc: "Networks allowed to reach the bastion's SSH port (not 0.0.0.0/0)", example: ["198.51.100.0/24"] }),
    }),
    { doc: "Who administers the site", example: { sshKeys: [SSH_EXAMPLE], networks: ["198.51.100.0/24"] } },
  ),
  vpn: field(
    z.strictObject({
      port: field(port.default(51820), { doc: "WireGuard UDP port of the admins' tunnel; the site-to-site tunnel uses port + 1", example: 51820 }),
      range: field(cidr, { doc: "Tunnel addresses of the admins' peers, outside every site range; the gateway takes the first host", example: "10.210.0.0/24" }),
      publicKey: field(wgKey, { doc: "The gateway's WireGuard public key (`wg genkey | tee key | wg pubkey`); its private key is the sensitive variable `vpn_private_key`", example: WG_EXAMPLE }),
      peers: field(z.array(vpnPeer).default([]), {
        doc: "Admins' WireGuard peers: at least one, since the platform stack is deployed through the VPN",
        example: [{ name: "alice", publicKey: "OnTJmPmVjbWFjlyeI6FOxX/7Q4aX4h2UVCEAYiTzEHU=", address: "10.210.0.10" }],
      }),
    }),
    { doc: "The site's WireGuard gateway", example: { range: "10.210.0.0/24", publicKey: WG_EXAMPLE } },
  ),
  peerSite: field(name("site").optional(), { doc: "The site linked by a site-to-site tunnel and federated with, declared on both sites", example: "backup", absent: "no link" }),
  datacenter: field(name("datacenter").optional(), { doc: "Consul datacenter and Nomad region", example: "dc-primary", absent: "the site name" }),
  platform: field(platformSchema.optional(), {
    doc: "What the site's platform stack runs: the shared services (ingress, monitoring, logs, autoscaler), the reference systems, your apps",
    example: { domain: "fleet.example.org" },
    absent: "the platform stack configures the cluster only",
  }),
});
export type SiteInput = z.infer<typeof siteSchema>;

/** The most a pg schema prefix may hold: PostgreSQL names are at most 63 bytes, a stack name up to 40 (a site name of 31 and `-platform`). */
export const PG_SCHEMA_PREFIX_MAX = 23;

/**
 * Where Terraform keeps each stack's state. Credentials never go here: Terraform's backends read
 * them from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for s3, TF_HTTP_USERNAME /
 * TF_HTTP_PASSWORD for http, PG_CONN_STR for pg).
 */
const backendType = <T extends string>(type: T, doc: string) => field(z.literal(type), { doc, example: type });
const backendSchema = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: backendType("local", "`local`, `s3`, `http` or `pg`") }),
    z.strictObject({
      type: backendType("s3", "`local`, `s3`, `http` or `pg`"),
      bucket: field(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "an S3 bucket name (3-63 lower-case letters, digits, '.', '-'), e.g. fleet-tfstate" }), {
        doc: "s3: the bucket; each stack's state is `<keyPrefix><stack>.tfstate`",
        example: "fleet-tfstate",
      }),
      keyPrefix: field(z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, { message: "a key prefix ending with /, e.g. fleet/" }).default(""), { doc: "s3: prefix of the state keys", example: "fleet/" }),
      region: field(z.string().min(1), { doc: "s3: the region the endpoint expects", example: "RegionOne" }),
      endpoint: field(url.optional(), { doc: "s3: an S3-compatible endpoint (OpenStack Swift's S3 API, Ceph RGW, MinIO)", example: "https://object.example.org", absent: "AWS S3" }),
    }),
    z.strictObject({
      type: backendType("http", "`local`, `s3`, `http` or `pg`"),
      address: field(z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?\/$/, { message: "an http(s) URL ending with /, e.g. https://state.example.org/fleet/" }), {
        doc: "http: base URL; each stack's state is at `<address><stack>`, locked there (GitLab, a state server)",
        example: "https://state.example.org/fleet/",
      }),
    }),
    z.strictObject({
      type: backendType("pg", "`local`, `s3`, `http` or `pg`"),
      schemaPrefix: field(
        z
          .string()
          .regex(/^([a-z_][a-z0-9_]*)?$/, { message: "a PostgreSQL schema name prefix: lower-case letters, digits and _, not starting with a digit, e.g. fleet_" })
          .max(PG_SCHEMA_PREFIX_MAX, { message: `at most ${PG_SCHEMA_PREFIX_MAX} characters (PostgreSQL names are at most 63 bytes, and a stack name takes up to 40), e.g. fleet_` })
          .default(""),
        { doc: "pg: each stack's state is in the schema `<schemaPrefix><stack>`, `-` written `_` (e.g. `fleet_primary_infra`); the connection string comes from `PG_CONN_STR`", example: "fleet_" },
      ),
    }),
  ],
  { message: "a backend type: local, s3, http or pg, e.g. { type: s3, bucket: fleet-tfstate, region: RegionOne }" },
);
export type BackendInput = z.infer<typeof backendSchema>;

export const deploymentSchema = z.strictObject({
  project: field(name("project"), { doc: "Prefix of every resource name, so that several deployments can share an OpenStack project", example: "fleet" }),
  adminUser: field(name("user").default("ops"), { doc: "Admin account created on every VM (SSH keys only)", example: "ops" }),
  backend: field(backendSchema.default({ type: "local" }), {
    doc: "Where Terraform keeps each stack's state (see Secrets and the Terraform state); the platform stacks read the infra outputs from it",
    example: { type: "s3", bucket: "fleet-tfstate", region: "RegionOne" },
  }),
  certificates: field(
    z
      .strictObject({
        agentValidityDays: field(z.number().int({ message: "a whole number of days" }).min(30, { message: "at least 30 days" }).default(365), {
          doc: "Lifetime of each agent's certificate (Consul and Nomad TLS); changing it re-issues every certificate, and every VM waits for its roll",
          example: 365,
        }),
        renewBeforeDays: field(z.number().int({ message: "a whole number of days" }).min(7, { message: "at least 7 days" }).default(30), {
          doc: "How long before an agent's certificate expires an apply re-issues it (every VM then waits in `pending_roll`): the time left to roll them",
          example: 30,
        }),
        caValidityDays: field(z.number().int({ message: "a whole number of days" }).min(365, { message: "at least 365 days" }).default(1825), {
          doc: "Lifetime of the cluster CA (shared by a federation); renewed with the same key 365 days before it expires, so certificates it signed stay valid",
          example: 1825,
        }),
      })
      .default({ agentValidityDays: 365, renewBeforeDays: 30, caValidityDays: 1825 }),
    { doc: "The TLS certificates of the agents and their CA (see Changing a running site: certificates)", example: { agentValidityDays: 365, renewBeforeDays: 30 } },
  ),
  sites: field(z.array(siteSchema).min(1, { message: "at least one site" }), { doc: "Every site: two stacks each", example: [{ name: "primary", region: "RegionOne" }] }),
});
export type CertificatesInput = z.infer<typeof deploymentSchema>["certificates"];
export type DeploymentInput = z.infer<typeof deploymentSchema>;
