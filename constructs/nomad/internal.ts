/**
 * Internal helpers shared by the Nomad job model: the problem collector used by validation, JSON
 * building helpers and small predicates. Nothing here is re-exported from the package index.
 */

import { Duration } from "./duration";
import type { JsonObject, JsonValue } from "./json";

export type { JsonObject, JsonPrimitive, JsonValue } from "./json";

/**
 * Collects validation problems under a path such as `job "web" > group "api" > task "server"`.
 * Every problem names the field, the value received and what is expected.
 *
 * @internal
 */
export class Problems {
  /** Creates a collector whose messages start with `path`. */
  public static root(path: string): Problems {
    return new Problems(path, []);
  }

  private constructor(
    /** Path of the element being validated, e.g. `job "web" > group "api"`. */
    public readonly path: string,
    private readonly sink: string[],
  ) {}

  /** A collector for a nested element; problems go to the same list. */
  public at(segment: string): Problems {
    return new Problems(`${this.path} > ${segment}`, this.sink);
  }

  /** Records that `field` received `received` where `expected` was expected. */
  public add(field: string, received: unknown, expected: string): void {
    this.sink.push(`${this.path}: ${field}: received ${describeValue(received)}; expected ${expected}`);
  }

  /** All problems recorded so far, through this collector or any nested one. */
  public get messages(): readonly string[] {
    return this.sink;
  }
}

/**
 * Renders a received value for an error message.
 *
 * @internal
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Set) return describeValue([...value]);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * True when `value` is an integer (not NaN, not fractional).
 *
 * @internal
 */
export function isInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value);
}

/**
 * True when a string carries an unresolved cdktf token; such values are only known at apply time
 * and format checks are skipped for them.
 *
 * @internal
 */
export function isUnresolved(value: unknown): boolean {
  return typeof value === "string" && value.includes("${TfToken[");
}

/**
 * True for a non-empty string that is not only whitespace.
 *
 * @internal
 */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim().length > 0;
}

/**
 * Builds a JSON object without the keys whose value is `undefined`, so optional fields are only
 * emitted when set.
 *
 * @internal
 */
export function compact(fields: { readonly [key: string]: JsonValue | undefined }): JsonObject {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Returns `list` as a JSON array, or `undefined` when it is missing or empty.
 *
 * @internal
 */
export function nonEmpty<T extends JsonValue>(list: readonly T[] | undefined): readonly T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

/**
 * Copies a string map, or returns `undefined` when it is missing or empty.
 *
 * @internal
 */
export function stringMap(map: Readonly<Record<string, string>> | undefined): JsonObject | undefined {
  if (!map || Object.keys(map).length === 0) return undefined;
  return { ...map };
}

/**
 * Validates a string map (env, meta): keys non-empty, values strings.
 *
 * @internal
 */
export function validateStringMap(problems: Problems, field: string, map: Readonly<Record<string, string>> | undefined): void {
  if (map === undefined) return;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    problems.add(field, map, "an object of string keys to string values");
    return;
  }
  for (const [key, value] of Object.entries(map)) {
    if (key.trim().length === 0) problems.add(`${field} key`, key, "a non-empty key");
    if (typeof value !== "string") problems.add(`${field}.${key}`, value, "a string value");
  }
}

/**
 * A class of the model, as the right-hand side of `instanceof` (its constructor may be private).
 *
 * @internal
 */
// eslint-disable-next-line @typescript-eslint/ban-types
export type ModelClass<T> = Function & { readonly prototype: T };

/**
 * Validates a list of model objects: an item that is not an instance of `type` is recorded at
 * `field[index]` as not `expected`; the others are passed to `validate` with that field path.
 * A missing list is an empty one.
 *
 * @internal
 */
export function validateEach<T>(
  problems: Problems,
  field: string,
  items: readonly T[] | undefined,
  type: ModelClass<T>,
  expected: string,
  validate: (item: T, field: string, index: number) => void,
): void {
  (items ?? []).forEach((item, index) => {
    const itemField = `${field}[${index}]`;
    if (item instanceof type) validate(item, itemField, index);
    else problems.add(itemField, item, expected);
  });
}

/**
 * Validates an optional model object: when set, a value that is not an instance of `type` is
 * recorded at `field` as not `expected`; an instance is passed to `validate`.
 *
 * @internal
 */
export function validateOptional<T>(problems: Problems, field: string, value: T | undefined, type: ModelClass<T>, expected: string, validate: (value: T) => void): void {
  if (value === undefined) return;
  if (value instanceof type) validate(value);
  else problems.add(field, value, expected);
}

/**
 * True for an integer port number from 1 to 65535.
 *
 * @internal
 */
export function isPortNumber(value: unknown): value is number {
  return isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * Records `label` under `field` unless it is one of the ports declared in the group network.
 *
 * @internal
 */
export function validateDeclaredPort(problems: Problems, field: string, label: string, declaredPorts: ReadonlySet<string>): void {
  if (!declaredPorts.has(label)) {
    problems.add(field, label, `a port label declared in the group network (declared: ${[...declaredPorts].join(", ") || "none"})`);
  }
}

/** Smallest CPU ask Nomad accepts for a task, in MHz. @internal */
export const MIN_CPU_MHZ = 1;
/** Smallest memory ask Nomad accepts for a task, in MB. @internal */
export const MIN_MEMORY_MB = 10;

/**
 * Validates the CPU and memory asks of a task or a Connect sidecar task.
 *
 * @internal
 */
export function validateResourceAsks(problems: Problems, resources: { readonly cpuMhz: number; readonly memoryMb: number }): void {
  if (!isInteger(resources.cpuMhz) || resources.cpuMhz < MIN_CPU_MHZ) problems.add("resources.cpuMhz", resources.cpuMhz, `an integer number of MHz >= ${MIN_CPU_MHZ}`);
  if (!isInteger(resources.memoryMb) || resources.memoryMb < MIN_MEMORY_MB) problems.add("resources.memoryMb", resources.memoryMb, `an integer number of MB >= ${MIN_MEMORY_MB}`);
}

/**
 * Validates that `value` is a Duration of at least `min`; returns whether it is.
 *
 * @internal
 */
export function validateMinDuration(problems: Problems, field: string, value: unknown, min: Duration): value is Duration {
  if (value instanceof Duration && value.toNanoseconds() >= min.toNanoseconds()) return true;
  problems.add(field, value instanceof Duration ? value.toGoString() : value, `a Duration of at least ${min.toGoString()}`);
  return false;
}
