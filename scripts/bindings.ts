/** What providers/NAME/bindings.json says: which provider, which schema, which types to bind. */
import * as fs from "node:fs";
import * as path from "node:path";

export const PROVIDERS_DIR = path.resolve(__dirname, "..", "providers");

export interface Bindings {
  /** Provider source address, e.g. registry.terraform.io/hashicorp/tls. */
  readonly source: string;
  /** Provider version the schema was captured from; also the version constraint in synthesized JSON. */
  readonly version: string;
  /** Schema file name beside bindings.json. */
  readonly schema: string;
  /** Resource types to generate bindings for. */
  readonly resources: readonly string[];
  /** Data source types to generate bindings for. */
  readonly dataSources: readonly string[];
}

export function listBindings(): string[] {
  return fs
    .readdirSync(PROVIDERS_DIR)
    .filter((d) => fs.existsSync(path.join(PROVIDERS_DIR, d, "bindings.json")))
    .sort();
}

export function readBindings(name: string): Bindings {
  return JSON.parse(fs.readFileSync(path.join(PROVIDERS_DIR, name, "bindings.json"), "utf8")) as Bindings;
}
