/** YAML of typed config objects, through the yaml library (never by concatenation). */
import { stringify } from "yaml";

/** Renders a typed config object as YAML (no folding of long lines: PromQL and VRL stay whole). */
export function renderYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}
