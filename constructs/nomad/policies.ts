import { Duration } from "./duration";
import { compact, isInteger, JsonObject, Problems, validateMinDuration } from "./internal";

/** How deployment health is decided. */
export enum HealthCheckMode {
  /** All tasks running and all their service checks passing. */
  CHECKS = "checks",
  /** All tasks running (checks ignored). */
  TASK_STATES = "task_states",
  /** An operator marks allocations healthy through the API. */
  MANUAL = "manual",
}

/** Props of {@link UpdateStrategy}. */
export interface UpdateStrategyProps {
  /**
   * Allocations replaced at the same time; 0 disables rolling updates.
   *
   * @default 1
   */
  readonly maxParallel?: number;
  /**
   * Canary allocations started before the old ones are replaced.
   *
   * @default 1
   */
  readonly canary?: number;
  /**
   * Revert to the last stable version when a deployment fails.
   *
   * @default true
   */
  readonly autoRevert?: boolean;
  /**
   * Promote canaries automatically once they are healthy (needs `canary > 0`).
   *
   * @default - true when `canary > 0`, false otherwise
   */
  readonly autoPromote?: boolean;
  /**
   * How health is decided.
   *
   * @default HealthCheckMode.CHECKS
   */
  readonly healthCheck?: HealthCheckMode;
  /**
   * Time an allocation must stay healthy to count as healthy.
   *
   * @default Duration.seconds(10)
   */
  readonly minHealthyTime?: Duration;
  /**
   * Time an allocation has to become healthy.
   *
   * @default Duration.minutes(5)
   */
  readonly healthyDeadline?: Duration;
  /**
   * Time the deployment has to make progress before it fails (0 disables).
   *
   * @default Duration.minutes(10)
   */
  readonly progressDeadline?: Duration;
  /**
   * Delay between migrations of allocations off draining nodes.
   *
   * @default Duration.seconds(30)
   */
  readonly stagger?: Duration;
}

/**
 * The update block: rolling, canary deployments with automatic revert.
 */
export class UpdateStrategy {
  /** The safe default applied to service jobs: one canary, auto-promote, auto-revert. */
  public static readonly DEFAULT = new UpdateStrategy();

  /** Allocations replaced at the same time. */
  public readonly maxParallel: number;
  /** Canaries. */
  public readonly canary: number;
  /** Auto-revert. */
  public readonly autoRevert: boolean;
  /** Auto-promote. */
  public readonly autoPromote: boolean;
  /** Health check mode. */
  public readonly healthCheck: HealthCheckMode;
  /** Minimum healthy time. */
  public readonly minHealthyTime: Duration;
  /** Healthy deadline. */
  public readonly healthyDeadline: Duration;
  /** Progress deadline. */
  public readonly progressDeadline: Duration;
  /** Stagger. */
  public readonly stagger: Duration;

  constructor(props: UpdateStrategyProps = {}) {
    this.maxParallel = props.maxParallel ?? 1;
    this.canary = props.canary ?? 1;
    this.autoRevert = props.autoRevert ?? true;
    this.autoPromote = props.autoPromote ?? this.canary > 0;
    this.healthCheck = props.healthCheck ?? HealthCheckMode.CHECKS;
    this.minHealthyTime = props.minHealthyTime ?? Duration.seconds(10);
    this.healthyDeadline = props.healthyDeadline ?? Duration.minutes(5);
    this.progressDeadline = props.progressDeadline ?? Duration.minutes(10);
    this.stagger = props.stagger ?? Duration.seconds(30);
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at("update");
    if (!isInteger(this.maxParallel) || this.maxParallel < 0) p.add("maxParallel", this.maxParallel, "an integer >= 0");
    if (!isInteger(this.canary) || this.canary < 0) p.add("canary", this.canary, "an integer >= 0");
    if (this.autoPromote && this.canary === 0) p.add("autoPromote", this.autoPromote, "false when canary is 0 (there is nothing to promote)");
    if (!Object.values(HealthCheckMode).includes(this.healthCheck)) p.add("healthCheck", this.healthCheck, "a HealthCheckMode");
    if (this.minHealthyTime.toNanoseconds() >= this.healthyDeadline.toNanoseconds()) {
      p.add("minHealthyTime", this.minHealthyTime.toGoString(), `a duration shorter than healthyDeadline (${this.healthyDeadline.toGoString()})`);
    }
    if (this.healthyDeadline.toNanoseconds() === 0) p.add("healthyDeadline", "0s", "a duration > 0");
    if (this.progressDeadline.toNanoseconds() !== 0 && this.healthyDeadline.toNanoseconds() >= this.progressDeadline.toNanoseconds()) {
      p.add("healthyDeadline", this.healthyDeadline.toGoString(), `a duration shorter than progressDeadline (${this.progressDeadline.toGoString()}), or progressDeadline 0`);
    }
    if (this.stagger.toNanoseconds() === 0) p.add("stagger", "0s", "a duration > 0");
  }

  /** @internal */
  public _toJson(): JsonObject {
    return {
      MaxParallel: this.maxParallel,
      Canary: this.canary,
      AutoRevert: this.autoRevert,
      AutoPromote: this.autoPromote,
      HealthCheck: this.healthCheck,
      MinHealthyTime: this.minHealthyTime.toNanoseconds(),
      HealthyDeadline: this.healthyDeadline.toNanoseconds(),
      ProgressDeadline: this.progressDeadline.toNanoseconds(),
      Stagger: this.stagger.toNanoseconds(),
    };
  }
}

/** What happens when a task fails more than `attempts` times in an `interval`. */
export enum RestartMode {
  /** Wait for the next interval and try again. */
  DELAY = "delay",
  /** Fail the allocation (it may then be rescheduled). */
  FAIL = "fail",
}

/** Props of {@link RestartPolicy}. */
export interface RestartPolicyProps {
  /** Restarts allowed within `interval`. */
  readonly attempts: number;
  /** Window in which `attempts` restarts are allowed (at least 5 seconds). */
  readonly interval: Duration;
  /** Wait before each restart. */
  readonly delay: Duration;
  /**
   * What happens once the attempts are used up.
   *
   * @default RestartMode.FAIL
   */
  readonly mode?: RestartMode;
  /**
   * Re-render templates on restart.
   *
   * @default false
   */
  readonly renderTemplates?: boolean;
}

/**
 * Restarts of failed tasks on the same node (the restart block).
 */
export class RestartPolicy {
  /** Restarts allowed within the interval. */
  public readonly attempts: number;
  /** Interval. */
  public readonly interval: Duration;
  /** Delay. */
  public readonly delay: Duration;
  /** Mode. */
  public readonly mode: RestartMode;
  /** Re-render templates. */
  public readonly renderTemplates: boolean;

  constructor(props: RestartPolicyProps) {
    this.attempts = props.attempts;
    this.interval = props.interval;
    this.delay = props.delay;
    this.mode = props.mode ?? RestartMode.FAIL;
    this.renderTemplates = props.renderTemplates ?? false;
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at("restart");
    if (!isInteger(this.attempts) || this.attempts < 0) p.add("attempts", this.attempts, "an integer >= 0");
    if (!Object.values(RestartMode).includes(this.mode)) p.add("mode", this.mode, "a RestartMode");
    if (this.attempts === 0 && this.mode !== RestartMode.FAIL) p.add("mode", this.mode, "RestartMode.FAIL when attempts is 0");
    if (!validateMinDuration(p, "interval", this.interval, Duration.seconds(5))) return;
    if (!(this.delay instanceof Duration)) {
      p.add("delay", this.delay, "a Duration");
      return;
    }
    if (isInteger(this.attempts) && this.attempts * this.delay.toNanoseconds() > this.interval.toNanoseconds()) {
      p.add("interval", this.interval.toGoString(), `at least attempts × delay (${this.attempts} × ${this.delay.toGoString()})`);
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    return {
      Attempts: this.attempts,
      Interval: this.interval.toNanoseconds(),
      Delay: this.delay.toNanoseconds(),
      Mode: this.mode,
      RenderTemplates: this.renderTemplates,
    };
  }
}

/** How the delay between reschedules grows. */
export enum DelayFunction {
  /** Always `delay`. */
  CONSTANT = "constant",
  /** Doubles each time, up to `maxDelay`. */
  EXPONENTIAL = "exponential",
  /** Fibonacci sequence, up to `maxDelay`. */
  FIBONACCI = "fibonacci",
}

/** Delay settings of a reschedule policy. */
export interface RescheduleDelayProps {
  /**
   * Delay before the first reschedule (at least 5 seconds).
   *
   * @default Duration.seconds(30)
   */
  readonly delay?: Duration;
  /**
   * Growth of the delay.
   *
   * @default DelayFunction.EXPONENTIAL
   */
  readonly delayFunction?: DelayFunction;
  /**
   * Upper bound of the delay (ignored for the constant function).
   *
   * @default Duration.hours(1)
   */
  readonly maxDelay?: Duration;
}

/** Props of {@link ReschedulePolicy.limited}. */
export interface LimitedRescheduleProps extends RescheduleDelayProps {
  /** Reschedules allowed within `interval`. */
  readonly attempts: number;
  /** Window in which `attempts` reschedules are allowed (at least 15 seconds). */
  readonly interval: Duration;
}

/**
 * Placement of failed allocations on other nodes (the reschedule block). Not allowed on system and
 * sysbatch jobs.
 */
export class ReschedulePolicy {
  /** The safe default: unlimited reschedules, exponential delay from 30s up to 1h. */
  public static readonly DEFAULT = ReschedulePolicy.unlimited();

  /** Reschedule for as long as it takes, backing off. */
  public static unlimited(props: RescheduleDelayProps = {}): ReschedulePolicy {
    return new ReschedulePolicy(0, Duration.seconds(0), true, props);
  }

  /** At most `attempts` reschedules per `interval`. */
  public static limited(props: LimitedRescheduleProps): ReschedulePolicy {
    return new ReschedulePolicy(props.attempts, props.interval, false, props);
  }

  /** Never reschedule. */
  public static disabled(): ReschedulePolicy {
    return new ReschedulePolicy(0, Duration.seconds(0), false, {});
  }

  /** Delay. */
  public readonly delay: Duration;
  /** Delay function. */
  public readonly delayFunction: DelayFunction;
  /** Maximum delay. */
  public readonly maxDelay: Duration;

  private constructor(
    /** Attempts per interval (0 with unlimited or disabled). */
    public readonly attempts: number,
    /** Interval (0 with unlimited or disabled). */
    public readonly interval: Duration,
    /** Unlimited reschedules. */
    public readonly unlimited: boolean,
    props: RescheduleDelayProps,
  ) {
    this.delay = props.delay ?? Duration.seconds(30);
    this.delayFunction = props.delayFunction ?? DelayFunction.EXPONENTIAL;
    this.maxDelay = props.maxDelay ?? Duration.hours(1);
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at("reschedule");
    const enabled = this.unlimited || this.attempts > 0;
    if (!isInteger(this.attempts) || this.attempts < 0) {
      p.add("attempts", this.attempts, "an integer >= 1");
      return;
    }
    if (!Object.values(DelayFunction).includes(this.delayFunction)) p.add("delayFunction", this.delayFunction, "a DelayFunction");
    if (!enabled) return;
    if (this.delay.toNanoseconds() < Duration.seconds(5).toNanoseconds()) p.add("delay", this.delay.toGoString(), "a Duration of at least 5s");
    if (this.delayFunction !== DelayFunction.CONSTANT && this.maxDelay.toNanoseconds() < this.delay.toNanoseconds()) {
      p.add("maxDelay", this.maxDelay.toGoString(), `a Duration of at least delay (${this.delay.toGoString()})`);
    }
    if (!this.unlimited && this.interval.toNanoseconds() < Duration.seconds(15).toNanoseconds()) {
      p.add("interval", this.interval.toGoString(), "a Duration of at least 15s");
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    return {
      Attempts: this.attempts,
      Interval: this.interval.toNanoseconds(),
      Delay: this.delay.toNanoseconds(),
      DelayFunction: this.delayFunction,
      MaxDelay: this.maxDelay.toNanoseconds(),
      Unlimited: this.unlimited,
    };
  }
}

/**
 * The job type facts that decide whether a job or a group may set an update strategy and a
 * reschedule policy.
 *
 * @internal
 */
export interface PolicyScope {
  readonly jobType: string;
  readonly allowsUpdate: boolean;
  readonly allowsReschedule: boolean;
}

/**
 * Validates the update strategy set on a job or a group, if any (service and system jobs only).
 *
 * @internal
 */
export function validateUpdate(problems: Problems, update: UpdateStrategy | undefined, scope: PolicyScope): void {
  if (update === undefined) return;
  if (!scope.allowsUpdate) problems.add("update", "an update strategy", `no update strategy on a ${scope.jobType} job (only service and system jobs have deployments)`);
  else if (!(update instanceof UpdateStrategy)) problems.add("update", update, "an UpdateStrategy");
  else update._validate(problems);
}

/**
 * Validates the reschedule policy set on a job or a group, if any (service and batch jobs only).
 *
 * @internal
 */
export function validateReschedule(problems: Problems, reschedule: ReschedulePolicy | undefined, scope: PolicyScope): void {
  if (reschedule === undefined) return;
  if (!scope.allowsReschedule) problems.add("reschedule", "a reschedule policy", `no reschedule policy on a ${scope.jobType} job (Nomad does not reschedule system or sysbatch allocations)`);
  else if (!(reschedule instanceof ReschedulePolicy)) problems.add("reschedule", reschedule, "a ReschedulePolicy");
  else reschedule._validate(problems);
}

/** Options of {@link Periodic.cron}. */
export interface PeriodicOptions {
  /**
   * Skip a launch while the previous instance still runs.
   *
   * @default true
   */
  readonly prohibitOverlap?: boolean;
  /**
   * IANA time zone the expression is evaluated in.
   *
   * @default "UTC"
   */
  readonly timeZone?: string;
  /**
   * Launch children; false pauses the schedule.
   *
   * @default true
   */
  readonly enabled?: boolean;
}

const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/**
 * The schedule of a periodic batch or sysbatch job.
 *
 * ```ts
 * Periodic.cron("0 3 * * *", { prohibitOverlap: true });
 * ```
 */
export class Periodic {
  /** Launch on a cron expression (5 fields, or 6–7 with seconds / years, or a macro such as @daily). */
  public static cron(expression: string, options: PeriodicOptions = {}): Periodic {
    return new Periodic([expression], options);
  }

  /** Launch at the earliest match of any of several cron expressions. */
  public static crons(expressions: string[], options: PeriodicOptions = {}): Periodic {
    return new Periodic(expressions, options);
  }

  /** Cron expressions. */
  public readonly expressions: readonly string[];
  /** Overlap prohibited. */
  public readonly prohibitOverlap: boolean;
  /** Time zone. */
  public readonly timeZone: string;
  /** Enabled. */
  public readonly enabled: boolean;

  private constructor(expressions: string[], options: PeriodicOptions) {
    this.expressions = expressions ?? [];
    this.prohibitOverlap = options.prohibitOverlap ?? true;
    this.timeZone = options.timeZone ?? "UTC";
    this.enabled = options.enabled ?? true;
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at("periodic");
    if (!Array.isArray(this.expressions) || this.expressions.length === 0) {
      p.add("cron", this.expressions, "at least one cron expression");
    } else {
      this.expressions.forEach((expr, i) => {
        const field = this.expressions.length === 1 ? "cron" : `crons[${i}]`;
        if (typeof expr !== "string") {
          p.add(field, expr, "a cron expression string");
          return;
        }
        const trimmed = expr.trim();
        if (trimmed.startsWith("@")) {
          if (!CRON_MACROS.includes(trimmed)) p.add(field, expr, `a cron expression or one of ${CRON_MACROS.join(", ")}`);
          return;
        }
        const fields = trimmed.split(/\s+/).filter((x) => x.length > 0);
        if (fields.length < 5 || fields.length > 7) {
          p.add(field, expr, `5 space-separated fields (minute hour day-of-month month day-of-week), or 6-7 with seconds / year; got ${fields.length}`);
        } else if (fields.some((x) => !/^[0-9A-Za-z*?,/#-]+$/.test(x))) {
          p.add(field, expr, "fields made of digits, names, '*', '?', ',', '/', '-', '#'");
        }
      });
    }
    if (typeof this.timeZone !== "string" || !isValidTimeZone(this.timeZone)) p.add("timeZone", this.timeZone, "an IANA time zone such as \"UTC\" or \"Europe/Paris\"");
  }

  /** @internal */
  public _toJson(): JsonObject {
    return compact({
      Enabled: this.enabled,
      SpecType: "cron",
      Specs: [...this.expressions],
      ProhibitOverlap: this.prohibitOverlap,
      TimeZone: this.timeZone,
    });
  }
}

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
