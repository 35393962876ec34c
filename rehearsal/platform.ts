/**
 * Check 2: a site's platform stack applied with the real providers, from the operator's
 * namespace on the VPN (as the README tells operators to), exactly as synthesized except for
 * where its states are: its own state in the rehearsal's folder, and the infra outputs it reads
 * from the infra stack's scratch state. Its jobs are then registered; a second plan is empty.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CheckResult } from "./checks";
import { HostError } from "./host";
import { Operator } from "./operator";
import { StackJson } from "./plan";

/** Values for the platform stack's input variables: the rehearsal's own, never real credentials. */
export function platformVariables(json: StackJson): Record<string, string> {
  return Object.fromEntries(Object.keys(json.variable ?? {}).map((v) => [`TF_VAR_${v}`, `rehearsal-${v}`]));
}

/** The platform stack with its backend and remote states pointed at the rehearsal's files. */
export function relocatePlatform(json: StackJson, infraStates: Readonly<Record<string, string>>): StackJson {
  const copy = JSON.parse(JSON.stringify(json)) as StackJson & { terraform: Record<string, unknown>; data?: Record<string, Record<string, Record<string, unknown>>> };
  copy.terraform = { ...copy.terraform, backend: { local: { path: "terraform.tfstate" } } };
  for (const [name, r] of Object.entries(copy.data?.terraform_remote_state ?? {})) {
    const stack = Object.keys(infraStates).find((s) => name.endsWith(s));
    if (!stack) throw new HostError(`${name}: the platform stack reads a state the rehearsal did not make`);
    r.backend = "local";
    r.config = { path: infraStates[stack] };
  }
  return copy;
}

export interface PlatformApply {
  readonly checks: CheckResult[];
  /** The Nomad job IDs the stack declares. */
  readonly jobs: string[];
}

/** Applies one platform stack from the operator's namespace; the apply, then an empty re-plan. */
export async function applyPlatform(op: Operator, root: string, stack: string, json: StackJson, infraStates: Readonly<Record<string, string>>, started: number): Promise<PlatformApply> {
  const dir = path.join(root, "platform", stack);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "cdk.tf.json"), JSON.stringify(relocatePlatform(json, infraStates), null, 2));
  const env = { ...process.env, ...platformVariables(json), TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
  const tf = (args: string[]) => op.execAsync(["terraform", `-chdir=${dir}`, ...args, "-input=false", "-no-color"], { env, timeoutMs: 600_000 });
  const jobs = Object.values((json.resource?.nomad_job ?? {}) as Record<string, { jobspec?: string }>).flatMap((j) => {
    const id = /"ID":\s*"([^"]+)"/.exec(j.jobspec ?? "")?.[1];
    return id ? [id] : [];
  });
  const lines = (s: string) => s.trim().split("\n").filter((l) => /Error|error/.test(l)).slice(0, 4).join(" / ");
  const init = await tf(["init"]);
  if (init.status !== 0) return { jobs, checks: [{ name: `${stack}: terraform init`, ok: false, ms: Date.now() - started, detail: lines(init.stdout + init.stderr) }] };
  const apply = await tf(["apply", "-auto-approve"]);
  const applied: CheckResult = {
    name: `${stack}: applies with the real providers from the operator's VPN address (${Object.keys(json.resource ?? {}).length} resource types, ${jobs.length} jobs)`,
    ok: apply.status === 0,
    ms: Date.now() - started,
    detail: apply.status === 0 ? /Apply complete! .*/.exec(apply.stdout)?.[0] ?? "applied" : lines(apply.stdout + apply.stderr),
  };
  if (!applied.ok) return { jobs, checks: [applied] };
  const plan = await tf(["plan", "-detailed-exitcode"]);
  const replan: CheckResult = { name: `${stack}: a second plan is empty`, ok: plan.status === 0, ms: Date.now() - started, detail: plan.status === 0 ? "no changes" : plan.status === 2 ? plan.stdout.split("\n").filter((l) => /^\s+# /.test(l)).slice(0, 5).join(" / ") : lines(plan.stdout + plan.stderr) };
  return { jobs, checks: [applied, replan] };
}
