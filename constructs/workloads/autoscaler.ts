/**
 * The Nomad Autoscaler as a workload: it reads the `scaling` blocks of the jobs (the `cpu` check
 * that `workloadJob` writes for every workload with `scaling`), queries Prometheus through its
 * Connect upstream and scales the task groups through the local Nomad agent's HTTPS API.
 *
 * The agent config is JSON: the Autoscaler decodes each `-config` file with hclsimple, which reads
 * a `.json` file as HCL's JSON syntax (labelled blocks such as `apm "prometheus" {...}` become
 * `"apm": {"prometheus": {...}}`). It authenticates to Nomad with the task's workload identity
 * (`NOMAD_TOKEN`, read by the Nomad API client the Autoscaler builds), to which the
 * {@link autoscalerAclPolicy} is bound.
 */
import { NOMAD_NODE_IP, nomadTemplate } from "../render";
import { CLUSTER_PORTS } from "../../cloud-init/agents";
import { ServiceProtocol } from "../consul/mesh";
import { caFileSecrets, CLUSTER_CA_TEMPLATE, DEFAULT_NODE_CLASS, WorkloadSpec } from "./spec";
import { ComponentOptions, ProblemList, WorkloadResources } from "./logging";
import { Monitoring } from "./monitoring";

/** A plugin block of the agent config (`apm`, `target`, `strategy`). */
export interface AutoscalerPlugin {
  readonly driver: string;
  readonly config?: Readonly<Record<string, string>>;
}

/** The Autoscaler agent config in HCL's JSON syntax (the subset the platform sets). */
export interface AutoscalerConfig {
  readonly log_level: "DEBUG" | "INFO" | "WARN";
  readonly log_json: boolean;
  readonly plugin_dir: string;
  readonly http: { readonly bind_address: string; readonly bind_port: number };
  readonly nomad: {
    readonly address: string;
    readonly region?: string;
    readonly ca_cert: string;
    readonly tls_server_name: string;
  };
  readonly policy: { readonly default_cooldown: string; readonly default_evaluation_interval: string };
  readonly telemetry: { readonly prometheus_metrics: boolean; readonly disable_hostname: boolean };
  readonly apm: Readonly<Record<string, AutoscalerPlugin>>;
  readonly target: Readonly<Record<string, AutoscalerPlugin>>;
  readonly strategy: Readonly<Record<string, AutoscalerPlugin>>;
}

/** Options of {@link autoscalerConfig}. */
export interface AutoscalerConfigOptions {
  /** Port on 127.0.0.1 where Prometheus is reachable (the Autoscaler's upstream). */
  readonly prometheusLocalPort: number;
  /**
   * Nomad region of the cluster.
   *
   * @default - the local agent's region
   */
  readonly region?: string;
  /**
   * The cluster CA (PEM file in the task) that signed Nomad's HTTPS certificates.
   *
   * @default Monitoring.CA_FILE
   */
  readonly caFile?: string;
  /**
   * Name checked in the Nomad agent's certificate (every agent certificate carries `localhost`).
   *
   * @default Monitoring.AGENT_TLS_SERVER_NAME
   */
  readonly tlsServerName?: string;
  /**
   * Port of the Autoscaler's health endpoint inside the allocation.
   *
   * @default Autoscaler.PORT
   */
  readonly port?: number;
  /**
   * Cooldown after a scaling action, for policies that do not set one.
   *
   * @default Autoscaler.DEFAULT_COOLDOWN
   */
  readonly defaultCooldown?: string;
  /**
   * Time between evaluations, for policies that do not set one.
   *
   * @default Autoscaler.DEFAULT_EVALUATION_INTERVAL
   */
  readonly defaultEvaluationInterval?: string;
}

/**
 * The agent config: Nomad at `https://{{ env "attr.unique.network.ip-address" }}:4646` (rendered
 * by Nomad) with the cluster CA; APM `prometheus` through the upstream; target `nomad`; strategy
 * `target-value`.
 */
export function autoscalerConfig(opts: AutoscalerConfigOptions): AutoscalerConfig {
  const caFile = opts.caFile ?? Monitoring.CA_FILE;
  const serverName = opts.tlsServerName ?? Monitoring.AGENT_TLS_SERVER_NAME;
  const port = opts.port ?? Autoscaler.PORT;
  const cooldown = opts.defaultCooldown ?? Autoscaler.DEFAULT_COOLDOWN;
  const interval = opts.defaultEvaluationInterval ?? Autoscaler.DEFAULT_EVALUATION_INTERVAL;
  const p = new ProblemList("autoscalerConfig");
  p.port("prometheusLocalPort", opts.prometheusLocalPort);
  p.port("port", port);
  if (opts.prometheusLocalPort === port) p.add("prometheusLocalPort", opts.prometheusLocalPort, `a port other than the health port ${port}`);
  if (opts.region !== undefined) p.name("region", opts.region, "a Nomad region name");
  if (typeof caFile !== "string" || !caFile.startsWith("/")) p.add("caFile", caFile, "an absolute path in the task");
  if (typeof serverName !== "string" || !/^[a-z0-9.-]+$/.test(serverName)) p.add("tlsServerName", serverName, "a DNS name in the Nomad agents' certificates, e.g. \"localhost\"");
  p.duration("defaultCooldown", cooldown, "smh");
  p.duration("defaultEvaluationInterval", interval, "sm");
  p.throwIfAny();
  return {
    log_level: "INFO",
    log_json: true,
    plugin_dir: "/plugins",
    http: { bind_address: "0.0.0.0", bind_port: port },
    nomad: {
      address: `https://${NOMAD_NODE_IP}:${CLUSTER_PORTS.nomadHttp}`,
      ...(opts.region !== undefined ? { region: opts.region } : {}),
      ca_cert: caFile,
      tls_server_name: serverName,
    },
    policy: { default_cooldown: cooldown, default_evaluation_interval: interval },
    telemetry: { prometheus_metrics: true, disable_hostname: true },
    apm: { prometheus: { driver: "prometheus", config: { address: `http://127.0.0.1:${opts.prometheusLocalPort}` } } },
    target: { nomad: { driver: "nomad" } },
    strategy: { "target-value": { driver: "target-value" } },
  };
}

/** The capabilities of a Nomad ACL namespace rule. */
export type NomadNamespaceCapability = "list-jobs" | "read-job" | "scale-job" | "read-job-scaling" | "list-scaling-policies" | "read-scaling-policy";

/** A Nomad ACL policy in the JSON form of its HCL rules (`namespace "default" { ... }`). */
export interface NomadAclPolicyRules {
  readonly namespace: Readonly<Record<string, { readonly policy?: "deny" | "read" | "write" | "scale"; readonly capabilities?: readonly NomadNamespaceCapability[] }>>;
}

/**
 * What the Autoscaler needs in Nomad: read the jobs and their scaling policies, scale them.
 * `policy = "scale"` grants list-scaling-policies, read-scaling-policy, read-job-scaling and
 * scale-job; list-jobs and read-job let it follow the jobs' status.
 */
export function autoscalerAclPolicy(namespace: string = Autoscaler.DEFAULT_NAMESPACE): NomadAclPolicyRules {
  const p = new ProblemList("autoscalerAclPolicy");
  if (typeof namespace !== "string" || !/^[a-zA-Z0-9-]{1,128}$/.test(namespace)) p.add("namespace", namespace, "a Nomad namespace name");
  p.throwIfAny();
  return { namespace: { [namespace]: { policy: "scale", capabilities: ["list-jobs", "read-job", "list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"] } } };
}

/** The policy's rules as the text of a `nomad_acl_policy` (`rules_hcl` accepts HCL's JSON form). */
export function autoscalerAclPolicyJson(namespace?: string): string {
  return JSON.stringify(autoscalerAclPolicy(namespace), null, 2);
}

/** Props of {@link autoscalerWorkload}. */
export interface AutoscalerProps extends ComponentOptions {
  /**
   * The cluster CA (PEM) that signed Nomad's HTTPS certificates (`ConsulNomadCluster.ca`).
   * Public data: rendered into the task.
   */
  readonly caPem: string;
  /**
   * Nomad region of the cluster.
   *
   * @default - the local agent's region
   */
  readonly region?: string;
  /**
   * Node class the Autoscaler runs on.
   *
   * @default DEFAULT_NODE_CLASS
   */
  readonly nodeClass?: string;
}

/** Names, ports and defaults of the Autoscaler workload. */
export class Autoscaler {
  /** Job (and Consul service) name; bind the {@link autoscalerAclPolicy} to this job. */
  static readonly NAME = "nomad-autoscaler";
  static readonly DEFAULT_IMAGE = "hashicorp/nomad-autoscaler";
  static readonly DEFAULT_VERSION = "0.4.7";
  static readonly DEFAULT_RESOURCES: WorkloadResources = { cpuMhz: 100, memoryMb: 128 };
  /** Health endpoint port (`/v1/health`). */
  static readonly PORT = 8080;
  static readonly DEFAULT_COOLDOWN = "2m";
  static readonly DEFAULT_EVALUATION_INTERVAL = "30s";
  static readonly DEFAULT_NAMESPACE = "default";
  static readonly CONFIG_PATH = "local/autoscaler.json";
}

/**
 * The Autoscaler workload: one instance (the Autoscaler's HA mode is not used), its JSON config
 * and the cluster CA, Prometheus through its upstream.
 */
export function autoscalerWorkload(props: AutoscalerProps): WorkloadSpec {
  const image = props.image ?? Autoscaler.DEFAULT_IMAGE;
  const version = props.version ?? Autoscaler.DEFAULT_VERSION;
  const resources = props.resources ?? Autoscaler.DEFAULT_RESOURCES;
  const nodeClass = props.nodeClass ?? DEFAULT_NODE_CLASS;
  const p = new ProblemList("autoscalerWorkload");
  p.image("autoscaler", image, version);
  p.resources("autoscaler", resources);
  if (props.caPem !== CLUSTER_CA_TEMPLATE) p.pem("caPem", props.caPem);
  p.name("nodeClass", nodeClass, "a Nomad node class");
  p.throwIfAny();
  const config = autoscalerConfig({ prometheusLocalPort: Monitoring.PROMETHEUS_LOCAL_PORT, ...(props.region !== undefined ? { region: props.region } : {}) });
  return {
    name: Autoscaler.NAME,
    description: "Nomad Autoscaler: scales the jobs' task groups on their Prometheus CPU query",
    image,
    version,
    resources,
    count: 1,
    port: { containerPort: Autoscaler.PORT, protocol: ServiceProtocol.HTTP, healthPath: "/v1/health" },
    dependsOn: [{ service: Monitoring.PROMETHEUS, localPort: Monitoring.PROMETHEUS_LOCAL_PORT }],
    command: "nomad-autoscaler",
    args: ["agent", `-config=/${Autoscaler.CONFIG_PATH}`],
    // NOMAD_TOKEN from its workload identity, bound to the autoscaler ACL policy (job_acl).
    nomadApiAccess: true,
    nomadPolicy: { description: "The Nomad Autoscaler: read jobs and their metrics, scale task groups", rules: autoscalerAclPolicyJson() },
    files: [
      { destination: Autoscaler.CONFIG_PATH, content: nomadTemplate(JSON.stringify(config, null, 2), [NOMAD_NODE_IP]), changeSignal: "SIGHUP" },
      { destination: Monitoring.CA_PATH, content: props.caPem === CLUSTER_CA_TEMPLATE ? props.caPem : nomadTemplate(props.caPem), secrets: caFileSecrets(props.caPem) },
    ],
    nodeClass,
  };
}
