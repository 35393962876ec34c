/**
 * The fields of the deployment file, from its schema: the README's table of fields (one row per
 * field path, generated here and checked by a unit test), and what an error about one field says
 * is expected, with the field's example.
 */
import { Document } from "yaml";
import type { z } from "zod";
import { FIELDS, FieldDoc, deploymentSchema } from "./schema";

type Schema = z.core.$ZodType;
type Def = {
  type: string;
  innerType?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  defaultValue?: unknown;
};

const defOf = (s: Schema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The layers a field's schema is wrapped in (optional, default...), outermost first. */
function layers(s: Schema): Schema[] {
  const out = [s];
  for (let d = defOf(s); d.innerType && ["optional", "default", "prefault", "nullable", "readonly"].includes(d.type); d = defOf(d.innerType)) out.push(d.innerType);
  return out;
}

const core = (s: Schema): Schema => layers(s).at(-1) as Schema;

/** A field's documentation, from any of its layers. */
function docOf(s: Schema): FieldDoc | undefined {
  for (const l of layers(s)) {
    const d = FIELDS.get(l as z.ZodType);
    if (d) return d;
  }
  return undefined;
}

/** A value as it is written in the file, on one line: `m1.large`, `{ vcpus: 8, ramMb: 16384 }`. */
export function yamlInline(value: unknown): string {
  return new Document(value).toString({ collectionStyle: "flow", lineWidth: 0 }).trim();
}

/** `key: value` on one line, as it is written in the file. */
function yamlPair(key: string, value: unknown): string {
  // A one-entry flow mapping without its braces: the yaml library quotes the key and the value as needed.
  return yamlInline({ [key]: value }).replace(/^\{ /, "").replace(/ \}$/, "");
}

/** One field of the deployment file. */
export interface FieldRow {
  /** Its path, `[]` for the items of a list and `<placeholder>` for free keys: `sites[].vms.<role>.count`. */
  readonly path: string;
  /** `required`, `required <when>`, `default <value>` or `optional: <what happens>`. */
  readonly requirement: string;
  readonly example: unknown;
  readonly doc: string;
}

/**
 * What the README says of a field being required or not, from its schema and its documentation.
 * The entries of a mapping with free keys (`vms.<role>`) are optional by nature.
 */
function requirement(s: Schema, doc: FieldDoc, variant: string | undefined, entry: boolean): string {
  const outer = defOf(s);
  const only = variant ? ` (${variant})` : "";
  if (doc.requiredWhen) return `required ${doc.requiredWhen}`;
  if (outer.type === "default") {
    const v = outer.defaultValue;
    const empty = (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && Object.keys(v).length === 0);
    return doc.absent ? `default${only}: ${doc.absent}` : `default \`${yamlInline(v)}\`${empty ? " (none)" : ""}${only}`;
  }
  if (outer.type === "optional" || entry) return `optional${only}: ${doc.absent ?? UNDOCUMENTED}`;
  return `required${only}`;
}

/** What a row says of an optional field whose documentation does not say what happens without it (the unit test refuses it). */
export const UNDOCUMENTED = "(undocumented)";

/**
 * Every field of the schema, in the order of the schema. A field without documentation is a row
 * with an empty `doc` (the unit test refuses it). The variants of a union (the backends) share
 * their common fields.
 */
export function fieldRows(root: Schema = deploymentSchema): FieldRow[] {
  const found = new Map<string, { schema: Schema; variants: Set<string | undefined>; of?: number; entry: boolean }>();
  const add = (path: string, s: Schema, variant: string | undefined, of: number | undefined, isEntry = false) => {
    const entry = found.get(path) ?? { schema: s, variants: new Set<string | undefined>(), of, entry: isEntry };
    entry.variants.add(variant);
    found.set(path, entry);
  };
  const walk = (s: Schema, at: string, variant?: string, of?: number): void => {
    const d = defOf(core(s));
    switch (d.type) {
      case "object":
        for (const [key, child] of Object.entries(d.shape ?? {})) {
          const path = at ? `${at}.${key}` : key;
          add(path, child, variant, of);
          walk(child, path, variant, of);
        }
        return;
      case "array":
        if (defOf(core(d.element as Schema)).type === "object") walk(d.element as Schema, `${at}[]`, variant, of);
        return;
      case "record": {
        const value = d.valueType as Schema;
        if (defOf(core(value)).type !== "object") return;
        const path = `${at}.${docOf(s)?.key ?? "<key>"}`;
        add(path, value, variant, of, true);
        walk(value, path, variant, of);
        return;
      }
      case "union": {
        const options = d.options ?? [];
        for (const option of options) {
          const literal = defOf(core(defOf(option).shape?.type as Schema)) as Def & { values?: unknown[] };
          walk(option, at, String(literal.values?.[0]), options.length);
        }
        return;
      }
      default:
    }
  };
  walk(root, "");
  return [...found.entries()].map(([path, { schema, variants, of, entry }]) => {
    const doc = docOf(schema);
    // A field of some variants only (a backend's) says which.
    const only = of !== undefined && variants.size < of ? [...variants].join(", ") : undefined;
    return { path, requirement: doc ? requirement(schema, doc, only, entry) : "", example: doc?.example, doc: doc?.doc ?? "" };
  });
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** The README's table of fields (Markdown), from the schema. */
export function fieldsTable(root: Schema = deploymentSchema): string {
  const lines = ["| field | required or default | example | what it does |", "| --- | --- | --- | --- |"];
  for (const r of fieldRows(root)) lines.push(`| \`${r.path}\` | ${cell(r.requirement)} | \`${cell(yamlInline(r.example))}\` | ${cell(r.doc)} |`);
  return lines.join("\n");
}

/** The schema of the field at a concrete path (`sites[0].vms.server.count`), with the key it is under. */
function fieldAt(root: Schema, path: readonly PropertyKey[]): { schema?: Schema; key?: string } {
  let cur: Schema | undefined = root;
  let key: string | undefined;
  for (const seg of path) {
    if (!cur) return {};
    const d = defOf(core(cur));
    if (typeof seg === "string") key = seg;
    switch (d.type) {
      case "object":
        cur = d.shape?.[String(seg)];
        break;
      case "array":
        cur = d.element;
        break;
      case "record":
        cur = d.valueType;
        break;
      case "union":
        cur = (d.options ?? []).map((o) => defOf(o).shape?.[String(seg)]).find((c) => c !== undefined);
        break;
      default:
        return {};
    }
  }
  return { schema: cur, key };
}

/**
 * `e.g. <key>: <example>` for the field at `path`: its own example, or for an item of a list,
 * the first item of the list's example. Empty when the field has none.
 */
export function exampleAt(path: readonly PropertyKey[], root: Schema = deploymentSchema): string {
  const last = path.at(-1);
  const { schema } = fieldAt(root, path);
  const own = schema ? docOf(schema) : undefined;
  if (own) return typeof last === "string" ? `e.g. ${yamlPair(last, own.example)}` : `e.g. ${yamlInline(own.example)}`;
  // An item of a list, or an entry of a mapping with free keys: from the example of the list or mapping.
  const parent = fieldAt(root, path.slice(0, -1)).schema;
  const ex = parent ? docOf(parent)?.example : undefined;
  if (typeof last === "number" && Array.isArray(ex) && ex.length > 0) return `e.g. ${yamlInline(ex[0])}`;
  if (typeof last === "string" && typeof ex === "object" && ex !== null && !Array.isArray(ex)) {
    const [first] = Object.entries(ex);
    if (first) return `e.g. ${yamlPair(first[0], first[1])}`;
  }
  return "";
}

/** What a field is for, for the error that says it is missing. */
export function docAt(path: readonly PropertyKey[], root: Schema = deploymentSchema): string | undefined {
  const { schema } = fieldAt(root, path);
  return schema ? docOf(schema)?.doc : undefined;
}

/** The markers around the generated table in the README. */
export const TABLE_START = "<!-- fields: generated from config/schema.ts by scripts/readme-fields.ts; do not edit -->";
export const TABLE_END = "<!-- fields: end -->";

/** The README with its table of fields replaced by the one the schema gives. Throws when the markers are missing. */
export function withFieldsTable(readme: string, root: Schema = deploymentSchema): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README: the markers ${TABLE_START} and ${TABLE_END} of the table of fields are missing`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${fieldsTable(root)}\n${readme.slice(end)}`;
}
