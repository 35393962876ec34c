/**
 * A workload's one declaration: what it runs, its port, its public route, the services it depends
 * on. Plain data, so that the infra layer (firewall) and the platform layer (jobs, intentions,
 * ACLs, ingress routes, monitoring) derive everything from the same object.
 */
import { ServiceProtocol } from "../consul/mesh";
import { ProblemsError } from "../problems";

/** A route from the public ingress to the workload. */
export interface PublicRoute {
  /** Host name the ingress matches, e.g. `api.example.org`. */
  readonly host: string;
  /** Path prefix the ingress matches. @default "/" */
  readonly pathPrefix?: string;
}

/** The workload's service port. */
export interface WorkloadPort {
  /** Port the application listens on inside its allocation. */
  readonly containerPort: number;
  /** @default ServiceProtocol.HTTP */
  readonly protocol?: ServiceProtocol;
  /** HTTP path of the health check (HTTP services). @default "/health" */
  readonly healthPath?: string;
  /**
   * Command run in the task as the health check (argv), for TCP services: in the mesh the port
   * listens on the allocation's loopback only, where Consul cannot probe it. Required for TCP.
   */
  readonly healthCommand?: readonly string[];
  /** Served to the Internet through the ingress. @default - internal only */
  readonly public?: PublicRoute;
  /** Prometheus scrapes this path on the service port. @default - not scraped */
  readonly metricsPath?: string;
}

/** A port bound on the client host itself (only the ingress needs one). */
export interface HostPort {
  readonly label: string;
  /** Port on the client host. */
  readonly port: number;
  /** Port inside the allocation it maps to (so that a process need not bind a privileged port). @default the same port */
  readonly to?: number;
  /** Who may reach it: anywhere (public entry) or only the site's clients. */
  readonly from: "anywhere" | "clients";
}

/** A service this workload calls, reached through its Connect sidecar on a local port. */
export interface Dependency {
  readonly service: string;
  /** Port on 127.0.0.1 inside the allocation where the upstream is reachable. */
  readonly localPort: number;
  /** Datacenter of the service. @default - the local one */
  readonly datacenter?: string;
}

/**
 * A dependency on `workload` (the object, not its name): reached on 127.0.0.1:`localPort` inside
 * the allocation, by default the workload's own port.
 */
export function dependencyOn(workload: Pick<WorkloadSpec, "name" | "port">, opts: { readonly localPort?: number; readonly datacenter?: string } = {}): Dependency {
  const localPort = opts.localPort ?? workload.port?.containerPort;
  if (localPort === undefined) throw new ProblemsError([`dependency on ${workload.name}: localPort: received nothing; expected a port, since ${workload.name} declares none of its own`]);
  return { service: workload.name, localPort, ...(opts.datacenter ? { datacenter: opts.datacenter } : {}) };
}

/** A file rendered into the task (a Nomad template): static content or a consul-template. */
export interface WorkloadFile {
  /** Path relative to the task directory, e.g. `local/prometheus.yml`. */
  readonly destination: string;
  readonly content: string;
  /** Signal sent on change instead of a restart. @default - restart */
  readonly changeSignal?: string;
  /** Export the rendered `KEY=value` lines as environment variables. @default false */
  readonly env?: boolean;
  /**
   * The Nomad variable keys the template reads, with where each value comes from: the platform
   * stack creates the variables from these declarations (secretEnvFile and secretFile fill it).
   * @default - none
   */
  readonly secrets?: readonly SecretRef[];
}

/** Where the value of a secret a workload reads comes from. */
export type SecretSource =
  | { readonly kind: "generated"; readonly owner: string }
  | { readonly kind: "variable"; readonly description: string }
  | { readonly kind: "cluster-ca" }
  | { readonly kind: "cluster-token"; readonly agent: "consul" | "nomad" }
  | { readonly kind: "ingress-certificate" }
  | { readonly kind: "ingress-private-key" };

/** The sources a workload's secrets may come from; the platform stack fills each kind. */
export class Secret {
  /**
   * A password Terraform generates (32 letters and digits: templates write it unquoted), one per
   * owner and key: the jobs that name the same owner (a database and its backup) share it.
   */
  static generated(owner: string): SecretSource {
    return { kind: "generated", owner };
  }
  /** A sensitive Terraform variable named like the key, given at deploy (`TF_VAR_<key>`); `description` is the variable's. */
  static variable(description: string): SecretSource {
    return { kind: "variable", description };
  }
  /** The cluster CA certificate (PEM), from the infra stack. */
  static clusterCa(): SecretSource {
    return { kind: "cluster-ca" };
  }
  /** A management token of the cluster, from the infra stack (the snapshot jobs: neither agent has a narrower permission). */
  static clusterToken(agent: "consul" | "nomad"): SecretSource {
    return { kind: "cluster-token", agent };
  }
  /** The ingress' TLS certificate (PEM). */
  static ingressCertificate(): SecretSource {
    return { kind: "ingress-certificate" };
  }
  /** The ingress' TLS private key (PEM). */
  static ingressPrivateKey(): SecretSource {
    return { kind: "ingress-private-key" };
  }
}

/** A key of a Nomad variable and where its value comes from. */
export interface SecretItem {
  readonly key: string;
  readonly source: SecretSource;
}

/** A secret a template reads: the variable's path, its key and the value's source. */
export interface SecretRef extends SecretItem {
  readonly path: string;
}

/** Autoscaling of a service workload on CPU, by the Nomad Autoscaler reading Prometheus. */
export interface WorkloadScaling {
  readonly min: number;
  readonly max: number;
  /** Average CPU use (percent of the ask) to keep. @default 70 */
  readonly cpuTargetPercent?: number;
}

export enum WorkloadKind {
  /** Long-running, rolling updates with canaries. */
  SERVICE = "service",
  /** One per client node. */
  SYSTEM = "system",
  /** Runs on a schedule. */
  PERIODIC = "periodic",
}

export interface WorkloadSpec {
  /** Job id and Consul service name. */
  readonly name: string;
  /** What the workload is, for reviewers and the job's meta. */
  readonly description: string;
  /** Container image without tag. */
  readonly image: string;
  /** Image tag. */
  readonly version: string;
  readonly resources: { readonly cpuMhz: number; readonly memoryMb: number };
  /** Instances. @default 2 for services, ignored for system jobs, 1 for periodic jobs */
  readonly count?: number;
  /** @default WorkloadKind.SERVICE */
  readonly kind?: WorkloadKind;
  /** Cron expression, for periodic workloads. */
  readonly schedule?: string;
  /** The service port. @default - no service (batch and system helpers) */
  readonly port?: WorkloadPort;
  readonly hostPorts?: readonly HostPort[];
  readonly dependsOn?: readonly Dependency[];
  readonly command?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Application settings, stored in Consul KV under `config/<name>/`. @default - none */
  readonly settings?: Readonly<Record<string, string>>;
  readonly files?: readonly WorkloadFile[];
  /**
   * A Nomad host volume. Without `hostPath`, a data volume: it lives on the data disk of one
   * client (the infra layer assigns it), so the workload always runs there. With `hostPath`, a
   * folder of the host that every client of the node class shares (e.g. the allocations' logs).
   */
  readonly volume?: {
    readonly source: string;
    readonly mountPath: string;
    /** @default false */
    readonly readOnly?: boolean;
    /** Host folder every client of the class exposes under `source`. @default - a data volume */
    readonly hostPath?: string;
  };
  readonly scaling?: WorkloadScaling;
  /** Node class the workload runs on. @default "production" */
  readonly nodeClass?: string;
  /** Extra Consul ACL rules the workload's tasks need (e.g. Prometheus' service discovery). */
  readonly consulAccess?: "service-discovery";
  /** Run in the host's network namespace (no sidecar). @default false */
  readonly hostNetwork?: boolean;
  /** The tasks call Nomad's API with their workload identity (NOMAD_TOKEN). @default false */
  readonly nomadApiAccess?: boolean;
  /** Which data service this is, when the catalog built it (data.ts): what its backup dumps. @default - not a data service */
  readonly dataService?: DataServiceKind;
  /**
   * A Nomad ACL policy for the workload's tasks, bound to its job (job_acl) and named like it:
   * what they may do with Nomad's API through their workload identity (`nomadApiAccess`).
   * @default - none
   */
  readonly nomadPolicy?: { readonly description: string; readonly rules: string };
  /**
   * Consul KV entries the platform stack writes from secret sources, deleted with the stack (a
   * secret a template reads with `key`, e.g. Grafana's admin password under its settings).
   * @default - none
   */
  readonly kvSecrets?: readonly { readonly path: string; readonly key: string; readonly source: SecretSource }[];
}

/** The data services of the catalog (data.ts). */
export enum DataServiceKind {
  POSTGRES = "postgres",
  INFLUXDB = "influxdb",
  MINIO = "minio",
  MARIADB = "mariadb",
  RABBITMQ = "rabbitmq",
}

export const DEFAULT_SERVICE_COUNT = 2;
/** The Nomad node classes of a site's clients, defined once: the infra stack gives them to the VMs, the jobs are placed by them. */
export const NODE_CLASSES = { clients: "production", ingress: "ingress" } as const;
export type NodeClass = (typeof NODE_CLASSES)[keyof typeof NODE_CLASSES];
export const DEFAULT_NODE_CLASS: NodeClass = NODE_CLASSES.clients;
/** The Nomad variable every job of the namespace may read: what the platform shares with all jobs. */
export const SHARED_VARIABLE_PATH = "nomad/jobs";
/** Key of the cluster CA certificate (PEM) in the shared variable. */
export const CLUSTER_CA_KEY = "cluster_ca_pem";
/**
 * A Nomad template that renders the cluster CA from the shared variable. Workloads take this
 * instead of the PEM itself: a multi-line value pasted into the job's JSON by Terraform would
 * break it, and the job stays the same when the CA is renewed.
 */
export const CLUSTER_CA_TEMPLATE = `{{ with nomadVar "${SHARED_VARIABLE_PATH}" }}{{ .${CLUSTER_CA_KEY} }}{{ end }}`;

/** The secret CLUSTER_CA_TEMPLATE reads. */
export const CLUSTER_CA_SECRET: SecretRef = { path: SHARED_VARIABLE_PATH, key: CLUSTER_CA_KEY, source: Secret.clusterCa() };

/** A file holding the CA `caPem` names: the shared variable's (with its secret declared) or a PEM given as is. */
export function caFileSecrets(caPem: string): readonly SecretRef[] {
  return caPem === CLUSTER_CA_TEMPLATE ? [CLUSTER_CA_SECRET] : [];
}

/** `nodeClass` of a system workload that runs on every client, whatever its class (e.g. the log collector). */
export const ANY_NODE_CLASS = "*";
export const DEFAULT_CPU_TARGET_PERCENT = 70;

/** Problems of a set of workloads as one deployment: names, dependencies, local ports, routes. */
export function validateWorkloads(specs: readonly WorkloadSpec[], where: string): string[] {
  const problems: string[] = [];
  const byName = new Map<string, WorkloadSpec>();
  for (const s of specs) {
    const at = `${where} workload "${s.name}"`;
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(s.name)) problems.push(`${at}: name ${JSON.stringify(s.name)}; expected lower-case letters, digits and dashes, starting with a letter`);
    if (byName.has(s.name)) problems.push(`${at}: name used twice; expected one workload per name`);
    byName.set(s.name, s);
    if (!s.image.trim()) problems.push(`${at}: image is empty; expected a container image`);
    if (!s.version.trim()) problems.push(`${at}: version is empty; expected an image tag`);
    if (s.count !== undefined && (!Number.isInteger(s.count) || s.count < 1)) problems.push(`${at}: count ${s.count}; expected a whole number >= 1`);
    if (s.scaling) {
      const { min, max } = s.scaling;
      if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) problems.push(`${at}: scaling min ${min}, max ${max}; expected whole numbers with 1 <= min <= max`);
      const count = s.count ?? DEFAULT_SERVICE_COUNT;
      if (count < min || count > max) problems.push(`${at}: count ${count} outside scaling [${min}, ${max}]; expected the starting count inside the range`);
    }
    if ((s.kind ?? WorkloadKind.SERVICE) === WorkloadKind.PERIODIC && !s.schedule) problems.push(`${at}: periodic workload without schedule; expected a cron expression`);
    if (s.port?.public && (s.port.protocol ?? ServiceProtocol.HTTP) !== ServiceProtocol.HTTP) problems.push(`${at}: public route on a ${s.port.protocol} port; expected an HTTP service behind the ingress`);
    if (s.port && s.port.protocol === ServiceProtocol.TCP && !s.hostNetwork && !(s.port.healthCommand && s.port.healthCommand.length > 0)) {
      problems.push(`${at}: TCP service without healthCommand; expected a command that checks it from inside the task (e.g. ["pg_isready"])`);
    }
    const localPorts = new Map<number, string>();
    for (const d of s.dependsOn ?? []) {
      if (d.service === s.name) problems.push(`${at}: depends on itself`);
      const prev = localPorts.get(d.localPort);
      if (prev) problems.push(`${at}: local port ${d.localPort} used for ${prev} and ${d.service}; expected one local port per dependency`);
      localPorts.set(d.localPort, d.service);
      if (s.port && d.localPort === s.port.containerPort) problems.push(`${at}: local port ${d.localPort} of ${d.service} is the workload's own port; expected another port`);
    }
  }
  for (const s of specs) {
    for (const d of s.dependsOn ?? []) {
      const target = byName.get(d.service);
      if (d.datacenter) continue;
      if (!target) problems.push(`${where} workload "${s.name}": depends on "${d.service}", which is not deployed here; expected one of ${[...byName.keys()].sort().join(", ")}`);
      else if (!target.port) problems.push(`${where} workload "${s.name}": depends on "${d.service}", which has no service port; expected a workload with a port`);
    }
  }
  const routes = new Map<string, string>();
  for (const s of specs) {
    if (!s.port?.public) continue;
    const key = `${s.port.public.host}${s.port.public.pathPrefix ?? "/"}`;
    const prev = routes.get(key);
    if (prev) problems.push(`${where} workload "${s.name}": public route ${key} is also ${prev}'s; expected one workload per host and path`);
    routes.set(key, s.name);
  }
  return problems;
}
