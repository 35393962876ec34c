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

/** One line per version change of `stack` that is not a supported upgrade. */
export function upgradeRefusals(stack: string, deployed: Partial<AgentVersions> | undefined, declared: Partial<AgentVersions> | undefined): string[] {
  if (!deployed || !declared) return [];
  const site = stack.replace(/-infra$/, "");
  return (["consul", "nomad"] as Agent[]).flatMap((agent) => {
    const from = deployed[agent];
    const to = declared[agent];
    const why = from && to && from !== to ? upgradeProblem(agent, from, to) : undefined;
    return why ? [`site ${site}: agents.${agent}: ${why}`] : [];
  });
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The infra stacks a `cdktf deploy|diff` command line names (every one for none or a glob), from the synthesized manifest. */
export function infraStacksOf(args: readonly string[], manifest: Json): { stack: string; dir: string }[] {
  const stacks = (manifest?.stacks ?? {}) as Record<string, { workingDirectory?: string }>;
  const positional = args.filter((a, i) => !a.startsWith("-") && !(i > 0 && ["--output", "-o", "--var", "--var-file"].includes(args[i - 1])));
  const all = positional.length === 0 || positional.some((a) => a.includes("*"));
  return Object.entries(stacks)
    .filter(([name]) => name.endsWith("-infra") && (all || positional.includes(name)))
    .map(([name, s]) => ({ stack: name, dir: s.workingDirectory ?? path.join("stacks", name) }));
}

/** What the deployed state of the stack in `stackDir` records, or undefined (never deployed, not initialized here, no such output). */
export function deployedAgentVersions(stackDir: string, terraform = "terraform"): Partial<AgentVersions> | undefined {
  if (!fs.existsSync(path.join(stackDir, ".terraform")) && !fs.existsSync(path.join(stackDir, "terraform.tfstate"))) return undefined;
  const r = spawnSync(terraform, [`-chdir=${stackDir}`, "output", "-json", AGENT_VERSIONS_OUTPUT], {
    encoding: "utf8",
    env: { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" },
    timeout: 120_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.status !== 0) return undefined;
  try {
    const v = JSON.parse(r.stdout) as Json;
    return typeof v === "object" && v !== null ? (v as Partial<AgentVersions>) : undefined;
  } catch {
    return undefined;
  }
}

/** Every refusal of the stacks a command line names, from the synthesized output folder `outdir`. */
export function upgradeRefusalsFor(outdir: string, args: readonly string[], terraform?: string): string[] {
  const manifestFile = path.join(outdir, "manifest.json");
  if (!fs.existsSync(manifestFile)) return [];
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Json;
  return infraStacksOf(args, manifest).flatMap(({ stack, dir }) => {
    const stackDir = path.join(outdir, dir);
    const file = path.join(stackDir, "cdk.tf.json");
    if (!fs.existsSync(file)) return [];
    const declared = (JSON.parse(fs.readFileSync(file, "utf8")) as Json)?.output?.[AGENT_VERSIONS_OUTPUT]?.value as Partial<AgentVersions> | undefined;
    return upgradeRefusals(stack, deployedAgentVersions(stackDir, terraform), declared);
  });
}
