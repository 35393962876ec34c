import { Duration } from "./duration";
import { compact, isInteger, isNonEmptyString, JsonObject, JsonValue, Problems, validateEach } from "./internal";

/** A strategy config value of the Nomad Autoscaler. */
export type StrategyConfigValue = string | number | boolean;

/**
 * How the Nomad Autoscaler turns a metric into a count.
 */
export class ScalingStrategy {
  /** Keep the metric at `target` (e.g. 70 for 70% CPU). */
  public static targetValue(target: number, options: { readonly threshold?: number } = {}): ScalingStrategy {
    return new ScalingStrategy("target-value", compactConfig({ target, threshold: options.threshold }));
  }

  /** Use the metric value itself as the count. */
  public static passThrough(): ScalingStrategy {
    return new ScalingStrategy("pass-through", {});
  }

  /** Always scale to `value`. */
  public static fixedValue(value: number): ScalingStrategy {
    return new ScalingStrategy("fixed-value", { value });
  }

  /** Any other strategy plugin with its configuration. */
  public static custom(name: string, config: Readonly<Record<string, StrategyConfigValue>>): ScalingStrategy {
    return new ScalingStrategy(name, { ...config });
  }

  private constructor(
    /** Strategy plugin name. */
    public readonly name: string,
    /** Strategy configuration. */
    public readonly config: Readonly<Record<string, StrategyConfigValue>>,
  ) {}

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    if (!isNonEmptyString(this.name)) problems.add(`${field}.name`, this.name, "a non-empty strategy plugin name");
    for (const [key, value] of Object.entries(this.config)) {
      if (typeof value === "number" && !Number.isFinite(value)) problems.add(`${field}.${key}`, value, "a finite number");
    }
    if (this.name === "target-value" && (typeof this.config.target !== "number" || this.config.target <= 0)) {
      problems.add(`${field}.target`, this.config.target, "a number > 0");
    }
  }
}

function compactConfig(config: Record<string, StrategyConfigValue | undefined>): Record<string, StrategyConfigValue> {
  const out: Record<string, StrategyConfigValue> = {};
  for (const [k, v] of Object.entries(config)) if (v !== undefined) out[k] = v;
  return out;
}

/** Props of {@link ScalingCheck}. */
export interface ScalingCheckProps {
  /** Check name, unique within the policy. */
  readonly name: string;
  /** APM plugin queried (`prometheus`, `nomad-apm`, `datadog`, ...). */
  readonly source: string;
  /** Query returning a single number. */
  readonly query: string;
  /** Strategy turning the value into a count. */
  readonly strategy: ScalingStrategy;
  /**
   * Time range of the query.
   *
   * @default - the APM plugin's default
   */
  readonly queryWindow?: Duration;
}

/**
 * One metric check of an Autoscaler policy.
 *
 * ```ts
 * ScalingCheck.prometheus("cpu", { query: "avg(nomad_client_allocs_cpu_total_percent)", strategy: ScalingStrategy.targetValue(70) });
 * ```
 */
export class ScalingCheck {
  /** A check querying Prometheus. */
  public static prometheus(name: string, props: Omit<ScalingCheckProps, "name" | "source">): ScalingCheck {
    return new ScalingCheck({ ...props, name, source: "prometheus" });
  }

  /** A check querying Nomad's own allocation metrics (`nomad-apm`). */
  public static nomadApm(name: string, props: Omit<ScalingCheckProps, "name" | "source">): ScalingCheck {
    return new ScalingCheck({ ...props, name, source: "nomad-apm" });
  }

  /** Check name. */
  public readonly name: string;
  private readonly props: ScalingCheckProps;

  constructor(props: ScalingCheckProps) {
    this.props = props;
    this.name = props.name;
  }

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    const f = `${field}.check "${this.name}"`;
    if (!isNonEmptyString(this.name)) problems.add(`${field}.check name`, this.name, "a non-empty check name");
    if (!isNonEmptyString(this.props.source)) problems.add(`${f}.source`, this.props.source, "a non-empty APM plugin name such as \"prometheus\"");
    if (!isNonEmptyString(this.props.query)) problems.add(`${f}.query`, this.props.query, "a non-empty query");
    if (!(this.props.strategy instanceof ScalingStrategy)) problems.add(`${f}.strategy`, this.props.strategy, "a ScalingStrategy such as ScalingStrategy.targetValue(70)");
    else this.props.strategy._validate(problems, `${f}.strategy`);
  }

  /**
   * The check as the Autoscaler reads it from a job: HCL blocks decoded to lists of single-key
   * maps, `{"<name>": [{source, query, strategy: [{"<strategy>": [{...config}]}]}]}`.
   *
   * @internal
   */
  public _toJson(): JsonObject {
    const body = compact({
      source: this.props.source,
      query: this.props.query,
      query_window: this.props.queryWindow?.toGoString(),
      strategy: [{ [this.props.strategy.name]: [{ ...this.props.strategy.config }] }],
    });
    return { [this.name]: [body] };
  }
}

/** Props of {@link AutoscalerPolicy}. */
export interface AutoscalerPolicyProps {
  /** Metric checks; the Autoscaler picks the safest result. */
  readonly checks: ScalingCheck[];
  /**
   * Time between evaluations.
   *
   * @default - the Autoscaler's default (10s)
   */
  readonly evaluationInterval?: Duration;
  /**
   * Quiet time after a scaling action.
   *
   * @default - the Autoscaler's default (5m)
   */
  readonly cooldown?: Duration;
}

/**
 * The `policy` of a scaling block: opaque to Nomad, read by the Nomad Autoscaler.
 */
export class AutoscalerPolicy {
  /** Checks. */
  public readonly checks: readonly ScalingCheck[];
  /** Evaluation interval. */
  public readonly evaluationInterval?: Duration;
  /** Cooldown. */
  public readonly cooldown?: Duration;

  constructor(props: AutoscalerPolicyProps) {
    this.checks = props.checks ?? [];
    this.evaluationInterval = props.evaluationInterval;
    this.cooldown = props.cooldown;
  }

  /** @internal */
  public _validate(problems: Problems): void {
    if (!Array.isArray(this.checks) || this.checks.length === 0) {
      problems.add("scaling.policy.checks", this.checks, "at least one ScalingCheck");
      return;
    }
    const names = new Set<string>();
    validateEach(problems, "scaling.policy.checks", this.checks, ScalingCheck, "a ScalingCheck", (c, field) => {
      c._validate(problems, "scaling.policy");
      if (names.has(c.name)) problems.add(`${field}.name`, c.name, "a check name unique within the policy");
      names.add(c.name);
    });
  }

  /** @internal */
  public _toJson(): JsonObject {
    const out: { [key: string]: JsonValue } = {};
    if (this.evaluationInterval) out.evaluation_interval = this.evaluationInterval.toGoString();
    if (this.cooldown) out.cooldown = this.cooldown.toGoString();
    out.check = this.checks.map((c) => c._toJson());
    return out;
  }
}

/** Props of {@link ScalingPolicy}. */
export interface ScalingPolicyProps {
  /**
   * Lowest count.
   *
   * @default - the group's count
   */
  readonly min?: number;
  /** Highest count. */
  readonly max: number;
  /**
   * Whether the Autoscaler acts on the policy.
   *
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Autoscaler policy.
   *
   * @default - no policy: bounds only (manual `nomad job scale` within min..max)
   */
  readonly policy?: AutoscalerPolicy;
}

/**
 * The scaling block of a task group: count bounds and the Autoscaler policy.
 */
export class ScalingPolicy {
  /** Lowest count, if set. */
  public readonly min?: number;
  /** Highest count. */
  public readonly max: number;
  /** Enabled. */
  public readonly enabled: boolean;
  /** Autoscaler policy, if any. */
  public readonly policy?: AutoscalerPolicy;

  constructor(props: ScalingPolicyProps) {
    this.min = props.min;
    this.max = props.max;
    this.enabled = props.enabled ?? true;
    this.policy = props.policy;
  }

  /** @internal */
  public _validate(problems: Problems, count: number): void {
    if (this.min !== undefined && (!isInteger(this.min) || this.min < 0)) problems.add("scaling.min", this.min, "an integer >= 0");
    if (!isInteger(this.max) || this.max < 0) problems.add("scaling.max", this.max, "an integer >= 0");
    const min = this.min ?? count;
    if (isInteger(min) && isInteger(this.max)) {
      if (min > this.max) problems.add("scaling.min", min, `at most scaling.max (${this.max})`);
      else if (isInteger(count) && (count < min || count > this.max)) problems.add("count", count, `a count within scaling bounds [${min}, ${this.max}]`);
    }
    if (this.policy !== undefined) {
      if (!(this.policy instanceof AutoscalerPolicy)) problems.add("scaling.policy", this.policy, "an AutoscalerPolicy");
      else this.policy._validate(problems);
    }
  }

  /** @internal */
  public _toJson(count: number): JsonObject {
    return compact({
      Type: "horizontal",
      Min: this.min ?? count,
      Max: this.max,
      Enabled: this.enabled,
      Policy: this.policy?._toJson(),
    });
  }
}
