import { GroupContext, TaskGroup } from "./group";
import { compact, isInteger, isNonEmptyString, isUnresolved, JsonObject, nonEmpty, Problems, stringMap, validateEach, validateStringMap } from "./internal";
import { Constraint, Spread, validatePlacement } from "./placement";
import { Periodic, ReschedulePolicy, UpdateStrategy, validateReschedule, validateUpdate } from "./policies";
import { ProblemsError } from "../problems";

/** Scheduler of a job. */
export enum JobType {
  /** Long-running services, with deployments. */
  SERVICE = "service",
  /** Run-to-completion work. */
  BATCH = "batch",
  /** One allocation on every eligible node, long-running. */
  SYSTEM = "system",
  /** One run-to-completion allocation on every eligible node. */
  SYSBATCH = "sysbatch",
}

/** Props of {@link NomadJobSpec}. */
export interface NomadJobSpecProps {
  /** Job ID: unique in the namespace, no whitespace. */
  readonly id: string;

  /** Task groups of the job. */
  readonly groups: TaskGroup[];

  /**
   * Display name.
   *
   * @default - the ID
   */
  readonly name?: string;

  /**
   * Scheduler.
   *
   * @default JobType.SERVICE
   */
  readonly type?: JobType;

  /**
   * Datacenters the job may run in (wildcards allowed).
   *
   * @default NomadJobSpec.DEFAULT_DATACENTERS (["*"], every datacenter of the region)
   */
  readonly datacenters?: string[];

  /**
   * Region.
   *
   * @default - the region of the agent the job is submitted to
   */
  readonly region?: string;

  /**
   * Namespace.
   *
   * @default - Nomad's "default" namespace
   */
  readonly namespace?: string;

  /**
   * Node pool.
   *
   * @default - the namespace's default node pool
   */
  readonly nodePool?: string;

  /**
   * Priority from 1 to 100.
   *
   * @default - Nomad's default (50)
   */
  readonly priority?: number;

  /**
   * Job metadata.
   *
   * @default - none
   */
  readonly meta?: Record<string, string>;

  /**
   * Constraints applied to every group.
   *
   * @default - none
   */
  readonly constraints?: Constraint[];

  /**
   * Spreads applied to every group (not allowed on system jobs). When set, groups get no default
   * node spread.
   *
   * @default - none (groups get their own default spread)
   */
  readonly spreads?: Spread[];

  /**
   * Update strategy of every group (service and system jobs only).
   *
   * @default - UpdateStrategy.DEFAULT for service jobs (1 canary, auto-promote, auto-revert,
   * health from checks); none for other types
   */
  readonly update?: UpdateStrategy;

  /**
   * Reschedule policy of every group (service and batch jobs only).
   *
   * @default - ReschedulePolicy.DEFAULT for service and batch jobs (unlimited, exponential from
   * 30s to 1h); none for system and sysbatch jobs, which Nomad does not reschedule
   */
  readonly reschedule?: ReschedulePolicy;

  /**
   * Schedule of a periodic batch or sysbatch job.
   *
   * @default - not periodic
   */
  readonly periodic?: Periodic;
}

/** The JSON document produced by {@link NomadJobSpec.toJson}: the Nomad API job under `Job`. */
export interface NomadJobDocument {
  /** The job in the Nomad HTTP API format. */
  readonly Job: JsonObject;
}

/** CPU and memory a job reserves at its largest. */
export interface ResourceTotals {
  /** CPU in MHz. */
  readonly cpuMhz: number;
  /** Memory in MB. */
  readonly memoryMb: number;
}

let skipValidation = false;

/**
 * A typed Nomad job: validated at construction, rendered to the JSON job format of the Nomad HTTP
 * API (the format of `nomad job run -json` and of the Terraform `nomad_job` resource with
 * `json = true`). Pure data: no cdktf construct; see `NomadJob` for the Terraform resource.
 *
 * Safe defaults are applied when not set: a canary rolling update for service jobs, unlimited
 * exponential rescheduling, a spread over nodes for groups with more than one allocation.
 *
 * ```ts
 * const http = Port.dynamic("http", { to: 8080 });
 * const spec = new NomadJobSpec({
 *   id: "web",
 *   groups: [new TaskGroup({
 *     name: "web",
 *     count: 2,
 *     network: new Network({ mode: NetworkMode.BRIDGE, ports: [http] }),
 *     services: [new Service({ name: "web", port: http, checks: [Check.http({ path: "/health" })] })],
 *     tasks: [new Task({ name: "nginx", driver: Driver.docker({ image: "nginx:1.27", ports: [http] }), resources: { cpuMhz: 200, memoryMb: 128 } })],
 *   })],
 * });
 * ```
 */
export class NomadJobSpec {
  /** Default datacenters: every datacenter of the region. */
  public static readonly DEFAULT_DATACENTERS: readonly string[] = ["*"];

  /**
   * Builds a spec without validating it. Only for tests that check Nomad itself rejects what the
   * model rejects.
   *
   * @internal
   */
  public static _unvalidated(props: NomadJobSpecProps): NomadJobSpec {
    skipValidation = true;
    try {
      return new NomadJobSpec(props);
    } finally {
      skipValidation = false;
    }
  }

  /** Job ID. */
  public readonly id: string;
  /** Display name. */
  public readonly name: string;
  /** Scheduler. */
  public readonly type: JobType;
  /** Datacenters. */
  public readonly datacenters: readonly string[];
  /** Groups. */
  public readonly groups: readonly TaskGroup[];
  /** Update strategy of the job, after defaults (undefined when none applies). */
  public readonly update?: UpdateStrategy;
  /** Reschedule policy of the job, after defaults (undefined when none applies). */
  public readonly reschedule?: ReschedulePolicy;
  /** Periodic schedule, if any. */
  public readonly periodic?: Periodic;
  private readonly props: NomadJobSpecProps;

  constructor(props: NomadJobSpecProps) {
    this.props = props;
    this.id = props.id;
    this.name = props.name ?? props.id;
    this.type = props.type ?? JobType.SERVICE;
    this.datacenters = props.datacenters ?? NomadJobSpec.DEFAULT_DATACENTERS;
    this.groups = props.groups ?? [];
    this.update = props.update ?? (this.type === JobType.SERVICE ? UpdateStrategy.DEFAULT : undefined);
    this.reschedule = props.reschedule ?? (this.type === JobType.SERVICE || this.type === JobType.BATCH ? ReschedulePolicy.DEFAULT : undefined);
    this.periodic = props.periodic;

    if (!skipValidation) {
      const problems = this.validate();
      if (problems.length > 0) throw new ProblemsError(problems);
    }
  }

  /**
   * Every problem of the spec, one message each naming the path (`job "web" > group "api" > task
   * "server"`), the field, the value received and what is expected. Empty when valid.
   */
  public validate(): string[] {
    const props = this.props;
    const p = Problems.root(`job ${JSON.stringify(String(props.id))}`);
    if (!isNonEmptyString(props.id)) p.add("id", props.id, "a non-empty job ID");
    else if (!isUnresolved(props.id) && /[\s\0]/.test(props.id)) p.add("id", props.id, "a job ID without whitespace");
    if (props.name !== undefined && !isNonEmptyString(props.name)) p.add("name", props.name, "a non-empty name");
    if (!Object.values(JobType).includes(this.type)) p.add("type", this.type, "a JobType: service, batch, system or sysbatch");
    if (!Array.isArray(this.datacenters) || this.datacenters.length === 0) {
      p.add("datacenters", this.datacenters, "at least one datacenter (or \"*\")");
    } else {
      this.datacenters.forEach((dc, i) => {
        if (!isNonEmptyString(dc)) p.add(`datacenters[${i}]`, dc, "a non-empty datacenter name");
      });
    }
    if (props.region !== undefined && !isNonEmptyString(props.region)) p.add("region", props.region, "a non-empty region");
    if (props.namespace !== undefined && !isNonEmptyString(props.namespace)) p.add("namespace", props.namespace, "a non-empty namespace");
    if (props.nodePool !== undefined && !isNonEmptyString(props.nodePool)) p.add("nodePool", props.nodePool, "a non-empty node pool");
    if (props.priority !== undefined && (!isInteger(props.priority) || props.priority < 1 || props.priority > 100)) {
      p.add("priority", props.priority, "an integer from 1 to 100");
    }
    validateStringMap(p, "meta", props.meta);

    const ctx = this.groupContext();
    validatePlacement(p, props, ctx.isSystem);
    validateUpdate(p, props.update, ctx);
    validateReschedule(p, props.reschedule, ctx);
    if (this.periodic !== undefined) {
      if (this.type !== JobType.BATCH && this.type !== JobType.SYSBATCH) {
        p.add("periodic", "a periodic schedule", `a batch or sysbatch job type for a periodic job (type is ${this.type})`);
      }
      if (!(this.periodic instanceof Periodic)) p.add("periodic", this.periodic, "a Periodic such as Periodic.cron(\"0 3 * * *\")");
      else this.periodic._validate(p);
    }

    if (!Array.isArray(this.groups) || this.groups.length === 0) {
      p.add("groups", this.groups, "at least one TaskGroup");
    } else {
      const names = new Set<string>();
      validateEach(p, "groups", this.groups, TaskGroup, "a TaskGroup", (g, field) => {
        if (names.has(g.name)) p.add(`${field}.name`, g.name, "a group name unique within the job");
        names.add(g.name);
        g._validate(p, ctx);
      });
    }
    return [...p.messages];
  }

  /**
   * The job in the Nomad HTTP API JSON format, under `Job`: durations in nanoseconds, the API's
   * field names (`TaskGroups`, `DynamicPorts`, `MemoryMB`, ...), defaults applied.
   */
  public toJson(): NomadJobDocument {
    const props = this.props;
    const ctx = this.groupContext();
    return {
      Job: compact({
        ID: this.id,
        Name: this.name,
        Type: this.type,
        Region: props.region,
        Namespace: props.namespace,
        NodePool: props.nodePool,
        Priority: props.priority,
        Datacenters: [...this.datacenters],
        Meta: stringMap(props.meta),
        Constraints: nonEmpty((props.constraints ?? []).map((c) => c._toJson())),
        Spreads: nonEmpty((props.spreads ?? []).map((s) => s._toJson())),
        Update: this.update?._toJson(),
        Reschedule: this.reschedule?._toJson(),
        Periodic: this.periodic?._toJson(),
        TaskGroups: this.groups.map((g) => g._toJson(ctx)),
      }),
    };
  }

  /**
   * CPU and memory the job reserves at its largest: for each group, the per-allocation asks (tasks
   * plus Connect sidecars) times the count, or times scaling.max when the group has a scaling
   * block. For system and sysbatch jobs the totals are per client node.
   */
  public resourceTotals(): ResourceTotals {
    let cpuMhz = 0;
    let memoryMb = 0;
    for (const g of this.groups) {
      const per = g.allocationResources();
      cpuMhz += per.cpuMhz * g.maxCount;
      memoryMb += per.memoryMb * g.maxCount;
    }
    return { cpuMhz, memoryMb };
  }

  private groupContext(): GroupContext {
    return {
      jobType: this.type,
      isSystem: this.type === JobType.SYSTEM,
      allowsUpdate: this.type === JobType.SERVICE || this.type === JobType.SYSTEM,
      allowsReschedule: this.type === JobType.SERVICE || this.type === JobType.BATCH,
      jobHasSpreads: (this.props.spreads ?? []).length > 0,
    };
  }
}
