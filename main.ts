/**
 * Synthesizes every site of the deployment: `<site>-infra` and `<site>-platform` per site.
 * The deployment file is the one cdktf.json's context names (deploymentConfig), DEPLOYMENT_CONFIG
 * overriding it, else config/deployment.yaml (config/deployment.ts, defaultConfigPath).
 */
import { Aspects } from "cdktf";
import { loadDeployment } from "./config/deployment";
import { PlatformPolicy } from "./constructs/policy/platform-policy";
import { buildDeployment } from "./stacks/deployment";
import { appProblems } from "./stacks/site-workloads";
import { skipTokenStackTraces } from "./stacks/fast-traces";
import { failureLines, synthesizeAtomically } from "./stacks/synth";

skipTokenStackTraces();

try {
  const deployment = loadDeployment(undefined, [appProblems]);
  synthesizeAtomically((app) => {
    buildDeployment(app, deployment);
    Aspects.of(app).add(new PlatformPolicy());
  });
} catch (err) {
  process.stderr.write(`${failureLines(err, process.env.SYNTH_DEBUG === "1").join("\n")}\n`);
  process.exit(1);
}
