import { Driver } from "./driver";
import { Duration } from "./duration";
import { WorkloadIdentity } from "./identity";
import { compact, isInteger, isNonEmptyString, JsonObject, MIN_CPU_MHZ, MIN_MEMORY_MB, nonEmpty, Problems, stringMap, validateEach, validateOptional, validateResourceAsks, validateStringMap } from "./internal";
import { Constraint } from "./placement";
import { RestartPolicy } from "./policies";
import { Service } from "./service";
import { Template } from "./template";
import { validateVolumeMount, Volume, VolumeMount, volumeMountJson } from "./volume";

/** Resources a task asks for. Both asks are required: the scheduler packs nodes by them. */
export interface Resources {
  /** CPU in MHz (integer >= 1). */
  readonly cpuMhz: number;
  /** Memory in MB (integer >= 10). */
  readonly memoryMb: number;
  /**
   * Memory the task may burst to, in MB (memory oversubscription must be enabled).
   *
   * @default - no burst: memoryMb is a hard limit
   */
  readonly memoryMaxMb?: number;
}

/** Props of {@link Task}. */
export interface TaskProps {
  /** Task name, unique within the group. */
  readonly name: string;
  /** Task driver and its configuration. */
  readonly driver: Driver;
  /** CPU and memory asks. */
  readonly resources: Resources;
  /**
   * Environment variables (Nomad interpolation such as `${NOMAD_PORT_http}` allowed).
   *
   * @default - none
   */
  readonly env?: Record<string, string>;
  /**
   * Task metadata.
   *
   * @default - none
   */
  readonly meta?: Record<string, string>;
  /**
   * Files rendered into the task directory.
   *
   * @default - none
   */
  readonly templates?: Template[];
  /**
   * Group volumes mounted into the task.
   *
   * @default - none
   */
  readonly volumeMounts?: VolumeMount[];
  /**
   * Services registered by the task itself (prefer group services).
   *
   * @default - none
   */
  readonly services?: Service[];
  /**
   * Settings of the default workload identity (made with `WorkloadIdentity.default`).
   *
   * @default - Nomad's default identity, not exposed to the task
   */
  readonly identity?: WorkloadIdentity;
  /**
   * Additional named workload identities (made with `WorkloadIdentity.named`).
   *
   * @default - none
   */
  readonly identities?: WorkloadIdentity[];
  /**
   * Restart policy of this task, merged over the group's.
   *
   * @default - the group's restart policy
   */
  readonly restart?: RestartPolicy;
  /**
   * Placement constraints (distinct_* are not allowed on tasks).
   *
   * @default - none
   */
  readonly constraints?: Constraint[];
  /**
   * When the leader task exits, the other tasks of the group are stopped.
   *
   * @default false
   */
  readonly leader?: boolean;
  /**
   * Time between the kill signal and a forced kill.
   *
   * @default Duration.seconds(5)
   */
  readonly killTimeout?: Duration;
  /**
   * Signal sent to stop the task.
   *
   * @default - the driver's default (SIGINT / SIGTERM)
   */
  readonly killSignal?: string;
  /**
   * User the task runs as.
   *
   * @default - the driver's default
   */
  readonly user?: string;
}

/**
 * Where a task is validated.
 *
 * @internal
 */
export interface TaskContext {
  readonly declaredPorts: ReadonlySet<string>;
  readonly volumes: ReadonlyMap<string, Volume>;
  readonly taskNames: ReadonlySet<string>;
  readonly groupName: string;
  readonly networkIsolated: boolean;
}

/**
 * A task: one process (container, command, VM) of a task group.
 */
export class Task {
  /** Smallest CPU ask Nomad accepts, in MHz. */
  public static readonly MIN_CPU_MHZ = MIN_CPU_MHZ;
  /** Smallest memory ask Nomad accepts, in MB. */
  public static readonly MIN_MEMORY_MB = MIN_MEMORY_MB;

  /** Task name. */
  public readonly name: string;
  /** Driver. */
  public readonly driver: Driver;
  /** Resource asks. */
  public readonly resources: Resources;
  /** Services of the task. */
  public readonly services: readonly Service[];
  /** Whether this is the group's leader task. */
  public readonly leader: boolean;
  private readonly props: TaskProps;

  constructor(props: TaskProps) {
    this.props = props;
    this.name = props.name;
    this.driver = props.driver;
    this.resources = props.resources;
    this.services = props.services ?? [];
    this.leader = props.leader ?? false;
  }

  /** @internal */
  public _validate(problems: Problems, ctx: TaskContext): void {
    const p = problems.at(`task "${this.name}"`);
    const props = this.props;
    if (!isNonEmptyString(this.name)) p.add("name", this.name, "a non-empty task name");
    else if (this.name === "alloc" || /[/\0]/.test(this.name)) p.add("name", this.name, "a name other than \"alloc\", without '/' or NUL");

    if (!(this.driver instanceof Driver)) p.add("driver", this.driver, "a Driver such as Driver.docker({ image })");
    else this.driver._validate(p, ctx.declaredPorts);

    const r = this.resources;
    if (r === undefined || r === null || typeof r !== "object") {
      p.add("resources", r, "CPU and memory asks, e.g. { cpuMhz: 100, memoryMb: 128 }");
    } else {
      validateResourceAsks(p, r);
      if (r.memoryMaxMb !== undefined && (!isInteger(r.memoryMaxMb) || !isInteger(r.memoryMb) || r.memoryMaxMb < r.memoryMb)) {
        p.add("resources.memoryMaxMb", r.memoryMaxMb, `an integer >= memoryMb (${r.memoryMb})`);
      }
    }

    validateStringMap(p, "env", props.env);
    validateStringMap(p, "meta", props.meta);

    const destinations = new Map<string, number>();
    validateEach(p, "templates", props.templates, Template, "a Template", (t, field, i) => {
      t._validate(p, i);
      const other = destinations.get(t.destination);
      if (other !== undefined) p.add(`${field}.destination`, t.destination, `a destination not already used by templates[${other}]`);
      else destinations.set(t.destination, i);
    });

    (props.volumeMounts ?? []).forEach((m, i) => validateVolumeMount(p, i, m, ctx.volumes));

    validateEach(p, "services", this.services, Service, "a Service", (s) =>
      s._validate(p, {
        declaredPorts: ctx.declaredPorts,
        isGroupService: false,
        taskNames: ctx.taskNames,
        groupName: ctx.groupName,
        networkIsolated: ctx.networkIsolated,
      }),
    );

    if (props.identity !== undefined) {
      if (!(props.identity instanceof WorkloadIdentity) || !props.identity.isDefault) {
        p.add("identity", props.identity instanceof WorkloadIdentity ? props.identity.name : props.identity, "WorkloadIdentity.default(...) (named identities go in identities)");
      } else {
        props.identity._validate(p, "identity");
      }
    }
    const identityNames = new Set<string>();
    (props.identities ?? []).forEach((id, i) => {
      if (!(id instanceof WorkloadIdentity) || id.isDefault) {
        p.add(`identities[${i}]`, id instanceof WorkloadIdentity ? id.name : id, "WorkloadIdentity.named(...) with a name other than \"default\"");
        return;
      }
      id._validate(p, `identities[${i}]`);
      if (identityNames.has(id.name)) p.add(`identities[${i}].name`, id.name, "an identity name unique within the task");
      identityNames.add(id.name);
    });

    validateOptional(p, "restart", props.restart, RestartPolicy, "a RestartPolicy", (r) => r._validate(p));
    validateEach(p, "constraints", props.constraints, Constraint, "a Constraint", (c, field) => {
      c._validate(p, field);
      if (c.isDistinct) p.add(`${field}.operator`, c.operator, "a constraint other than distinct_hosts / distinct_property on a task (put those on the group or job)");
    });
    if (props.killTimeout !== undefined && !(props.killTimeout instanceof Duration)) p.add("killTimeout", props.killTimeout, "a Duration");
    if (props.killSignal !== undefined && !/^SIG[A-Z0-9]+$/.test(props.killSignal)) p.add("killSignal", props.killSignal, "a signal name such as \"SIGTERM\"");
  }

  /** @internal */
  public _toJson(): JsonObject {
    const props = this.props;
    const r = this.resources;
    return compact({
      Name: this.name,
      Driver: this.driver.name,
      User: props.user,
      Config: this.driver._configJson(),
      Env: stringMap(props.env),
      Meta: stringMap(props.meta),
      Resources: compact({ CPU: r.cpuMhz, MemoryMB: r.memoryMb, MemoryMaxMB: r.memoryMaxMb }),
      Services: nonEmpty(this.services.map((s) => s._toJson())),
      Templates: nonEmpty((props.templates ?? []).map((t) => t._toJson())),
      VolumeMounts: nonEmpty((props.volumeMounts ?? []).map(volumeMountJson)),
      Identity: props.identity?._toJson(),
      Identities: nonEmpty((props.identities ?? []).map((id) => id._toJson())),
      RestartPolicy: props.restart?._toJson(),
      Constraints: nonEmpty((props.constraints ?? []).map((c) => c._toJson())),
      Leader: props.leader,
      KillTimeout: props.killTimeout?.toNanoseconds(),
      KillSignal: props.killSignal,
    });
  }
}
