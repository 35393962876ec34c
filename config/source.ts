/**
 * Which deployment file a synthesized output came from. Synth writes a marker in the output
 * folder (the file, as the working copy names it, and the sha256 of its content); deploy and diff
 * (scripts/deploy.ts) refuse to run when the marker names another file or another content than
 * the deployment file the command would read, so that what is deployed is what was synthesized
 * and reviewed.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ConfigChoice } from "./deployment";

/** The marker's name, in the output folder (beside manifest.json). */
export const SOURCE_MARKER = "deployment-source.json";

/** What the marker holds. */
export interface DeploymentSource {
  /** The deployment file, relative to the working copy when inside it. */
  readonly file: string;
  /** sha256 of the file's content, in hex. */
  readonly sha256: string;
}

/** The file as the working copy names it: relative to `cwd` when inside it, else absolute. */
function displayPath(file: string, cwd: string): string {
  const abs = path.resolve(cwd, file);
  const rel = path.relative(cwd, abs);
  return rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
}

/** The marker of a deployment file, from its content (read from the file when not given). Throws when it cannot be read. */
export function deploymentSource(file: string, cwd: string = process.cwd(), content?: string): DeploymentSource {
  const sha256 = createHash("sha256").update(content ?? fs.readFileSync(path.resolve(cwd, file), "utf8")).digest("hex");
  return { file: displayPath(file, cwd), sha256 };
}

/** The marker's content, as synth writes it. */
export function sourceMarkerText(source: DeploymentSource): string {
  return `${JSON.stringify(source, null, 2)}\n`;
}

/**
 * Why the output in `outdir` may not be deployed (or diffed) with the deployment file `current`,
 * in one line naming both files; undefined when it may: it came from that file as it is now, or
 * nothing was synthesized yet (cdktf synthesizes first).
 */
export function synthesizedFromProblem(outdir: string, current: ConfigChoice, cwd: string = process.cwd()): string | undefined {
  const out = displayPath(outdir, cwd);
  const stacks = path.join(path.resolve(cwd, outdir), "stacks");
  if (!fs.existsSync(stacks)) return undefined;
  const redo = `run \`npm run synth\` and review its output again`;
  let marker: DeploymentSource;
  try {
    marker = JSON.parse(fs.readFileSync(path.join(path.resolve(cwd, outdir), SOURCE_MARKER), "utf8")) as DeploymentSource;
    if (typeof marker.file !== "string" || typeof marker.sha256 !== "string") throw new Error("not a marker");
  } catch {
    return `${out}: holds synthesized stacks but no ${SOURCE_MARKER} naming the deployment file they came from, so they may not be from ${displayPath(current.file, cwd)} (${current.by}): ${redo}`;
  }
  let now: DeploymentSource;
  try {
    now = deploymentSource(current.file, cwd);
  } catch (err) {
    return `${displayPath(current.file, cwd)} (${current.by}): cannot read the deployment file (${(err as Error).message.split("\n")[0]})`;
  }
  if (path.resolve(cwd, marker.file) !== path.resolve(cwd, now.file)) {
    return `${out} was synthesized from ${marker.file}, but this command reads ${now.file} (${current.by}): choose one (cdktf.json context deploymentConfig, or DEPLOYMENT_CONFIG for one command), then ${redo}`;
  }
  if (marker.sha256 !== now.sha256) {
    return `${out} was synthesized from ${marker.file} when its sha256 was ${marker.sha256.slice(0, 12)}..., and ${now.file} has changed since (sha256 ${now.sha256.slice(0, 12)}...): ${redo}`;
  }
  return undefined;
}

/**
 * The output folder a cdktf command will use: its `--output` / `-o`, else cdktf.json's `output`,
 * else cdktf.out.
 */
export function outputFolder(args: readonly string[], cwd: string = process.cwd()): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === "--output" || a === "-o") && i + 1 < args.length) return args[i + 1];
    if (a.startsWith("--output=")) return a.slice("--output=".length);
  }
  try {
    const output = (JSON.parse(fs.readFileSync(path.join(cwd, "cdktf.json"), "utf8")) as { output?: unknown }).output;
    if (typeof output === "string" && output.length > 0) return output;
  } catch {
    /* no cdktf.json, or not JSON: the default */
  }
  return "cdktf.out";
}
