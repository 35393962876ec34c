/**
 * npm run rehearse -- [--sites primary,backup] [--from DIR] [--keep] [--tunnel-late] [--roll-to DIR [--roll VMS]]
 * Rehearses the deployment (rehearsal/): without --from, synthesizes the deployment file first
 * (the one cdktf.json names, or DEPLOYMENT_CONFIG) into a temporary folder. Needs root and the
 * toolchain (npm run toolchain). Exits non-zero when a check fails.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HostError, loadToolchainEnv } from "../rehearsal/host";
import { PlanError } from "../rehearsal/plan";
import { rehearse, reportTable, REHEARSAL_ROOT } from "../rehearsal/run";

const ROOT = path.resolve(__dirname, "..");

function fail(msg: string): never {
  process.stderr.write(`rehearse: ${msg}\n`);
  process.exit(2);
}

interface Args { sites?: string[]; from?: string; keep: boolean; tunnelLate: boolean; rollTo?: string; roll?: string[] }

function parseArgs(argv: readonly string[]): Args {
  const out: Args = { keep: false, tunnelLate: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--keep") out.keep = true;
    else if (a === "--tunnel-late") out.tunnelLate = true;
    else if (a === "--sites") out.sites = (argv[++i] ?? fail("--sites needs a comma-separated list, e.g. --sites primary,backup")).split(",").filter(Boolean);
    else if (a === "--from") out.from = argv[++i] ?? fail("--from needs a synthesized folder, e.g. --from cdktf.out");
    else if (a === "--roll-to") out.rollTo = argv[++i] ?? fail("--roll-to needs the synthesized folder of the changed deployment, e.g. --roll-to /tmp/changed");
    else if (a === "--roll") out.roll = (argv[++i] ?? fail("--roll needs a comma-separated list of VMs or groups, e.g. --roll server,client")).split(",").filter(Boolean);
    else fail(`unknown argument ${a}: expected --sites LIST, --from DIR, --keep, --tunnel-late, --roll-to DIR or --roll LIST`);
  }
  if (out.roll && !out.rollTo) fail("--roll chooses what --roll-to rolls: give --roll-to DIR too");
  if (out.rollTo && !fs.existsSync(path.join(out.rollTo, "stacks"))) fail(`--roll-to ${out.rollTo}: no stacks folder: synthesize the changed deployment there first (CDKTF_OUTDIR=${out.rollTo} DEPLOYMENT_CONFIG=<changed file> npm run synth)`);
  return out;
}

function toolchainBinary(name: string): string {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const p = r.stdout.trim();
  if (!p) fail(`${name} is not on PATH: run npm run toolchain`);
  return fs.realpathSync(p);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) fail("the rehearsal makes network namespaces: run it as root");
  if (!loadToolchainEnv(path.join(ROOT, ".toolchain", "env"))) fail(".toolchain/env is missing: run npm run toolchain first");
  let from = args.from;
  if (!from) {
    from = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-synth-"));
    process.stdout.write(`synthesizing into ${from}\n`);
    const r = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: from }, stdio: "inherit" });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const binaries = { consul: toolchainBinary("consul"), nomad: toolchainBinary("nomad") };
  const report = await rehearse({ from, ...(args.sites ? { sites: args.sites } : {}), keep: args.keep, tunnelLate: args.tunnelLate, ...(args.rollTo ? { roll: { to: args.rollTo, ...(args.roll ? { only: args.roll } : {}) } } : {}), binaries, out: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(`\n${reportTable(report)}\n`);
  process.stdout.write(`\nchanged from the rendered files:\n${report.changes.map((c) => `  - ${c}`).join("\n")}\n`);
  if (args.keep) {
    const enter = report.vms.map((v) => `  ${v.vm.name.padEnd(28)} ${v.enterCommand()}`).join("\n");
    process.stdout.write(
      `\nkept running. Enter a VM (as root):\n${enter}\n` +
        `its files: ${REHEARSAL_ROOT}/<vm>/upper, its agents' logs: ${REHEARSAL_ROOT}/<vm>/logs\n` +
        `tear it down: press Ctrl-C here (or run npm run rehearse again: it starts by removing what a previous run left)\n`,
    );
    const stop = () => { report.teardown?.(); process.exit(report.ok ? 0 : 1); };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    setInterval(() => undefined, 1 << 30); // keeps the process (and so the rehearsal) alive until a signal
    return;
  }
  process.exit(report.ok ? 0 : 1);
}

main().catch((e: unknown) => {
  if (e instanceof HostError || e instanceof PlanError) fail(e.message);
  throw e;
});
