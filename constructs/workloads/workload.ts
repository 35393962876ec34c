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
  UpdateStrategy,
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
  /**
   * Whether the workload runs in this stack's site: its Nomad job and its settings in KV (both
   * local to a datacenter or region). @default true
   */
  readonly runsHere?: boolean;
  /**
   * The Consul datacenters its federation-wide objects serve: its ACL policy (valid there), its
   * role and its service-defaults. In a federation, Consul writes these in the primary
   * datacenter whichever datacenter is asked, so one site's stack owns them for all: the others
   * pass `[]` and create none. @default - [datacenter]
   */
  readonly globalDatacenters?: readonly string[];
  /**
   * With `globalDatacenters`: the datacenters of the federation where the workload is declared
   * with other Consul rules (other upstreams, say). Each gets a policy of its own, valid there
   * only, named `workload-<name>_<datacenter>`, and the role links them all. @default - none
   */
  readonly otherDatacenters?: readonly OtherDeclaration[];
}

/** The workload as another datacenter of the federation declares it. */
export interface OtherDeclaration {
  readonly datacenter: string;
  readonly spec: WorkloadSpec;
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
      // A digest pins the image by content: image@sha256:...; a tag: image:tag.
      image: spec.version.startsWith("sha256:") ? `${spec.image}@${spec.version}` : `${spec.image}:${spec.version}`,
      ...(spec.command ? { command: spec.command } : {}),
      ...(spec.args ? { args: [...spec.args] } : {}),
      ...(spec.hostNetwork && (port || hostPorts.length) ? { ports: [...(port ? [port] : []), ...hostPorts] } : {}),
    }),
    resources: { cpuMhz: spec.resources.cpuMhz, memoryMb: spec.resources.memoryMb },
    ...(spec.volume && !spec.volume.hostPath ? { killTimeout: STATEFUL_KILL_TIMEOUT } : {}),
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
    // A data volume is one directory on one client: never two instances on it (no canary, which
    // would start a second process on the same files); Nomad stops the old allocation before
    // it places the new one.
    ...(kind === WorkloadKind.SERVICE && spec.volume && !spec.volume.hostPath ? { update: STATEFUL_UPDATE } : {}),
    groups: [group],
  });
}

/**
 * The update of a workload with a data volume: one allocation at a time, no canary, and no
 * automatic revert (a new version may have migrated its files: the old one is not started on them
 * unasked).
 */
export const STATEFUL_UPDATE = new UpdateStrategy({ canary: 0, maxParallel: 1, autoPromote: false, autoRevert: false });

/** How long a workload with a data volume has to stop cleanly (flush, checkpoint) before SIGKILL. */
export const STATEFUL_KILL_TIMEOUT = Duration.seconds(60);

/** The Consul rules a workload's tasks get: its settings, the services it calls, and what its role needs. */
export function workloadRules(spec: WorkloadSpec): AclRules {
  let rules = AclRules.none().keyPrefix(settingsPrefix(spec.name), Access.READ);
  for (const d of spec.dependsOn ?? []) rules = rules.service(d.service, Access.READ);
  if (spec.consulAccess === "service-discovery") rules = rules.servicePrefix("", Access.READ).nodePrefix("", Access.READ).agentPrefix("", Access.READ);
  return rules;
}

/** The protocol of a workload's service-defaults, shared by every datacenter of a federation. @internal */
export function workloadProtocol(spec: WorkloadSpec): ServiceProtocol | undefined {
  return spec.port ? spec.port.protocol ?? ServiceProtocol.HTTP : undefined;
}

/**
 * A workload from its declaration: the Nomad job (service with a health check, Connect sidecar
 * and upstreams, rolling canary updates, spread, scaling), its Consul ACL policy and role (bound
 * to its tasks' workload identity), its service-defaults and its settings in KV.
 */
export class Workload extends Construct {
  readonly spec: WorkloadSpec;
  /** Absent when the workload runs in another site only. */
  readonly job?: NomadJob;
  /** Absent when another site's stack owns the federation-wide objects. */
  readonly policy?: ConsulPolicy;
  readonly role?: AclRole;
  readonly settings?: AppSettings;

  constructor(scope: Construct, id: string, props: WorkloadProps) {
    super(scope, id);
    const { spec } = props;
    this.spec = spec;
    const runsHere = props.runsHere ?? true;
    const globalDatacenters = props.globalDatacenters ?? [props.datacenter];
    if (runsHere) this.job = new NomadJob(this, "job", { spec: workloadJob(spec, props.datacenters) });
    if (globalDatacenters.length > 0) {
      this.policy = new ConsulPolicy(this, "policy", { name: `${WORKLOAD_ROLE_PREFIX}${spec.name}`, description: `${spec.name}: ${spec.description}`, rules: workloadRules(spec), datacenters: [...globalDatacenters] });
      const others = (props.otherDatacenters ?? []).length > 0 ? new Construct(this, "other-datacenters") : undefined;
      const otherPolicies = (props.otherDatacenters ?? []).map(
        (o) =>
          new ConsulPolicy(others as Construct, o.datacenter, {
            name: `${WORKLOAD_ROLE_PREFIX}${spec.name}_${o.datacenter}`,
            description: `${spec.name} in ${o.datacenter}: ${o.spec.description}`,
            rules: workloadRules(o.spec),
            datacenters: [o.datacenter],
          }),
      );
      this.role = new AclRole(this, "role", {
        name: `${WORKLOAD_ROLE_PREFIX}${spec.name}`,
        description: `Tasks of ${spec.name} (bound from their Nomad workload identity)`,
        policies: [this.policy.resource.id, ...otherPolicies.map((p) => p.resource.id)],
      });
      const protocol = workloadProtocol(spec);
      if (protocol) new ServiceDefaults(this, "service-defaults", { service: spec.name, protocol });
    }
    if (runsHere && spec.settings && Object.keys(spec.settings).length > 0) {
      this.settings = new AppSettings(this, "settings", { prefix: settingsPrefix(spec.name), settings: spec.settings });
    }
  }
}
