/**
 * Internal helpers shared by the Nomad job model: the problem collector used by validation, JSON
 * building helpers and small predicates. Nothing here is re-exported from the package index.
 */

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
