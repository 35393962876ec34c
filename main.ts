/**
 * Synthesizes every site of the deployment: `<site>-infra` and `<site>-platform` per site.
 * The deployment file is the one cdktf.json's context names (deploymentConfig), DEPLOYMENT_CONFIG
 * overriding it, else config/deployment.yaml (config/deployment.ts, defaultConfigPath). Beside the
 * stacks, cdktf.out/deployment-source.json names that file and its sha256 (config/source.ts).
 */
import { Aspects } from "cdktf";
import { defaultConfigPath, parseDeployment, readDeploymentFile } from "./config/deployment";
import { deploymentSource, SOURCE_MARKER, sourceMarkerText } from "./config/source";
import { PlatformPolicy } from "./constructs/policy/platform-policy";
import { buildDeployment } from "./stacks/deployment";
import { appProblems } from "./stacks/site-workloads";
import { skipTokenStackTraces } from "./stacks/fast-traces";
import { failureLines, synthesizeAtomically } from "./stacks/synth";

skipTokenStackTraces();

try {
  const file = defaultConfigPath();
  const text = readDeploymentFile(file);
  const deployment = parseDeployment(text, file, [appProblems]);
  // Which file the output came from: deploy and diff (scripts/deploy.ts) check it.
  const marker = { [SOURCE_MARKER]: sourceMarkerText(deploymentSource(file, process.cwd(), text)) };
  synthesizeAtomically(
    (app) => {
      buildDeployment(app, deployment);
      Aspects.of(app).add(new PlatformPolicy());
    },
    undefined,
    marker,
  );
} catch (err) {
  process.stderr.write(`${failureLines(err, process.env.SYNTH_DEBUG === "1").join("\n")}\n`);
  process.exit(1);
}
