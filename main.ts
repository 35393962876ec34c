/**
 * Synthesizes every site of the deployment: `<site>-infra` and `<site>-platform` per site.
 * The deployment file is `config/deployment.yaml`, or the one DEPLOYMENT_CONFIG names.
 */
import { Aspects } from "cdktf";
import { DeploymentConfigError, loadDeployment } from "./config/deployment";
import { PlatformPolicy } from "./constructs/policy/platform-policy";
import { buildDeployment } from "./stacks/deployment";
import { skipTokenStackTraces } from "./stacks/fast-traces";
import { SynthError, synthesizeAtomically } from "./stacks/synth";

skipTokenStackTraces();

try {
  const deployment = loadDeployment();
  synthesizeAtomically((app) => {
    buildDeployment(app, deployment);
    Aspects.of(app).add(new PlatformPolicy());
  });
} catch (err) {
  if (err instanceof DeploymentConfigError || err instanceof SynthError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
