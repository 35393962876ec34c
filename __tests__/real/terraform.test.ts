/**
 * Real tier: every stack synthesized by main.ts passes `terraform init` (from the toolchain's
 * filesystem mirror only) and `terraform validate` with the real providers, none left out.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "real-synth-"));

function run(cmd: string, args: string[], cwd: string): { status: number | null; stdout: string; out: string } {
  const res = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, CDKTF_OUTDIR: outdir, TF_IN_AUTOMATION: "1" } });
  return { status: res.status, stdout: res.stdout, out: `${res.stdout}\n${res.stderr}` };
}

function requiredProviders(stackDir: string): string[] {
  const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as { terraform: { required_providers: Record<string, { source: string; version: string }> } };
  return Object.values(json.terraform.required_providers).map((p) => {
    const source = p.source.includes("/") ? p.source : `hashicorp/${p.source}`;
    return `registry.terraform.io/${source}@${p.version}`;
  });
}

beforeAll(() => {
  const res = run(process.execPath, ["--import", "tsx", "main.ts"], ROOT);
  if (res.status !== 0) throw new Error(`synth failed:\n${res.out}`);
});

afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

describe("terraform validate with the real providers", () => {
  test("terraform and the mirror's CLI config are the toolchain's", () => {
    expect(process.env.TF_CLI_CONFIG_FILE).toMatch(/\.toolchain\/terraformrc$/);
    const v = run("terraform", ["version", "-json"], ROOT);
    expect(v.status).toBe(0);
  });

  test("every stack validates with the real providers, none left out", () => {
    const stacks = fs.readdirSync(path.join(outdir, "stacks")).sort();
    expect(stacks).toEqual(["backup-infra", "backup-platform", "primary-infra", "primary-platform"]);
    const validated: string[] = [];
    for (const stack of stacks) {
      const dir = path.join(outdir, "stacks", stack);
      const init = run("terraform", ["init", "-input=false", "-no-color", "-backend=false"], dir);
      expect({ stack, step: "init", status: init.status, out: init.status === 0 ? "" : init.out }).toEqual({ stack, step: "init", status: 0, out: "" });
      const validate = run("terraform", ["validate", "-no-color", "-json"], dir);
      const result = JSON.parse(validate.stdout) as { valid: boolean; diagnostics: unknown[] };
      expect({ stack, valid: result.valid, diagnostics: result.diagnostics }).toEqual({ stack, valid: true, diagnostics: [] });
      // The providers installed are exactly the pinned ones the stack requires.
      const lock = fs.readFileSync(path.join(dir, ".terraform.lock.hcl"), "utf8");
      const locked = [...lock.matchAll(/provider "([^"]+)" \{\s*version\s*=\s*"([^"]+)"/g)].map((m) => `${m[1]}@${m[2]}`).sort();
      expect({ stack, locked }).toEqual({ stack, locked: requiredProviders(dir).sort() });
      validated.push(stack);
    }
    expect(validated).toEqual(stacks);
  });

  test("a platform stack with a wrong argument of a nomad and a consul resource fails validation", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "broken-platform-"));
    const good = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "primary-platform", "cdk.tf.json"), "utf8"));
    for (const type of ["nomad_job", "consul_acl_policy"]) {
      const first = Object.keys(good.resource[type])[0];
      good.resource[type][first][`no_such_${type}_argument`] = true;
    }
    fs.writeFileSync(path.join(dir, "cdk.tf.json"), JSON.stringify(good));
    expect(run("terraform", ["init", "-input=false", "-no-color", "-backend=false"], dir).status).toBe(0);
    const validate = run("terraform", ["validate", "-no-color", "-json"], dir);
    expect(validate.status).not.toBe(0);
    expect(validate.out).toContain("no_such_nomad_job_argument");
    expect(validate.out).toContain("no_such_consul_acl_policy_argument");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a broken stack fails validation (the check can fail)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "broken-"));
    const good = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "primary-infra", "cdk.tf.json"), "utf8"));
    const ports = good.resource.openstack_networking_port_v2;
    const first = Object.keys(ports)[0];
    ports[first].no_such_argument = true;
    fs.writeFileSync(path.join(dir, "cdk.tf.json"), JSON.stringify(good));
    expect(run("terraform", ["init", "-input=false", "-no-color", "-backend=false"], dir).status).toBe(0);
    const validate = run("terraform", ["validate", "-no-color", "-json"], dir);
    expect(validate.status).not.toBe(0);
    expect(validate.out).toContain("no_such_argument");
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
