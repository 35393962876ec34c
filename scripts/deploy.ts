/**
 * `npm run deploy -- <stack...>` and `npm run diff -- <stack...>`: `cdktf deploy` and `cdktf diff`
 * with every other argument passed through, refused before cdktf runs (one line, exit 1) when the
 * synthesized output came from another deployment file than the one the command reads
 * (cdktf.json context deploymentConfig, DEPLOYMENT_CONFIG), or from another content of it: what
 * is deployed is what was synthesized and reviewed (config/source.ts); and when an infra stack
 * would take Consul or Nomad down a version, or up more than HashiCorp supports, from what it was
 * deployed with (ops/upgrade-check.ts; `npm run diff` warns). `CDKTF_BIN` names another cdktf
 * executable (the tests use a stand-in), `TERRAFORM_BIN` another terraform.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { chosenConfig } from "../config/deployment";
import { outputFolder, synthesizedFromProblem } from "../config/source";
import { upgradeRefusalsFor } from "../ops/upgrade-check";

const COMMANDS = ["deploy", "diff"];
const [command, ...args] = process.argv.slice(2);
if (!COMMANDS.includes(command)) {
  process.stderr.write(`deploy.ts: got ${JSON.stringify(command ?? null)}, expected a command: ${COMMANDS.join(" or ")} (npm run deploy -- <stack...>, npm run diff -- <stack...>)\n`);
  process.exit(2);
}
const problem = synthesizedFromProblem(outputFolder(args), chosenConfig());
if (problem) {
  process.stderr.write(`${command}: refused: ${problem}\n`);
  process.exit(1);
}
// A downgrade or an unsupported jump of Consul or Nomad, against what each infra stack was deployed with.
const upgrades = upgradeRefusalsFor(outputFolder(args), args, process.env.TERRAFORM_BIN);
for (const u of upgrades.unchecked) process.stderr.write(`${command}: note: ${u}\n`);
if (upgrades.refusals.length > 0) {
  for (const u of upgrades.refusals) process.stderr.write(`${command}: ${command === "deploy" ? "refused" : "warning"}: ${u}\n`);
  if (command === "deploy") process.exit(1);
}
const cdktf = process.env.CDKTF_BIN ?? path.join(__dirname, "..", "node_modules", ".bin", "cdktf");
const run = spawnSync(cdktf, [command, ...args], { stdio: "inherit", env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
if (run.error) {
  process.stderr.write(`${command}: could not run ${cdktf}: ${run.error.message} (npm ci installs it)\n`);
  process.exit(1);
}
process.exit(run.status ?? 1);
