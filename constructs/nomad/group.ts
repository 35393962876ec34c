import { Duration } from "./duration";
import { compact, isInteger, isNonEmptyString, JsonObject, JsonValue, nonEmpty, Problems, stringMap, validateEach, validateOptional, validateStringMap } from "./internal";
import { Network } from "./network";
import { Constraint, Spread, validatePlacement } from "./placement";
import { PolicyScope, ReschedulePolicy, RestartPolicy, UpdateStrategy, validateReschedule, validateUpdate } from "./policies";
import { ScalingPolicy } from "./scaling";
import { ConnectSidecar, Service } from "./service";
import { Task } from "./task";
import { Volume } from "./volume";

/** Props of {@link TaskGroup}. */
export interface TaskGroupProps {
  /** Group name, unique within the job. */
  readonly name: string;

  /** Tasks of the group, placed together on one node. */
  readonly tasks: Task[];

  /**
   * Number of allocations (ignored by system jobs beyond 1).
   *
   * @default - scaling.min when a scaling block is set, else 1
   */
  readonly count?: number;

  /**
   * Network mode and ports.
   *
   * @default - no network block: host mode, no ports
   */
  readonly network?: Network;

  /**
   * Services of the group (needed for Connect).
   *
   * @default - none
   */
  readonly services?: Service[];

  /**
   * Volumes the group asks for, mounted into tasks with their volumeMounts.
   *
   * @default - none
   */
  readonly volumes?: Volume[];

  /**
   * Restart policy of the tasks.
   *
   * @default - Nomad's default for the job type
   */
  readonly restart?: RestartPolicy;

  /**
   * Reschedule policy, overriding the job's (not allowed on system / sysbatch jobs).
   *
   * @default - the job's reschedule policy
   */
  readonly reschedule?: ReschedulePolicy;

  /**
   * Update strategy, overriding the job's (service and system jobs only).
   *
   * @default - the job's update strategy
   */
  readonly update?: UpdateStrategy;

  /**
   * Count bounds and Autoscaler policy.
   *
   * @default - no scaling block: the count is fixed
   */
  readonly scaling?: ScalingPolicy;

  /**
   * Placement constraints.
   *
   * @default - none
   */
  readonly constraints?: Constraint[];

  /**
   * Spreads of the allocations (not allowed on system jobs). Pass `[]` to opt out of the default.
   *
   * @default - a spread over `${node.unique.id}` when the group can have more than one allocation
   * (count > 1 or scaling.max > 1) and the job is not a system job and has no job-level spread
   */
  readonly spreads?: Spread[];

  /**
   * Group metadata.
   *
   * @default - none
   */
  readonly meta?: Record<string, string>;

  /**
   * Time between deregistering the services and stopping the tasks.
   *
   * @default - no delay
   */
  readonly shutdownDelay?: Duration;
}

/**
 * Facts of the job a group is validated and rendered in.
 *
 * @internal
 */
export interface GroupContext extends PolicyScope {
  readonly isSystem: boolean;
  readonly jobHasSpreads: boolean;
}

/**
 * A task group: the unit of placement, `count` allocations of its tasks.
 */
export class TaskGroup {
  /** Group name. */
  public readonly name: string;
  /** Count (resolved default). */
  public readonly count: number;
  /** Tasks. */
  public readonly tasks: readonly Task[];
  /** Group services. */
  public readonly services: readonly Service[];
  /** Network, if any. */
  public readonly network?: Network;
  /** Volumes. */
  public readonly volumes: readonly Volume[];
  /** Scaling block, if any. */
  public readonly scaling?: ScalingPolicy;
  private readonly props: TaskGroupProps;

  constructor(props: TaskGroupProps) {
    this.props = props;
    this.name = props.name;
    this.tasks = props.tasks ?? [];
    this.services = props.services ?? [];
    this.network = props.network;
    this.volumes = props.volumes ?? [];
    this.scaling = props.scaling;
    this.count = props.count ?? props.scaling?.min ?? 1;
  }

  /** Highest number of allocations the group can have: scaling.max when scaling is set, else count. */
  public get maxCount(): number {
    return this.scaling ? this.scaling.max : this.count;
  }

  /** All services of the group: group services and task services. */
  public get allServices(): readonly Service[] {
    return [...this.services, ...this.tasks.flatMap((t) => (t instanceof Task ? t.services : []))];
  }

  /** @internal */
  public _spreads(ctx: GroupContext): readonly Spread[] {
    if (this.props.spreads !== undefined) return this.props.spreads;
    if (ctx.isSystem || ctx.jobHasSpreads || this.maxCount <= 1) return [];
    return [Spread.attribute(Spread.NODE_ATTRIBUTE)];
  }

  /** @internal */
  public _validate(problems: Problems, ctx: GroupContext): void {
    const p = problems.at(`group "${this.name}"`);
    const props = this.props;
    if (!isNonEmptyString(this.name)) p.add("name", this.name, "a non-empty group name");
    if (!isInteger(this.count) || this.count < 0) p.add("count", this.count, "an integer >= 0");
    else if (ctx.isSystem && this.count > 1) p.add("count", this.count, "0 or 1 for a system job (it runs one allocation per node)");

    let declaredPorts = new Set<string>();
    let networkIsolated = false;
    if (this.network !== undefined) {
      if (!(this.network instanceof Network)) {
        p.add("network", this.network, "a Network");
      } else {
        this.network._validate(p);
        declaredPorts = new Set(this.network.ports.map((port) => port?.label));
        networkIsolated = this.network.mode?.isolatesNamespace ?? false;
      }
    }

    const volumes = new Map<string, Volume>();
    validateEach(p, "volumes", this.volumes, Volume, "a Volume made with Volume.host()", (v, field) => {
      v._validate(p);
      if (volumes.has(v.name)) p.add(`${field}.name`, v.name, "a volume name unique within the group");
      else volumes.set(v.name, v);
    });

    const taskNames = new Set<string>();
    if (!Array.isArray(this.tasks) || this.tasks.length === 0) {
      p.add("tasks", this.tasks, "at least one task");
    } else {
      validateEach(p, "tasks", this.tasks, Task, "a Task", (t, field) => {
        if (taskNames.has(t.name)) p.add(`${field}.name`, t.name, "a task name unique within the group");
        taskNames.add(t.name);
      });
      for (const t of this.tasks) {
        if (t instanceof Task) {
          t._validate(p, { declaredPorts, volumes, taskNames, groupName: this.name, networkIsolated });
        }
      }
      const leaders = this.tasks.filter((t) => t instanceof Task && t.leader);
      if (leaders.length > 1) p.add("tasks", `${leaders.length} leader tasks`, "at most one task with leader: true");
    }

    validateEach(p, "services", this.services, Service, "a Service", (s) =>
      s._validate(p, { declaredPorts, isGroupService: true, taskNames, groupName: this.name, networkIsolated }),
    );
    this.validateServicesTogether(p);

    validateOptional(p, "restart", props.restart, RestartPolicy, "a RestartPolicy", (r) => r._validate(p));
    validateReschedule(p, props.reschedule, ctx);
    validateUpdate(p, props.update, ctx);
    validateOptional(p, "scaling", this.scaling, ScalingPolicy, "a ScalingPolicy", (s) => s._validate(p, this.count));
    validatePlacement(p, props, ctx.isSystem);
    validateStringMap(p, "meta", props.meta);
    if (props.shutdownDelay !== undefined && !(props.shutdownDelay instanceof Duration)) p.add("shutdownDelay", props.shutdownDelay, "a Duration");
  }

  private validateServicesTogether(p: Problems): void {
    const all = this.allServices.filter((s): s is Service => s instanceof Service);
    const providers = new Set(all.map((s) => s.provider));
    if (providers.size > 1) {
      p.add("services provider", [...providers], "a single provider for all services of a group (Nomad does not mix consul and nomad)");
    }
    const seen = new Set<string>();
    for (const s of all) {
      const key = `${s.name}|${s.port ?? ""}`;
      if (seen.has(key)) p.add(`service "${s.name}"`, { name: s.name, port: s.port ?? null }, "a name and port pair unique within the group");
      seen.add(key);
    }
    const binds = new Map<string, string>();
    for (const s of this.services) {
      if (!(s instanceof Service) || !(s.connect instanceof ConnectSidecar)) continue;
      for (const u of s.connect.upstreams) {
        const key = `${u.localBindAddress ?? ""}:${u.localBindPort}`;
        const other = binds.get(key);
        if (other !== undefined) {
          p.add(`service "${s.name}" upstream "${u.destinationName}" localBindPort`, u.localBindPort, `a local port not already used by upstream "${other}" in the group`);
        } else {
          binds.set(key, u.destinationName);
        }
      }
    }
  }

  /** @internal */
  public _toJson(ctx: GroupContext): JsonObject {
    const props = this.props;
    const volumes: { [name: string]: JsonValue } = {};
    for (const v of this.volumes) volumes[v.name] = v._toJson();
    return compact({
      Name: this.name,
      Count: this.count,
      Meta: stringMap(props.meta),
      Constraints: nonEmpty((props.constraints ?? []).map((c) => c._toJson())),
      Spreads: nonEmpty(this._spreads(ctx).map((s) => s._toJson())),
      Networks: this.network ? [this.network._toJson()] : undefined,
      Services: nonEmpty(this.services.map((s) => s._toJson())),
      Volumes: this.volumes.length > 0 ? volumes : undefined,
      RestartPolicy: props.restart?._toJson(),
      ReschedulePolicy: props.reschedule?._toJson(),
      Update: props.update?._toJson(),
      Scaling: this.scaling?._toJson(this.count),
      ShutdownDelay: props.shutdownDelay?.toNanoseconds(),
      Tasks: this.tasks.map((t) => t._toJson()),
    });
  }

  /** CPU (MHz) and memory (MB) of one allocation, Connect sidecars included. */
  public allocationResources(): { readonly cpuMhz: number; readonly memoryMb: number } {
    let cpuMhz = 0;
    let memoryMb = 0;
    for (const t of this.tasks) {
      cpuMhz += t.resources.cpuMhz;
      memoryMb += t.resources.memoryMb;
    }
    for (const s of this.services) {
      if (s.connect) {
        cpuMhz += s.connect.resources.cpuMhz;
        memoryMb += s.connect.resources.memoryMb;
      }
    }
    return { cpuMhz, memoryMb };
  }
}
