/**
 * How `npm run roll` replaces one VM of a deployed infra stack: `terraform plan -replace=<its
 * instance>` in the stack's synthesized folder, refused unless that replacement, on the same port
 * with the same volumes, is all the plan does (anything else pending is the deploy's to apply,
 * reviewed); once the roll's gates pass, `terraform apply` of that very plan (a saved plan: a
 * state changed since makes it fail instead of doing something else). The instance is destroyed, then created again on the same port (the same address)
 * with the same volumes; only the instance changes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { terraformError } from "./infra-outputs";
import { PreparedReplacement, Replacer, RollVm } from "./roll";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RollPlanOptions {
  /** The VM has "volumes" pending: its replacement may attach other volumes. @default false */
  readonly volumesMayChange?: boolean;
}

/** Ports and volumes of an instance's planned value (network[].port, block_device[].uuid). */
function attachments(v: Json): { ports: string[]; volumes: string[] } {
  return {
    ports: ((v?.network ?? []) as Json[]).map((n) => String(n?.port ?? "")).sort(),
    volumes: ((v?.block_device ?? []) as Json[]).map((b) => String(b?.uuid ?? "")).sort(),
  };
}

/**
 * What a saved plan (terraform show -json) does besides replacing `address` on the same port
 * with the same volumes: one phrase each; empty when nothing. An instance missing from the state
 * (an apply that failed after the destroy) may be created.
 */
export function rollPlanProblems(plan: Json, address: string, opts: RollPlanOptions = {}): string[] {
  const changes = (plan?.resource_changes ?? []) as { address: string; change?: { actions?: string[]; before?: Json; after?: Json; importing?: unknown } }[];
  const what = (actions: readonly string[]) => (actions.includes("delete") && actions.includes("create") ? "replaced" : actions.join(" and ").replace("delete", "destroyed").replace("create", "created").replace("update", "updated"));
  const problems: string[] = [];
  const mine = changes.find((c) => c.address === address);
  const actions = mine?.change?.actions ?? [];
  if (!mine) problems.push(`${address} is not in the plan (is the stack deployed from this folder?)`);
  else if (actions.join(",") === "create") {
    /* gone from the state: created again */
  } else if (actions.join(",") !== "delete,create") problems.push(`${address} would be ${actions.join(",") === "create,delete" ? "created before it is destroyed" : what(actions)}, not destroyed then created`);
  else {
    const before = attachments(mine.change?.before);
    const after = attachments(mine.change?.after);
    if (before.ports.join() !== after.ports.join()) problems.push(`${address} would move from port ${before.ports.join(", ")} to ${after.ports.join(", ") || "none"} (its address)`);
    if (!opts.volumesMayChange && before.volumes.join() !== after.volumes.join()) problems.push(`${address} would get volumes ${after.volumes.join(", ") || "none"} instead of ${before.volumes.join(", ") || "none"}`);
  }
  for (const c of changes) {
    const a = c.change?.actions ?? [];
    if (c.change?.importing) problems.push(`${c.address} would be imported`);
    if (c.address === address || a.length === 0 || a.every((x) => x === "no-op" || x === "read")) continue;
    problems.push(`${c.address} would be ${what(a)}`);
  }
  return problems;
}

interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command, without blocking the roll's other work (its leader watch). */
function runAsync(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", (e) => { clearTimeout(timer); resolve({ status: 127, stdout, stderr: `${stderr}${e.message}` }); });
    child.on("close", (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

export interface TerraformReplacerOptions {
  /** The stack's synthesized folder (where `cdktf deploy` ran Terraform). */
  readonly stackDir: string;
  readonly stack: string;
  /** What waits per VM (pending_roll): a VM with "volumes" may get other volumes. */
  readonly pending: Readonly<Record<string, readonly string[]>>;
  /** @default terraform */
  readonly terraform?: string;
  /** How long one plan or apply may take. @default 1800000 */
  readonly timeoutMs?: number;
  readonly out: (line: string) => void;
}

export class TerraformReplacer implements Replacer {
  /** The private folders of the saved plans not yet applied or discarded. */
  private readonly folders = new Set<string>();

  constructor(private readonly opts: TerraformReplacerOptions) {}

  /** Removes every saved plan still on disk (an interrupted roll). */
  discardAll(): void {
    for (const f of this.folders) fs.rmSync(f, { recursive: true, force: true });
    this.folders.clear();
  }

  async prepare(vm: RollVm): Promise<PreparedReplacement> {
    const tf = this.opts.terraform ?? "terraform";
    const env = { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
    const timeout = this.opts.timeoutMs ?? 30 * 60_000;
    const dir = this.opts.stackDir;
    // A saved plan holds the sensitive values in clear: a private folder, removed once used.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "roll-plan-"));
    fs.chmodSync(tmp, 0o700);
    const planFile = path.join(tmp, "roll.tfplan");
    this.folders.add(tmp);
    const discard = () => { fs.rmSync(tmp, { recursive: true, force: true }); this.folders.delete(tmp); };
    try {
      const plan = await runAsync(tf, [`-chdir=${dir}`, "plan", "-input=false", "-no-color", "-lock-timeout=60s", `-replace=${vm.address}`, `-out=${planFile}`], env, timeout);
      if (plan.status !== 0) throw new Error(`terraform plan -replace=${vm.address} failed: ${terraformError(plan.stderr || plan.stdout)}`);
      const shown = await runAsync(tf, [`-chdir=${dir}`, "show", "-json", planFile], env, timeout);
      if (shown.status !== 0) throw new Error(`terraform show of the plan failed: ${terraformError(shown.stderr)}`);
      const problems = rollPlanProblems(JSON.parse(shown.stdout), vm.address, { volumesMayChange: (this.opts.pending[vm.name] ?? []).includes("volumes") });
      if (problems.length > 0) {
        throw new Error(`the plan of ${vm.name}'s replacement does more than replace it: ${problems.join("; ")}: apply the other changes first (npm run deploy -- ${this.opts.stack}, reviewed), then resume`);
      }
    } catch (e) {
      discard();
      throw e;
    }
    this.opts.out(`${vm.name}: planned: ${vm.address} replaced on its port with its volumes, nothing else`);
    return {
      apply: async () => {
        try {
          const applied = await runAsync(tf, [`-chdir=${dir}`, "apply", "-input=false", "-no-color", "-lock-timeout=60s", planFile], env, timeout);
          if (applied.status !== 0) throw new Error(`terraform apply of ${vm.name}'s replacement failed: ${terraformError(applied.stderr || applied.stdout)}`);
        } finally {
          discard();
        }
      },
      discard,
    };
  }
}
