import { compact, isInteger, isNonEmptyString, JsonObject, Problems, validateEach } from "./internal";

/** Comparison of a constraint. */
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
   * Weight from 1 to 100 relative to other spreads.
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

/** The placement rules of a job or a group. */
interface PlacementRules {
  readonly constraints?: readonly Constraint[];
  readonly spreads?: readonly Spread[];
}

/**
 * Validates the constraints and spreads of a job or a group (spreads are not allowed on system
 * jobs).
 *
 * @internal
 */
export function validatePlacement(problems: Problems, rules: PlacementRules, isSystem: boolean): void {
  validateEach(problems, "constraints", rules.constraints, Constraint, "a Constraint", (c, field) => c._validate(problems, field));
  const spreads = rules.spreads ?? [];
  if (isSystem && spreads.length > 0) problems.add("spreads", `${spreads.length} spreads`, "no spread on a system job");
  validateEach(problems, "spreads", spreads, Spread, "a Spread", (s, field) => s._validate(problems, field));
}
