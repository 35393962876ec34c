/**
 * Synthesizes an app so that nothing is half-written: into a staging folder first, then, when
 * no construct reported an error, in place of the output folder in one rename.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { App } from "cdktf";
import { IConstruct } from "constructs";
import { DeploymentConfigError } from "../config/deployment";
import { ProblemsError } from "../constructs/problems";

const ERROR = "@cdktf/error";

/** Error annotations of the whole tree, one line each: `construct path: message`. */
export function collectErrors(root: IConstruct): string[] {
  return root.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === ERROR).map((m) => `${c.node.path}: ${String(m.data)}`));
}

/**
 * Carries each stack's `.terraform` folder and lock file over to the new output. The folder of a
 * stack the new output no longer has (another deployment file was synthesized before) is carried
 * over whole: `cdktf synth` lists the stack folders before it runs the app and removes, after it,
 * those that are not in the new manifest; it fails if one has already gone.
 */
function keepTerraformWorkingState(final: string, staging: string): void {
  const stacks = path.join(final, "stacks");
  if (!fs.existsSync(stacks)) return;
  for (const stack of fs.readdirSync(stacks)) {
    const target = path.join(staging, "stacks", stack);
    if (!fs.existsSync(target)) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.renameSync(path.join(stacks, stack), target);
      continue;
    }
    for (const keep of [".terraform", ".terraform.lock.hcl"]) {
      const from = path.join(stacks, stack, keep);
      if (fs.existsSync(from)) fs.renameSync(from, path.join(target, keep));
    }
  }
}

/**
 * Builds the app with `build`, synthesizes it, and moves the result to `outdir`
 * (`CDKTF_OUTDIR` or cdktf.out), with `files` (name to content) beside its manifest. Throws a
 * ProblemsError, writing nothing, on error annotations.
 */
export function synthesizeAtomically(build: (app: App) => void, outdir = process.env.CDKTF_OUTDIR ?? "cdktf.out", files: Readonly<Record<string, string>> = {}): App {
  const final = path.resolve(outdir);
  const staging = `${final}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  // Collect every error annotation instead of stopping at the first stack that has one.
  process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS = "true";
  try {
    const app = new App({ outdir: staging });
    build(app);
    app.synth();
    const errors = collectErrors(app);
    if (errors.length > 0) throw new ProblemsError(errors);
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(staging, name), content);
    keepTerraformWorkingState(final, staging);
    const old = `${final}.old-${process.pid}`;
    if (fs.existsSync(final)) fs.renameSync(final, old);
    fs.renameSync(staging, final);
    fs.rmSync(old, { recursive: true, force: true });
    return app;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * What synth prints for an error that stopped it, one line each, never a stack trace: the
 * problems of a deployment file, of a stack or of a builder as they are; anything else is a
 * defect of the library, said in one line (its stack trace only with `debug`).
 */
export function failureLines(err: unknown, debug = false): string[] {
  if (err instanceof ProblemsError) return [...err.problems];
  if (err instanceof DeploymentConfigError) return err.message.split("\n");
  const e = err instanceof Error ? err : new Error(String(err));
  return [
    `synth: internal error: ${e.message.split("\n")[0]} (a defect of the library, please report it; SYNTH_DEBUG=1 prints the stack trace)`,
    ...(debug && e.stack ? [e.stack] : []),
  ];
}

/**
 * What synth wrote, one line per stack: where, how many resources and of which kinds, and the
 * VMs and jobs among them (what a reviewer looks for first).
 */
export function summaryLines(outdir: string): string[] {
  const stacksDir = path.join(outdir, "stacks");
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8")) as { stacks: Record<string, { synthesizedStackPath: string }> };
  return Object.entries(manifest.stacks).map(([name, s]) => {
    const file = path.join(outdir, s.synthesizedStackPath);
    const json = JSON.parse(fs.readFileSync(file, "utf8")) as { resource?: Record<string, Record<string, unknown>> };
    const kinds = Object.entries(json.resource ?? {}).map(([type, byName]) => [type, Object.keys(byName).length] as const).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const total = kinds.reduce((n, [, c]) => n + c, 0);
    const count = (type: string) => kinds.find(([t]) => t === type)?.[1] ?? 0;
    const where = path.relative(process.cwd(), path.join(stacksDir, name, "cdk.tf.json"));
    return `${name}: ${where}: ${total} resources, ${count("openstack_compute_instance_v2")} VMs, ${count("nomad_job")} jobs (${kinds.map(([t, c]) => `${c} ${t}`).join(", ")})`;
  });
}
