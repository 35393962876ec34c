import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chosenConfig } from "../config/deployment";
import { deploymentSource, outputFolder, SOURCE_MARKER, sourceMarkerText, synthesizedFromProblem } from "../config/source";
import { DEFAULT_CONFIG_TEXT, ROOT } from "./helpers";

/** A working copy: a deployment file, and an output folder synthesized from `from` (when given). */
function workingCopy(opts: { from?: { file: string; content?: string }; context?: string; stacks?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wc-"));
  fs.mkdirSync(path.join(dir, "config"));
  fs.writeFileSync(path.join(dir, "config", "deployment.yaml"), "project: a\n");
  fs.writeFileSync(path.join(dir, "config", "lab.yaml"), "project: lab\n");
  fs.writeFileSync(path.join(dir, "cdktf.json"), JSON.stringify({ app: "x", context: opts.context ? { deploymentConfig: opts.context } : {} }));
  if (opts.stacks !== false) fs.mkdirSync(path.join(dir, "cdktf.out", "stacks", "lab-infra"), { recursive: true });
  if (opts.from) {
    const source = deploymentSource(opts.from.file, dir, opts.from.content);
    fs.writeFileSync(path.join(dir, "cdktf.out", SOURCE_MARKER), sourceMarkerText(source));
  }
  return { dir, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const choice = (dir: string, env: NodeJS.ProcessEnv = {}) => chosenConfig(dir, env);

describe("which deployment file cdktf.out came from (config/source.ts)", () => {
  test("GIVEN an output synthesized from the file the command reads, as it is now THEN deploy may go on", () => {
    const wc = workingCopy({ from: { file: "config/lab.yaml" }, context: "config/lab.yaml" });
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toBeUndefined();
    // The same file named another way (absolute, through DEPLOYMENT_CONFIG) is the same file.
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir, { DEPLOYMENT_CONFIG: path.join(wc.dir, "config", "lab.yaml") }), wc.dir)).toBeUndefined();
    wc.done();
  });

  test("GIVEN nothing synthesized yet THEN deploy may go on (cdktf synthesizes first)", () => {
    const wc = workingCopy({ stacks: false });
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toBeUndefined();
    wc.done();
  });

  test("the marker names the file as the working copy does, and the sha256 of its content", () => {
    const wc = workingCopy();
    expect(deploymentSource(path.join(wc.dir, "config", "lab.yaml"), wc.dir)).toEqual({ file: "config/lab.yaml", sha256: createHash("sha256").update("project: lab\n").digest("hex") });
    expect(deploymentSource("/elsewhere/site.yaml", wc.dir, "x").file).toBe("/elsewhere/site.yaml");
    wc.done();
  });

  test("fails on an output synthesized from another deployment file, naming both and what chose the current one", () => {
    const wc = workingCopy({ from: { file: "config/lab.yaml" } });
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toBe(
      "cdktf.out was synthesized from config/lab.yaml, but this command reads config/deployment.yaml (the default): choose one (cdktf.json context deploymentConfig, or DEPLOYMENT_CONFIG for one command), then run `npm run synth` and review its output again",
    );
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir, { DEPLOYMENT_CONFIG: "config/deployment.yaml" }), wc.dir)).toMatch(/reads config\/deployment\.yaml \(DEPLOYMENT_CONFIG\)/);
    wc.done();
  });

  test("fails on an output synthesized from an older content of the same file", () => {
    const wc = workingCopy({ from: { file: "config/lab.yaml", content: "project: before\n" }, context: "config/lab.yaml" });
    const before = createHash("sha256").update("project: before\n").digest("hex").slice(0, 12);
    const now = createHash("sha256").update("project: lab\n").digest("hex").slice(0, 12);
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toBe(
      `cdktf.out was synthesized from config/lab.yaml when its sha256 was ${before}..., and config/lab.yaml has changed since (sha256 ${now}...): run \`npm run synth\` and review its output again`,
    );
    wc.done();
  });

  test("fails on stacks with no marker (synthesized before synth wrote one)", () => {
    const wc = workingCopy();
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toBe(
      "cdktf.out: holds synthesized stacks but no deployment-source.json naming the deployment file they came from, so they may not be from config/deployment.yaml (the default): run `npm run synth` and review its output again",
    );
    fs.writeFileSync(path.join(wc.dir, "cdktf.out", SOURCE_MARKER), "{ not json");
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toMatch(/^cdktf\.out: holds synthesized stacks but no deployment-source\.json/);
    wc.done();
  });

  test("fails when the current deployment file cannot be read, naming it", () => {
    const wc = workingCopy({ from: { file: "config/lab.yaml" }, context: "config/missing.yaml" });
    expect(synthesizedFromProblem("cdktf.out", choice(wc.dir), wc.dir)).toMatch(/^config\/missing\.yaml \(cdktf\.json context deploymentConfig\): cannot read the deployment file \(ENOENT/);
    wc.done();
  });

  test("the output folder is cdktf's: --output / -o, else cdktf.json's output, else cdktf.out", () => {
    const wc = workingCopy();
    expect(outputFolder(["lab-infra"], wc.dir)).toBe("cdktf.out");
    expect(outputFolder(["lab-infra", "--output", "out1"], wc.dir)).toBe("out1");
    expect(outputFolder(["-o", "out2", "lab-infra"], wc.dir)).toBe("out2");
    expect(outputFolder(["--output=out3"], wc.dir)).toBe("out3");
    fs.writeFileSync(path.join(wc.dir, "cdktf.json"), JSON.stringify({ app: "x", output: "build" }));
    expect(outputFolder([], wc.dir)).toBe("build");
    wc.done();
  });
});

describe("npm run deploy / npm run diff (scripts/deploy.ts)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = path.join(dir, "site.yaml");
  const other = path.join(dir, "other.yaml");
  const out = path.join(dir, "out");
  // A stand-in for cdktf: says how it was called, and exits 3.
  const fake = path.join(dir, "fake-cdktf");
  fs.writeFileSync(fake, '#!/bin/sh\necho "cdktf $*"\nexit 3\n', { mode: 0o755 });
  const wrapper = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, ["--import", "tsx", "scripts/deploy.ts", ...args], { cwd: ROOT, env: { ...process.env, CDKTF_BIN: fake, ...env }, encoding: "utf8" });

  beforeAll(() => {
    fs.writeFileSync(site, DEFAULT_CONFIG_TEXT);
    fs.writeFileSync(other, DEFAULT_CONFIG_TEXT);
    const synth = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: out, DEPLOYMENT_CONFIG: site }, encoding: "utf8" });
    expect({ status: synth.status, err: synth.stderr }).toEqual({ status: 0, err: "" });
  });

  test("GIVEN a synth THEN cdktf.out names the deployment file and its sha256", () => {
    expect(JSON.parse(fs.readFileSync(path.join(out, SOURCE_MARKER), "utf8"))).toEqual({ file: site, sha256: createHash("sha256").update(DEFAULT_CONFIG_TEXT).digest("hex") });
  });

  test("GIVEN the output of the file the command reads THEN cdktf runs with every argument, and its exit status is the command's", () => {
    const res = wrapper(["deploy", "primary-infra", "--output", out, "--auto-approve"], { DEPLOYMENT_CONFIG: site });
    // A stack never initialized here: a first deploy, whose agent versions have nothing to be compared with (said, not refused).
    expect({ status: res.status, stdout: res.stdout, stderr: res.stderr }).toEqual({
      status: 3,
      stdout: `cdktf deploy primary-infra --output ${out} --auto-approve\n`,
      stderr: `deploy: note: primary-infra: the agents' versions not checked against the deployed ones: ${path.join(out, "stacks", "primary-infra")} is not initialized (a first deploy, or run terraform init there to check against a shared backend)\n`,
    });
    expect(wrapper(["diff", "-o", out], { DEPLOYMENT_CONFIG: site }).stdout).toBe(`cdktf diff -o ${out}\n`);
  });

  test("fails on a deploy of an output synthesized from another deployment file, in one line naming both, without running cdktf", () => {
    const res = wrapper(["deploy", "primary-infra", "--output", out], { DEPLOYMENT_CONFIG: other });
    expect({ status: res.status, stdout: res.stdout, lines: res.stderr.trim().split("\n") }).toEqual({
      status: 1,
      stdout: "",
      lines: [`deploy: refused: ${out} was synthesized from ${site}, but this command reads ${other} (DEPLOYMENT_CONFIG): choose one (cdktf.json context deploymentConfig, or DEPLOYMENT_CONFIG for one command), then run \`npm run synth\` and review its output again`],
    });
  });

  test("fails on a diff after the deployment file changed, in one line", () => {
    fs.appendFileSync(site, "# edited\n");
    const res = wrapper(["diff", "--output", out], { DEPLOYMENT_CONFIG: site });
    expect({ status: res.status, stdout: res.stdout, lines: res.stderr.trim().split("\n") }).toEqual({ status: 1, stdout: "", lines: [expect.stringMatching(/^diff: refused: .* was synthesized from .*site\.yaml when its sha256 was [0-9a-f]{12}\.\.\., and .*site\.yaml has changed since/)] });
    fs.writeFileSync(site, DEFAULT_CONFIG_TEXT);
  });

  test("fails on a command other than deploy or diff, in one line", () => {
    const res = wrapper(["destroy"], {});
    expect({ status: res.status, lines: res.stderr.trim().split("\n") }).toEqual({ status: 2, lines: ['deploy.ts: got "destroy", expected a command: deploy or diff (npm run deploy -- <stack...>, npm run diff -- <stack...>)'] });
  });

  test("fails when cdktf cannot be run, in one line", () => {
    const res = wrapper(["deploy", "--output", out], { DEPLOYMENT_CONFIG: site, CDKTF_BIN: path.join(dir, "no-such-cdktf") });
    // The notes of the stacks never deployed from here (not checked against deployed versions) come first.
    const lines = res.stderr.trim().split("\n").filter((l) => !l.startsWith("deploy: note: "));
    expect({ status: res.status, lines }).toEqual({ status: 1, lines: [expect.stringMatching(/^deploy: could not run .*no-such-cdktf: spawnSync .* ENOENT \(npm ci installs it\)$/)] });
  });
});
