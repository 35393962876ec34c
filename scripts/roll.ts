/**
 * npm run roll -- <stack> [<group>|<vm>...] [--dry-run] [--auto-approve] [--drain-deadline S] [--wait-minutes M]
 *
 * Replaces, one VM at a time, what an apply leaves pending on a deployed infra stack (ops/roll.ts):
 * from the operator's machine on the site's VPN, after `npm run deploy -- <stack>`. Reads the
 * stack's outputs (terraform output -json) and its synthesized JSON in cdktf.out (CDKTF_OUTDIR).
 *
 * Exit status: 0 rolled (or nothing to roll), 1 stopped at a step that was not healthy (the
 * message says what it saw and how to resume), 2 bad input (one line).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { infraStackDir, readInfraOutputs, StatusInputError } from "../ops/infra-outputs";
import { siteRequest } from "../ops/probe";
import { DEFAULT_BACK_WITHIN_MS, DEFAULT_DRAIN_DEADLINE_S, roll, RollInputError, selectRoll, stackVms } from "../ops/roll";
import { redact } from "../ops/status";
import { TerraformReplacer } from "../ops/terraform-roll";

const USAGE = "usage: npm run roll -- <site>-infra [<group>|<vm>...] [--dry-run] [--auto-approve] [--drain-deadline SECONDS] [--wait-minutes MINUTES]";

interface Args {
  readonly stack: string;
  readonly names: string[];
  readonly dryRun: boolean;
  readonly autoApprove: boolean;
  readonly drainDeadlineS: number;
  readonly backWithinMs: number;
}

function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  let dryRun = false;
  let autoApprove = false;
  let drainDeadlineS = DEFAULT_DRAIN_DEADLINE_S;
  let backWithinMs = DEFAULT_BACK_WITHIN_MS;
  const number = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 1) throw new RollInputError(`${flag}: got ${JSON.stringify(v ?? null)}, expected a whole number >= 1`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--dry-run") dryRun = true;
    else if (a === "--auto-approve") autoApprove = true;
    else if (a === "--drain-deadline") drainDeadlineS = number(a, argv[++i]);
    else if (a === "--wait-minutes") backWithinMs = number(a, argv[++i]) * 60_000;
    else if (a.startsWith("-")) throw new RollInputError(`unknown option ${a}: ${USAGE}`);
    else positional.push(a);
  }
  const [stack, ...names] = positional;
  if (!stack) throw new RollInputError(`no stack given: ${USAGE}`);
  if (!/^[a-z0-9][a-z0-9-]*-infra$/.test(stack)) throw new RollInputError(`stack "${stack}": the roll replaces the VMs of an infra stack; expected <site>-infra (e.g. primary-infra)`);
  return { stack, names, dryRun, autoApprove, drainDeadlineS, backWithinMs };
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  // End of input (Ctrl-D) is a no.
  const answer = await new Promise<string>((r) => { rl.once("close", () => r("")); rl.question(question, r); });
  rl.close();
  return answer.trim() === "yes";
}

/** Every secret the command has read, for the lines it prints. */
const secrets: string[] = [];
const redactAll = (text: string) => redact(text, secrets);

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const args = parseArgs(argv);
  const site = args.stack.slice(0, -"-infra".length);
  const outputs = readInfraOutputs(site);
  secrets.push(outputs.consulToken, outputs.nomadToken);
  if (!outputs.pendingRoll) throw new RollInputError(`${args.stack}'s state has no output pending_roll (deployed by an earlier version of this library?): npm run deploy -- ${args.stack} first`);
  const outdir = process.env.CDKTF_OUTDIR ?? "cdktf.out";
  const manifest = path.join(outdir, "manifest.json");
  const stackDir = infraStackDir(site, outdir, fs.existsSync(manifest) ? fs.readFileSync(manifest, "utf8") : undefined);
  const stackJson = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
  const vms = stackVms(stackJson, outputs.members);
  const { selected, notes } = selectRoll(vms, outputs.pendingRoll, args.names);
  const say = (l: string) => process.stdout.write(`${redact(l, [outputs.consulToken, outputs.nomadToken])}\n`);
  for (const n of notes) say(n);
  if (selected.length === 0) {
    say(`${args.stack}: nothing to roll: every ${args.names.length > 0 ? "chosen " : ""}VM runs what is declared`);
    return 0;
  }
  say(`${args.stack}: rolls ${selected.length} VM(s), one at a time: ${selected.map((v) => v.name).join(", ")} (the servers' leader is chosen last when its turn comes)`);
  if (args.dryRun) return 0;
  if (!args.autoApprove) {
    if (!process.stdin.isTTY) throw new RollInputError("not interactive: add --auto-approve to roll without a question (after reviewing the list above with --dry-run)");
    if (!(await confirm("Each VM is replaced (destroyed, then created on its port with its volumes). Type yes to go on: "))) {
      say("not rolled");
      return 1;
    }
  }
  const started = Date.now();
  const resumeOptions = [
    args.autoApprove ? "--auto-approve" : "",
    args.drainDeadlineS !== DEFAULT_DRAIN_DEADLINE_S ? `--drain-deadline ${args.drainDeadlineS}` : "",
    args.backWithinMs !== DEFAULT_BACK_WITHIN_MS ? `--wait-minutes ${args.backWithinMs / 60_000}` : "",
  ].filter(Boolean).join(" ");
  const replacer = new TerraformReplacer({ stackDir, stack: args.stack, pending: outputs.pendingRoll, out: say });
  // Interrupted: no saved plan (it holds secrets) is left behind, and the operator knows where things are.
  const interrupted = (signal: string) => {
    replacer.discardAll();
    process.stderr.write(
      `roll: interrupted (${signal}): a VM being replaced may be half-way (see the lines above); a drained client stays ineligible until its roll; ` +
        `the roll lock lets go within a minute. Check with npm run status -- ${site}, then resume: npm run roll -- ${args.stack} <the VMs not done>\n`,
    );
    process.exit(130);
  };
  process.once("SIGINT", () => interrupted("SIGINT"));
  process.once("SIGTERM", () => interrupted("SIGTERM"));
  const report = await roll(selected, siteRequest(outputs), replacer, {
    stack: args.stack,
    members: outputs.members,
    backWithinMs: args.backWithinMs,
    drainDeadlineS: args.drainDeadlineS,
    resumeOptions,
    out: say,
  });
  const gaps = `longest time without a leader: Consul ${(report.longestLeaderGapMs.consul / 1000).toFixed(1)} s, Nomad ${(report.longestLeaderGapMs.nomad / 1000).toFixed(1)} s`;
  if (report.stopped) {
    const s = report.stopped;
    say(`roll stopped at ${s.vm}: ${s.step}: ${s.saw}`);
    say(`rolled before it: ${report.rolled.filter((v) => v !== s.vm).join(", ") || "none"}; ${gaps}`);
    if (s.advice) say(s.advice);
    say(s.resume ? `resume: ${s.resume}` : "nothing was left to roll after it");
    return 1;
  }
  say(`${args.stack}: rolled ${report.rolled.length} VM(s) in ${((Date.now() - started) / 1000).toFixed(0)} s; ${gaps}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof RollInputError || err instanceof StatusInputError) {
      process.stderr.write(`roll: ${err.message}\n`);
    } else {
      const e = err instanceof Error ? err : new Error(String(err));
      // Redacted: an answer quoted in an error may echo a header.
      process.stderr.write(`roll: internal error: ${redactAll(e.message.split("\n")[0])} (a defect of the library, please report it; ROLL_DEBUG=1 prints the stack trace)\n`);
      if (process.env.ROLL_DEBUG === "1" && e.stack) process.stderr.write(`${e.stack}\n`);
    }
    process.exit(2);
  },
);
