/**
 * Real tier: every stack synthesized by main.ts passes `terraform init` (from the toolchain's
 * filesystem mirror only) and `terraform validate` with the real providers, none left out.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as http from "node:http";

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

  test("the example lab.yaml's two stacks validate too", () => {
    const labOut = fs.mkdtempSync(path.join(os.tmpdir(), "real-lab-"));
    const synth = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CDKTF_OUTDIR: labOut, DEPLOYMENT_CONFIG: path.join(ROOT, "config", "examples", "lab.yaml") } });
    expect({ status: synth.status, err: synth.stderr }).toEqual({ status: 0, err: "" });
    for (const stack of ["lab-infra", "lab-platform"]) {
      const dir = path.join(labOut, "stacks", stack);
      expect({ stack, init: run("terraform", ["init", "-input=false", "-no-color", "-backend=false"], dir).status }).toEqual({ stack, init: 0 });
      const result = JSON.parse(run("terraform", ["validate", "-no-color", "-json"], dir).stdout) as { valid: boolean; diagnostics: unknown[] };
      expect({ stack, valid: result.valid, diagnostics: result.diagnostics }).toEqual({ stack, valid: true, diagnostics: [] });
    }
    fs.rmSync(labOut, { recursive: true, force: true });
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

/** A command run without blocking the event loop (the state server below runs in this process). */
function runAsync(cmd: string, args: readonly string[], cwd: string, input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, TF_IN_AUTOMATION: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

describe("the http state backend, against a state server on loopback", () => {
  test("terraform init of a stack synthesized with backend http reaches the server at <address><stack>, and its state lands there", async () => {
    // A state server as Terraform's http backend speaks it: GET the state (404: none yet), POST to store, LOCK/UNLOCK.
    const seen: string[] = [];
    const states = new Map<string, string>();
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "GET") {
          const state = states.get((req.url ?? "").split("?")[0]);
          res.writeHead(state ? 200 : 404).end(state ?? "");
        } else {
          // The lock's ID comes as a query parameter.
          if (req.method === "POST") states.set((req.url ?? "").split("?")[0], Buffer.concat(chunks).toString("utf8"));
          res.writeHead(200).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "http-backend-"));
    try {
      const file = path.join(dir, "deployment.yaml");
      const text = fs.readFileSync(path.join(ROOT, "config", "deployment.yaml"), "utf8");
      fs.writeFileSync(file, `backend: { type: http, address: "http://127.0.0.1:${port}/states/" }\n${text}`);
      const out = path.join(dir, "out");
      const synth = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CDKTF_OUTDIR: out, DEPLOYMENT_CONFIG: file } });
      expect({ status: synth.status, err: synth.stderr }).toEqual({ status: 0, err: "" });
      const stack = path.join(out, "stacks", "primary-platform");
      const init = await runAsync("terraform", ["init", "-input=false", "-no-color"], stack);
      expect({ status: init.status, out: init.status === 0 ? "" : `${init.stdout}${init.stderr}` }).toEqual({ status: 0, out: "" });
      expect(init.stdout).toMatch(/Successfully configured the backend "http"/);
      // Terraform pushes an empty state to the new backend: the stack's own address.
      const push = await runAsync("terraform", ["state", "push", "-force", "-"], stack, JSON.stringify({ version: 4, terraform_version: "1.6.0", serial: 1, lineage: "00000000-0000-0000-0000-000000000001", outputs: {}, resources: [] }));
      expect({ status: push.status, out: push.status === 0 ? "" : push.stderr }).toEqual({ status: 0, out: "" });
      expect([...states.keys()]).toEqual(["/states/primary-platform"]);
      expect(JSON.parse(states.get("/states/primary-platform") as string)).toMatchObject({ version: 4 });
      expect(seen.some((r) => r.startsWith("GET /states/primary-platform"))).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
