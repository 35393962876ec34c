import { parse as parseYaml } from "yaml";
/** Shared test fixtures. */
import * as fs from "node:fs";
import * as path from "node:path";
import { DeploymentConfig, parseDeployment } from "../config/deployment";

export const ROOT = path.resolve(__dirname, "..");
export const DEFAULT_CONFIG_TEXT = fs.readFileSync(path.join(ROOT, "config", "deployment.yaml"), "utf8");

/** The default deployment, parsed. */
export function defaultDeployment(): DeploymentConfig {
  return parseDeployment(DEFAULT_CONFIG_TEXT, "config/deployment.yaml");
}

/** The default deployment's YAML with `edit` applied to its parsed form, re-serialized. */
export function editedYaml(edit: (doc: Record<string, any>) => void): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const YAML = require("yaml") as typeof import("yaml");
  const doc = YAML.parse(DEFAULT_CONFIG_TEXT) as Record<string, any>;
  edit(doc);
  return YAML.stringify(doc);
}

/** The checks `npm run status` prints, in order: the contract its tests hold it to. */
export const STATUS_CHECK_NAMES: readonly string[] = [
  "Consul servers answer",
  "Consul leader",
  "Consul Raft peers",
  "Consul ACL bootstrap",
  "Consul members",
  "Nomad servers answer",
  "Nomad leader",
  "Nomad Raft peers",
  "Nomad ACL bootstrap",
  "Nomad clients",
];

/** The files a rendered cloud-config writes, by path, decoded (b64 or plain). */
export function writtenFiles(userData: string): Record<string, string> {
  const doc = parseYaml(userData) as { write_files: { path: string; content: string; encoding?: string }[] };
  return Object.fromEntries(doc.write_files.map((f) => [f.path, f.encoding === "b64" ? Buffer.from(f.content, "base64").toString("utf8") : f.content]));
}
