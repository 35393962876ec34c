/**
 * Upgrades, checked for real against what a site was deployed with: the default deployment
 * synthesized with other agent versions, its primary-infra stack initialized with the real
 * Terraform (the toolchain's provider mirror), and a local state holding what an applied stack
 * records (its `agent_versions` output). `npm run deploy` (scripts/deploy.ts, with a stand-in for
 * cdktf, which would need a cloud) reads it with `terraform output` and refuses a downgrade or an
 * unsupported jump before cdktf runs; `npm run diff` only warns. And `npm run roll`'s command line
 * against the same stack and a state with every output it reads: the VMs it would roll, in
 * order (`--dry-run`), and its refusal to roll without a terminal or `--auto-approve`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { AgentVersions, TESTED_AGENT_VERSIONS } from "../../config/versions";
import { editedYaml } from "../helpers";
import { makeTempDir, removeDir, requireTool, ROOT, run, runOk, writeFile } from "./real-helpers";

jest.setTimeout(300_000);

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

d("npm run deploy against the agent versions a site was deployed with (the real terraform output)", () => {
  let dir = "";
  let file = "";
  const out = () => path.join(dir, "out");
  // The stack's local backend: ../../../terraform.primary-infra.tfstate from its folder.
  const statePath = () => path.join(dir, "terraform.primary-infra.tfstate");
  const [major, minor] = TESTED_AGENT_VERSIONS.nomad.split(".").map(Number);
  const declared: AgentVersions = { consul: TESTED_AGENT_VERSIONS.consul, nomad: TESTED_AGENT_VERSIONS.nomad };

  /** A state as an applied stack leaves it, with only the agent_versions output (and pending_roll, when VMs wait for a roll). */
  const deployedWith = (v: AgentVersions, pending: Record<string, string[]> = {}) =>
    fs.writeFileSync(statePath(), JSON.stringify({
      version: 4, terraform_version: "1.9.0", serial: 1, lineage: "upgrade-test",
      outputs: {
        agent_versions: { value: v, type: ["object", { consul: "string", nomad: "string" }] },
        pending_roll: { value: pending, type: ["object", Object.fromEntries(Object.keys(pending).map((k) => [k, ["tuple", pending[k].map(() => "string")]]))] },
      },
      resources: [],
    }));

  const fake = () => path.join(dir, "fake-cdktf");
  const deploy = (command: "deploy" | "diff") =>
    run(process.execPath, ["--import", "tsx", "scripts/deploy.ts", command, "primary-infra", "--output", out()], { cwd: ROOT, env: { CDKTF_BIN: fake(), DEPLOYMENT_CONFIG: file } });

  beforeAll(() => {
    requireTool("terraform");
    dir = makeTempDir("upgrade-");
    writeFile(dir, "fake-cdktf", '#!/bin/sh\necho "cdktf $*"\nexit 0\n', 0o755);
    file = writeFile(dir, "deployment.yaml", editedYaml(() => undefined));
    runOk(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { CDKTF_OUTDIR: out(), DEPLOYMENT_CONFIG: file }, timeoutMs: 300_000 });
    runOk("terraform", [`-chdir=${path.join(out(), "stacks", "primary-infra")}`, "init", "-input=false", "-no-color"], { env: { TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" }, timeoutMs: 300_000 });
  });

  afterAll(() => removeDir(dir));

  test("GIVEN a stack deployed with the versions it declares, or with the previous minor Nomad THEN cdktf runs", () => {
    deployedWith(declared);
    expect(deploy("deploy")).toMatchObject({ status: 0, stdout: `cdktf deploy primary-infra --output ${out()}\n` });
    deployedWith({ ...declared, nomad: `${major}.${minor - 1}.0` });
    expect(deploy("deploy")).toMatchObject({ status: 0, stdout: `cdktf deploy primary-infra --output ${out()}\n` });
  });

  test("fails on a deploy that would take Nomad down a version, or up two minor versions at once, in one line each, without running cdktf; a diff warns and runs", () => {
    deployedWith({ ...declared, nomad: `${major}.${minor}.99` });
    const down = deploy("deploy");
    expect({ status: down.status, stdout: down.stdout, lines: down.stderr.trim().split("\n") }).toEqual({
      status: 1,
      stdout: "",
      lines: [`deploy: refused: site primary: agents.nomad: ${declared.nomad} is older than the ${major}.${minor}.99 the site runs: Nomad does not support a downgrade (its servers would have to be re-provisioned)`],
    });
    deployedWith({ ...declared, nomad: `${major}.${minor - 2}.3` });
    const jump = deploy("deploy");
    expect({ status: jump.status, stdout: jump.stdout, lines: jump.stderr.trim().split("\n") }).toEqual({
      status: 1,
      stdout: "",
      lines: [`deploy: refused: site primary: agents.nomad: ${major}.${minor - 2}.3 to ${declared.nomad} jumps 2 minor versions; Nomad supports at most 1 per upgrade: upgrade to the latest ${major}.${minor - 1}.x first, roll it, then go on`],
    });
    deployedWith({ ...declared, nomad: `${major}.${minor - 1}.0` }, { "fleet-primary-server-2": ["user data"] });
    const pending = deploy("deploy");
    expect({ status: pending.status, stdout: pending.stdout }).toEqual({ status: 1, stdout: "" });
    expect(pending.stderr).toMatch(/^deploy: refused: site primary: agents: nomad .* while 1 VM\(s\) still wait for a roll \(fleet-primary-server-2\): .* roll them first \(npm run roll -- primary-infra\)/);
    deployedWith({ ...declared, nomad: `${major}.${minor - 2}.3` });
    const diff = deploy("diff");
    expect({ status: diff.status, stdout: diff.stdout }).toEqual({ status: 0, stdout: `cdktf diff primary-infra --output ${out()}\n` });
    expect(diff.stderr).toMatch(/^diff: warning: site primary: agents\.nomad: .* jumps 2 minor versions/);
  });

  test("npm run roll -- primary-infra reads the deployed outputs with the real terraform: --dry-run lists the pending VMs, servers first; without a terminal it refuses to roll", () => {
    const stack = JSON.parse(fs.readFileSync(path.join(out(), "stacks", "primary-infra", "cdk.tf.json"), "utf8"));
    const literal = (name: string) => stack.output[name].value;
    const ctyType = (v: unknown): unknown =>
      typeof v === "string" ? "string" : Array.isArray(v) ? ["tuple", v.map(ctyType)] : ["object", Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, ctyType(x)]))];
    const pending = { "fleet-primary-client-2": ["user data"], "fleet-primary-server-3": ["user data", "image"], "fleet-primary-server-1": [] as string[] };
    const values: Record<string, unknown> = {
      consul_servers: literal("consul_servers"),
      nomad_servers: literal("nomad_servers"),
      ca_certificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      consul_management_token: "c0ffee00-1111-2222-3333-444455556666",
      nomad_management_token: "d00d0000-7777-8888-9999-aaaabbbbcccc",
      cluster_members: literal("cluster_members"),
      pending_roll: pending,
      agent_versions: declared,
    };
    fs.writeFileSync(statePath(), JSON.stringify({
      version: 4, terraform_version: "1.9.0", serial: 1, lineage: "upgrade-test",
      outputs: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, type: ctyType(v), ...(/token/.test(k) ? { sensitive: true } : {}) }])),
      resources: [],
    }));
    const roll = (args: string[]) => run(process.execPath, ["--import", "tsx", "scripts/roll.ts", "primary-infra", ...args], { cwd: ROOT, env: { CDKTF_OUTDIR: out() } });
    const dry = roll(["--dry-run"]);
    expect({ status: dry.status, stderr: dry.stderr, lines: dry.stdout.trim().split("\n") }).toEqual({
      status: 0,
      stderr: "",
      lines: [
        "fleet-primary-server-3: pending user data, image",
        "fleet-primary-client-2: pending user data",
        "primary-infra: rolls 2 VM(s), one at a time: fleet-primary-server-3, fleet-primary-client-2 (the servers' leader is chosen last when its turn comes)",
      ],
    });
    expect(dry.stdout).not.toMatch(/c0ffee00|d00d0000/);
    const unattended = roll([]);
    expect({ status: unattended.status, stderr: unattended.stderr.trim() }).toEqual({ status: 2, stderr: "roll: not interactive: add --auto-approve to roll without a question (after reviewing the list above with --dry-run)" });
    const group = roll(["--dry-run", "ingress"]);
    expect(group.stdout.trim().split("\n")).toEqual(["group ingress: nothing pending on its 1 VM(s) (name a VM to replace it anyway)", "primary-infra: nothing to roll: every chosen VM runs what is declared"]);
  });

  test("GIVEN a stack with no state yet (a first deploy) THEN there is nothing to compare and cdktf runs", () => {
    fs.rmSync(statePath(), { force: true });
    expect(deploy("deploy")).toMatchObject({ status: 0 });
  });
});
