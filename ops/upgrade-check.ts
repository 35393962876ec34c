/**
 * Before `npm run deploy` (and `npm run diff`, as a warning): the Consul and Nomad versions each
 * infra stack declares against the ones it was last deployed with (its `agent_versions` output,
 * read with `terraform output` in its synthesized folder, whatever the backend). A downgrade, or
 * a jump HashiCorp does not support, is refused before anything runs (config/versions.ts). A
 * stack never deployed (or deployed before the output existed) has nothing to compare with.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Agent, AGENT_VERSIONS_OUTPUT, AgentVersions, upgradeProblem } from "../config/versions";
import { PENDING_ROLL_OUTPUT } from "./infra-outputs";

/**
 * One line per version change of `stack` that is not a supported upgrade. `pendingVms` are the
 * VMs that still wait for a roll in the deployed state: while any does, the versions the VMs run
 * may still be older than the deployed output says, so no version may change.
 */
export function upgradeRefusals(stack: string, deployed: Partial<AgentVersions> | undefined, declared: Partial<AgentVersions> | undefined, pendingVms: readonly string[] = []): string[] {
  if (!deployed || !declared) return [];
  const site = stack.replace(/-infra$/, "");
  const changed = (["consul", "nomad"] as Agent[]).filter((a) => deployed[a] && declared[a] && deployed[a] !== declared[a]);
  if (changed.length > 0 && pendingVms.length > 0) {
    return [`site ${site}: agents: ${changed.map((a) => `${a} ${deployed[a]} to ${declared[a]}`).join(", ")} while ${pendingVms.length} VM(s) still wait for a roll (${pendingVms.slice(0, 3).join(", ")}${pendingVms.length > 3 ? ", ..." : ""}): they may still run older versions; roll them first (npm run roll -- ${stack}), then deploy the new versions`];
  }
  return changed.flatMap((agent) => {
    const why = upgradeProblem(agent, deployed[agent]!, declared[agent]!);
    return why ? [`site ${site}: agents.${agent}: ${why}`] : [];
  });
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** cdktf deploy's options that take a value (the value is not a stack name). */
const VALUE_OPTIONS = ["--output", "-o", "--app", "-a", "--var", "--var-file", "--outputs-file", "--parallelism", "--terraform-parallelism"];

/** A stack pattern of cdktf's command line (`*`, `?`, `[...]` globs) as a regular expression. */
function globRegex(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/** The infra stacks a `cdktf deploy|diff` command line names (every one for none), matched as cdktf matches them (globs). */
export function infraStacksOf(args: readonly string[], manifest: Json): { stack: string; dir: string }[] {
  const stacks = (manifest?.stacks ?? {}) as Record<string, { workingDirectory?: string }>;
  const positional = args.filter((a, i) => !a.startsWith("-") && !(i > 0 && VALUE_OPTIONS.includes(args[i - 1])));
  const patterns = positional.map(globRegex);
  return Object.entries(stacks)
    .filter(([name]) => name.endsWith("-infra") && (patterns.length === 0 || patterns.some((p) => p.test(name))))
    .map(([name, s]) => ({ stack: name, dir: s.workingDirectory ?? path.join("stacks", name) }));
}

/** What the deployed state of the stack in `stackDir` records (its outputs are read, none is printed). */
export type Deployed =
  | { readonly state: "deployed"; readonly versions?: Partial<AgentVersions>; readonly pendingVms: readonly string[] }
  /** Not initialized here (a fresh clone: a first deploy, or the state is in a backend not initialized yet). */
  | { readonly state: "unknown"; readonly why: string };

export function deployedState(stackDir: string, terraform = "terraform"): Deployed {
  if (!fs.existsSync(path.join(stackDir, ".terraform"))) return { state: "unknown", why: `${stackDir} is not initialized (a first deploy, or run terraform init there to check against a shared backend)` };
  const r = spawnSync(terraform, [`-chdir=${stackDir}`, "output", "-json"], {
    encoding: "utf8",
    env: { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.error || r.status !== 0) return { state: "unknown", why: `terraform output failed in ${stackDir}: ${String(r.stderr ?? r.error?.message ?? "").split("\n").find((l) => l.includes("Error")) ?? "no message"}` };
  try {
    const outputs = JSON.parse(r.stdout) as Record<string, { value?: Json }>;
    const versions = outputs[AGENT_VERSIONS_OUTPUT]?.value as Partial<AgentVersions> | undefined;
    const pending = (outputs[PENDING_ROLL_OUTPUT]?.value ?? {}) as Record<string, unknown>;
    const pendingVms = Object.entries(pending).filter(([, w]) => Array.isArray(w) && w.length > 0).map(([vm]) => vm);
    return { state: "deployed", ...(versions && typeof versions === "object" ? { versions } : {}), pendingVms };
  } catch {
    return { state: "unknown", why: `terraform output in ${stackDir} did not print JSON` };
  }
}

/** Every refusal of the stacks a command line names, from the synthesized output folder `outdir`; and what could not be checked. */
export function upgradeRefusalsFor(outdir: string, args: readonly string[], terraform?: string): { refusals: string[]; unchecked: string[] } {
  const manifestFile = path.join(outdir, "manifest.json");
  if (!fs.existsSync(manifestFile)) return { refusals: [], unchecked: [] };
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Json;
  const refusals: string[] = [];
  const unchecked: string[] = [];
  for (const { stack, dir } of infraStacksOf(args, manifest)) {
    const stackDir = path.join(outdir, dir);
    const file = path.join(stackDir, "cdk.tf.json");
    if (!fs.existsSync(file)) continue;
    const declared = (JSON.parse(fs.readFileSync(file, "utf8")) as Json)?.output?.[AGENT_VERSIONS_OUTPUT]?.value as Partial<AgentVersions> | undefined;
    const deployed = deployedState(stackDir, terraform);
    if (deployed.state === "unknown") unchecked.push(`${stack}: the agents' versions not checked against the deployed ones: ${deployed.why}`);
    else refusals.push(...upgradeRefusals(stack, deployed.versions, declared, deployed.pendingVms));
  }
  return { refusals, unchecked };
}
