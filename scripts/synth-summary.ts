/**
 * After `cdktf synth` (npm run synth): where each stack was written and what it holds. The CLI
 * shows none of the app's own output, so this reads what it wrote.
 */
import { summaryLines } from "../stacks/synth";

process.stdout.write(`${summaryLines(process.env.CDKTF_OUTDIR ?? "cdktf.out").join("\n")}\n`);
