import { Construct } from "constructs";
import { AclRole } from "@cdktf/provider-consul/lib/acl-role";
import { Access, AclRules, ConsulPolicy } from "../consul/acl";
import { AppSettings, ServiceDefaults, ServiceProtocol } from "../consul/mesh";
import {
  AutoscalerPolicy,
  Check,
  ConnectSidecar,
  Constraint,
  Driver,
  Duration,
  JobType,
  Network,
  NetworkMode,
  NomadJob,
  NomadJobSpec,
  Periodic,
  Port,
  ScalingCheck,
  ScalingPolicy,
  ScalingStrategy,
  Service,
  Task,
  TaskGroup,
  Template,
  ChangeMode,
  Volume,
  WorkloadIdentity,
} from "../nomad";
import { ANY_NODE_CLASS, DEFAULT_CPU_TARGET_PERCENT, DEFAULT_NODE_CLASS, DEFAULT_SERVICE_COUNT, WorkloadKind, WorkloadSpec } from "./spec";

/** Label of the port the sidecar serves the metrics path on, outside the mesh. */
export const METRICS_PORT_LABEL = "metrics";

export interface WorkloadProps {
  readonly spec: WorkloadSpec;
  /** Nomad datacenters to run in. */
  readonly datacenters: readonly string[];
  /** Consul datacenter (for the ACL policy's scope). */
  readonly datacenter: string;
}

/** The prefix of the Consul ACL role a workload's task identities are bound to. */
export const WORKLOAD_ROLE_PREFIX = "workload-";

/** Where a workload's settings live in Consul KV. */
export function settingsPrefix(name: string): string {
  return `config/${name}/`;
}

/** Builds a workload's Nomad job from its declaration (pure; also used by the real tests). */
export function workloadJob(spec: WorkloadSpec, datacenters: readonly string[]): NomadJobSpec {
  const kind = spec.kind ?? WorkloadKind.SERVICE;
  const portLabel = "main";
  const port = spec.port ? Port.dynamic(portLabel, { to: spec.port.containerPort }) : undefined;
  // Prometheus cannot enter the mesh: the sidecar serves the metrics path alone on its own port.
  const metricsPort = spec.port?.metricsPath && !spec.hostNetwork ? Port.dynamic(METRICS_PORT_LABEL) : undefined;
  // In bridge mode a host port maps to the same port inside the allocation.
  const hostPorts = (spec.hostPorts ?? []).map((h) => Port.static(h.label, h.port, spec.hostNetwork ? {} : { to: h.to ?? h.port }));
  const protocol = spec.port?.protocol ?? ServiceProtocol.HTTP;
  const sidecar = !spec.hostNetwork && spec.port !== undefined;
  const isolated = !spec.hostNetwork && (spec.port !== undefined || (spec.dependsOn ?? []).length > 0);
  const upstreams = (spec.dependsOn ?? []).map((d) => ({ destinationName: d.service, localBindPort: d.localPort, ...(d.datacenter ? { datacenter: d.datacenter } : {}) }));
  const services: Service[] = [];
  if (spec.port) {
    const check =
      protocol === ServiceProtocol.HTTP || protocol === ServiceProtocol.HTTP2
        ? Check.http({ name: `${spec.name} health`, path: spec.port.healthPath ?? "/health", ...(sidecar ? { expose: true } : { port: portLabel }) })
        : spec.port.healthCommand && spec.port.healthCommand.length > 0
          ? Check.script({ name: `${spec.name} health`, command: spec.port.healthCommand[0], args: spec.port.healthCommand.slice(1), task: spec.name, timeout: Duration.seconds(5) })
          : Check.tcp({ name: `${spec.name} port`, port: portLabel });
    services.push(
      new Service({
        name: spec.name,
        port: sidecar ? spec.port.containerPort : portLabel,
        tags: [protocol, ...(spec.port.metricsPath ? ["metrics"] : []), ...(spec.port.public ? ["public"] : [])],
        meta: {
          ...(spec.port.metricsPath
            ? { metrics_path: spec.port.metricsPath, metrics_port: metricsPort ? `\${NOMAD_HOST_PORT_${METRICS_PORT_LABEL}}` : String(spec.port.containerPort) }
            : {}),
        },
        ...(sidecar
          ? {
              connect: ConnectSidecar.upstreams(upstreams, {
                ...(metricsPort && spec.port.metricsPath ? { expose: [{ path: spec.port.metricsPath, localPathPort: spec.port.containerPort, listenerPort: METRICS_PORT_LABEL }] } : {}),
              }),
            }
          : {}),
        checks: [check],
      }),
    );
  }
  if (!spec.port && upstreams.length > 0 && !spec.hostNetwork) {
    // Upstream-only: a Connect service without a port, so that a sidecar carries the calls.
    services.push(new Service({ name: spec.name, tags: ["upstream-only"], connect: ConnectSidecar.upstreams(upstreams), checks: [] }));
  }
  const volume = spec.volume ? Volume.host(spec.volume.source, { source: spec.volume.source, ...(spec.volume.readOnly ? { readOnly: true } : {}) }) : undefined;
  const task = new Task({
    name: spec.name,
    driver: Driver.docker({
      image: `${spec.image}:${spec.version}`,
      ...(spec.command ? { command: spec.command } : {}),
      ...(spec.args ? { args: [...spec.args] } : {}),
      ...(spec.hostNetwork && (port || hostPorts.length) ? { ports: [...(port ? [port] : []), ...hostPorts] } : {}),
    }),
    resources: { cpuMhz: spec.resources.cpuMhz, memoryMb: spec.resources.memoryMb },
    ...(spec.env ? { env: { ...spec.env } } : {}),
    templates: (spec.files ?? []).map(
      (f) => new Template({ destination: f.destination, data: f.content, ...(f.changeSignal ? { changeMode: ChangeMode.signal(f.changeSignal) } : {}), ...(f.env ? { env: true } : {}) }),
    ),
    ...(volume && spec.volume ? { volumeMounts: [{ volume, destination: spec.volume.mountPath, ...(spec.volume.readOnly ? { readOnly: true } : {}) }] } : {}),
    ...(spec.nomadApiAccess ? { identity: WorkloadIdentity.default({ env: true }) } : {}),
    identities: [WorkloadIdentity.named("consul_default", { audience: ["consul.io"], ttl: Duration.hours(1) })],
  });
  const count = kind === WorkloadKind.SERVICE ? spec.count ?? DEFAULT_SERVICE_COUNT : kind === WorkloadKind.PERIODIC ? 1 : undefined;
  const scaling = spec.scaling
    ? new ScalingPolicy({
        min: spec.scaling.min,
        max: spec.scaling.max,
        policy: new AutoscalerPolicy({
          cooldown: Duration.minutes(2),
          evaluationInterval: Duration.seconds(30),
          checks: [
            ScalingCheck.prometheus("cpu", {
              query: `avg(nomad_client_allocs_cpu_total_percent{task_group="${spec.name}",exported_job="${spec.name}"})`,
              strategy: ScalingStrategy.targetValue(spec.scaling.cpuTargetPercent ?? DEFAULT_CPU_TARGET_PERCENT),
            }),
          ],
        }),
      })
    : undefined;
  const group = new TaskGroup({
    name: spec.name,
    ...(count !== undefined ? { count } : {}),
    network: new Network({
      mode: isolated || (spec.hostPorts ?? []).length > 0 ? NetworkMode.BRIDGE : NetworkMode.HOST,
      ports: [...(port ? [port] : []), ...(metricsPort ? [metricsPort] : []), ...hostPorts],
    }),
    services,
    ...(volume ? { volumes: [volume] } : {}),
    ...(scaling ? { scaling } : {}),
    tasks: [task],
  });
  return new NomadJobSpec({
    id: spec.name,
    type: kind === WorkloadKind.SYSTEM ? JobType.SYSTEM : kind === WorkloadKind.PERIODIC ? JobType.BATCH : JobType.SERVICE,
    datacenters: [...datacenters],
    meta: { description: spec.description, version: spec.version },
    constraints: spec.nodeClass === ANY_NODE_CLASS ? [] : [Constraint.attribute("${node.class}", spec.nodeClass ?? DEFAULT_NODE_CLASS)],
    ...(kind === WorkloadKind.PERIODIC && spec.schedule ? { periodic: Periodic.cron(spec.schedule, { prohibitOverlap: true }) } : {}),
    groups: [group],
  });
}

/** The Consul rules a workload's tasks get: its settings, the services it calls, and what its role needs. */
export function workloadRules(spec: WorkloadSpec): AclRules {
  let rules = AclRules.none().keyPrefix(settingsPrefix(spec.name), Access.READ);
  for (const d of spec.dependsOn ?? []) rules = rules.service(d.service, Access.READ);
  if (spec.consulAccess === "service-discovery") rules = rules.servicePrefix("", Access.READ).nodePrefix("", Access.READ).agentPrefix("", Access.READ);
  return rules;
}

/**
 * A workload from its declaration: the Nomad job (service with a health check, Connect sidecar
 * and upstreams, rolling canary updates, spread, scaling), its Consul ACL policy and role (bound
 * to its tasks' workload identity), its service-defaults and its settings in KV.
 */
export class Workload extends Construct {
  readonly spec: WorkloadSpec;
  readonly job: NomadJob;
  readonly policy: ConsulPolicy;
  readonly role: AclRole;
  readonly settings?: AppSettings;

  constructor(scope: Construct, id: string, props: WorkloadProps) {
    super(scope, id);
    const { spec } = props;
    this.spec = spec;
    this.job = new NomadJob(this, "job", { spec: workloadJob(spec, props.datacenters) });
    this.policy = new ConsulPolicy(this, "policy", { name: `${WORKLOAD_ROLE_PREFIX}${spec.name}`, description: `${spec.name}: ${spec.description}`, rules: workloadRules(spec), datacenters: [props.datacenter] });
    this.role = new AclRole(this, "role", { name: `${WORKLOAD_ROLE_PREFIX}${spec.name}`, description: `Tasks of ${spec.name} (bound from their Nomad workload identity)`, policies: [this.policy.resource.id] });
    if (spec.port) new ServiceDefaults(this, "service-defaults", { service: spec.name, protocol: spec.port.protocol ?? ServiceProtocol.HTTP });
    if (spec.settings && Object.keys(spec.settings).length > 0) {
      this.settings = new AppSettings(this, "settings", { prefix: settingsPrefix(spec.name), settings: spec.settings });
    }
  }
}
