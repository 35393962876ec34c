import { compact, isInteger, isNonEmptyString, JsonObject, Problems } from "./internal";

/** Comparison of a constraint or an affinity. */
export enum ConstraintOperator {
  /** Equal (string comparison). */
  EQUAL = "=",
  /** Not equal. */
  NOT_EQUAL = "!=",
  /** Greater than (lexical, or numeric when both sides are numbers). */
  GREATER_THAN = ">",
  /** Greater than or equal. */
  GREATER_THAN_OR_EQUAL = ">=",
  /** Less than. */
  LESS_THAN = "<",
  /** Less than or equal. */
  LESS_THAN_OR_EQUAL = "<=",
  /** The attribute matches the regular expression. */
  REGEXP = "regexp",
  /** The attribute satisfies a version range (`>= 1.2, < 2`). */
  VERSION = "version",
  /** The attribute satisfies a strict semver range. */
  SEMVER = "semver",
  /** The comma-separated attribute contains all the values. */
  SET_CONTAINS = "set_contains",
  /** The comma-separated attribute contains at least one of the values. */
  SET_CONTAINS_ANY = "set_contains_any",
  /** The attribute is set. */
  IS_SET = "is_set",
  /** The attribute is not set. */
  IS_NOT_SET = "is_not_set",
}

const COMPARISONS: readonly string[] = Object.values(ConstraintOperator);

/**
 * A hard placement rule.
 *
 * ```ts
 * Constraint.attribute("${attr.kernel.name}", "linux");
 * Constraint.distinctHosts();
 * ```
 */
export class Constraint {
  /** The node attribute compared with `value` by `operator`. */
  public static attribute(attribute: string, value: string, operator: ConstraintOperator = ConstraintOperator.EQUAL): Constraint {
    return new Constraint(attribute, value, operator);
  }

  /** The node attribute is set (`is_set`). */
  public static isSet(attribute: string): Constraint {
    return new Constraint(attribute, undefined, ConstraintOperator.IS_SET);
  }

  /** The node attribute is not set (`is_not_set`). */
  public static isNotSet(attribute: string): Constraint {
    return new Constraint(attribute, undefined, ConstraintOperator.IS_NOT_SET);
  }

  /** No two allocations of the group (or job) on the same node. Not allowed on tasks. */
  public static distinctHosts(): Constraint {
    return new Constraint(undefined, undefined, "distinct_hosts");
  }

  /**
   * At most `limit` allocations share a value of `attribute` (e.g. one per rack). Not allowed on
   * tasks.
   */
  public static distinctProperty(attribute: string, limit = 1): Constraint {
    return new Constraint(attribute, limit, "distinct_property");
  }

  /** Attribute examined, if any. */
  public readonly attribute?: string;
  /** Value compared with, if any. */
  public readonly value?: string | number;
  /** Operator, as written in the job. */
  public readonly operator: string;

  private constructor(attribute: string | undefined, value: string | number | undefined, operator: string) {
    this.attribute = attribute;
    this.value = value;
    this.operator = operator;
  }

  /** True for distinct_hosts / distinct_property, which apply to whole allocations. */
  public get isDistinct(): boolean {
    return this.operator === "distinct_hosts" || this.operator === "distinct_property";
  }

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    if (this.operator === "distinct_hosts") return;
    if (!isNonEmptyString(this.attribute)) problems.add(`${field}.attribute`, this.attribute, "a non-empty attribute such as \"${attr.kernel.name}\"");
    if (this.operator === "distinct_property") {
      if (!isInteger(this.value) || this.value < 1) problems.add(`${field}.limit`, this.value, "an integer >= 1");
      return;
    }
    if (!COMPARISONS.includes(this.operator)) {
      problems.add(`${field}.operator`, this.operator, "a ConstraintOperator");
      return;
    }
    if (this.operator === ConstraintOperator.IS_SET || this.operator === ConstraintOperator.IS_NOT_SET) return;
    if (typeof this.value !== "string") {
      problems.add(`${field}.value`, this.value, "a string value");
    } else if (this.operator === ConstraintOperator.REGEXP) {
      try {
        new RegExp(this.value);
      } catch {
        problems.add(`${field}.value`, this.value, "a valid regular expression");
      }
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    return compact({
      LTarget: this.attribute,
      RTarget: this.value === undefined ? undefined : String(this.value),
      Operand: this.operator,
    });
  }
}

/** Options of {@link Affinity.attribute}. */
export interface AffinityOptions {
  /**
   * Operator.
   *
   * @default ConstraintOperator.EQUAL
   */
  readonly operator?: ConstraintOperator;
  /**
   * Weight from -100 to 100 (not 0); negative weights are anti-affinities.
   *
   * @default Affinity.DEFAULT_WEIGHT (50)
   */
  readonly weight?: number;
}

/**
 * A soft placement preference.
 *
 * ```ts
 * Affinity.attribute("${node.datacenter}", "dc1", { weight: 80 });
 * ```
 */
export class Affinity {
  /** Default weight. */
  public static readonly DEFAULT_WEIGHT = 50;

  /** Prefer nodes whose attribute compares with `value`. */
  public static attribute(attribute: string, value: string, options: AffinityOptions = {}): Affinity {
    return new Affinity(attribute, value, options.operator ?? ConstraintOperator.EQUAL, options.weight ?? Affinity.DEFAULT_WEIGHT);
  }

  private constructor(
    /** Attribute examined. */
    public readonly attribute: string,
    /** Value compared with. */
    public readonly value: string,
    /** Operator. */
    public readonly operator: ConstraintOperator,
    /** Weight. */
    public readonly weight: number,
  ) {}

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    if (!isNonEmptyString(this.attribute)) problems.add(`${field}.attribute`, this.attribute, "a non-empty attribute");
    if (typeof this.value !== "string") problems.add(`${field}.value`, this.value, "a string value");
    const allowed = COMPARISONS.filter((o) => o !== ConstraintOperator.IS_SET && o !== ConstraintOperator.IS_NOT_SET);
    if (!allowed.includes(this.operator)) problems.add(`${field}.operator`, this.operator, "a comparison ConstraintOperator (not is_set / is_not_set)");
    if (!isInteger(this.weight) || this.weight === 0 || this.weight < -100 || this.weight > 100) {
      problems.add(`${field}.weight`, this.weight, "a non-zero integer from -100 to 100");
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    return { LTarget: this.attribute, RTarget: this.value, Operand: this.operator, Weight: this.weight };
  }
}

/** A share of allocations for one value of a spread attribute. */
export interface SpreadTarget {
  /** Attribute value, e.g. `dc1`. */
  readonly value: string;
  /** Percentage of allocations for that value (all targets add up to at most 100). */
  readonly percent: number;
}

/** Options of {@link Spread.attribute}. */
export interface SpreadOptions {
  /**
   * Weight from 1 to 100 relative to other spreads and affinities.
   *
   * @default Spread.DEFAULT_WEIGHT (50)
   */
  readonly weight?: number;
  /**
   * Explicit shares per value.
   *
   * @default - allocations spread evenly over all values
   */
  readonly targets?: SpreadTarget[];
}

/**
 * Spreads allocations over the values of a node attribute.
 *
 * ```ts
 * Spread.attribute("${node.unique.id}");
 * ```
 */
export class Spread {
  /** Default weight. */
  public static readonly DEFAULT_WEIGHT = 50;
  /** The attribute of the default spread: one allocation per node where possible. */
  public static readonly NODE_ATTRIBUTE = "${node.unique.id}";

  /** Spread allocations over the values of `attribute`. */
  public static attribute(attribute: string, options: SpreadOptions = {}): Spread {
    return new Spread(attribute, options.weight ?? Spread.DEFAULT_WEIGHT, options.targets ?? []);
  }

  private constructor(
    /** Attribute spread over. */
    public readonly attribute: string,
    /** Weight. */
    public readonly weight: number,
    /** Explicit targets. */
    public readonly targets: readonly SpreadTarget[],
  ) {}

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    if (!isNonEmptyString(this.attribute)) problems.add(`${field}.attribute`, this.attribute, "a non-empty attribute such as \"${node.datacenter}\"");
    if (!isInteger(this.weight) || this.weight < 1 || this.weight > 100) problems.add(`${field}.weight`, this.weight, "an integer from 1 to 100");
    let sum = 0;
    const values = new Set<string>();
    this.targets.forEach((t, i) => {
      if (!isNonEmptyString(t.value)) problems.add(`${field}.targets[${i}].value`, t.value, "a non-empty attribute value");
      else if (values.has(t.value)) problems.add(`${field}.targets[${i}].value`, t.value, "a value not already targeted");
      else values.add(t.value);
      if (!isInteger(t.percent) || t.percent < 0 || t.percent > 100) problems.add(`${field}.targets[${i}].percent`, t.percent, "an integer from 0 to 100");
      else sum += t.percent;
    });
    if (sum > 100) problems.add(`${field}.targets`, `percentages adding up to ${sum}`, "percentages adding up to at most 100");
  }

  /** @internal */
  public _toJson(): JsonObject {
    return compact({
      Attribute: this.attribute,
      Weight: this.weight,
      SpreadTarget: this.targets.length > 0 ? this.targets.map((t) => ({ Value: t.value, Percent: t.percent })) : undefined,
    });
  }
}
