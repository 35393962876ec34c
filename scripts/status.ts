/**
 * npm run status -- <site>: from the operator's machine, on the site's VPN, whether the site is
 * ready for its platform stack (ops/status.ts), one check a line.
 *
 * Exit status: 0 ready, 1 not ready, 2 could not check (bad input: an unknown site, a stack not
 * deployed from here, outputs missing), with one line naming the site and what to do.
 */
import { readInfraOutputs, StatusInputError } from "../ops/infra-outputs";
import { DEFAULT_REQUEST_TIMEOUT_MS, observe } from "../ops/probe";
import { reportLines, statusChecks } from "../ops/status";

const USAGE = "usage: npm run status -- <site>   (a site of the deployment file, whose <site>-infra stack is deployed)";

async function main(args: readonly string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const sites = args.filter((a) => !a.startsWith("-"));
  const unknown = args.filter((a) => a.startsWith("-"));
  if (unknown.length > 0) throw new StatusInputError(`unknown option ${unknown.join(", ")}: ${USAGE}`);
  if (sites.length !== 1) throw new StatusInputError(`${sites.length === 0 ? "no site given" : `one site at a time, got ${sites.join(", ")}`}: ${USAGE}`);
  const site = sites[0];
  const outputs = readInfraOutputs(site);
  const timeoutMs = process.env.STATUS_TIMEOUT_MS ? Number(process.env.STATUS_TIMEOUT_MS) : DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new StatusInputError(`STATUS_TIMEOUT_MS: got "${process.env.STATUS_TIMEOUT_MS}", expected a number of milliseconds`);
  const results = statusChecks(outputs, await observe(outputs, { timeoutMs }));
  process.stdout.write(`${reportLines(outputs, results).join("\n")}\n`);
  return results.every((r) => r.passed) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof StatusInputError) {
      process.stderr.write(`status: ${err.message}\n`);
    } else {
      const e = err instanceof Error ? err : new Error(String(err));
      process.stderr.write(`status: internal error: ${e.message.split("\n")[0]} (a defect of the library, please report it; STATUS_DEBUG=1 prints the stack trace)\n`);
      if (process.env.STATUS_DEBUG === "1" && e.stack) process.stderr.write(`${e.stack}\n`);
    }
    process.exit(2);
  },
);
