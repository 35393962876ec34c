import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App, Aspects, TerraformStack, Testing } from "cdktf";
import { PlatformPolicy } from "../constructs/policy/platform-policy";
import { Platform } from "../constructs/workloads/platform";
import { ServiceProtocol } from "../constructs/consul/mesh";
import { buildDeployment } from "../stacks/deployment";
import { siteWorkloads } from "../stacks/site-workloads";
import { InfraStack } from "../stacks/infra-stack";
import { PlatformStack } from "../stacks/platform-stack";
import { collectErrors, failureLines, summaryLines } from "../stacks/synth";
import { ProblemsError } from "../constructs/problems";
import { DeploymentConfigError } from "../config/deployment";
import { parseDeployment } from "../config/deployment";
import { defaultDeployment, editedYaml, ROOT } from "./helpers";

/** The lines a deployment file with `backend` is refused with (it must be refused). */
function backendRefusal(backend: Record<string, unknown>): string[] {
  try {
    parseDeployment(editedYaml((d) => (d.backend = backend)), "d.yaml");
  } catch (e) {
    return (e as Error).message.split("\n");
  }
  throw new Error("expected a refusal");
}

function synthMain(env: Record<string, string>): { status: number | null; stderr: string; outdir: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "synth-"));
  fs.rmSync(outdir, { recursive: true });
  const res = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: outdir, ...env }, encoding: "utf8" });
  return { status: res.status, stderr: res.stderr, outdir };
}

function readStacks(outdir: string): Record<string, string> {
  const stacks = path.join(outdir, "stacks");
  return Object.fromEntries(fs.readdirSync(stacks).map((s) => [s, fs.readFileSync(path.join(stacks, s, "cdk.tf.json"), "utf8")]));
}

describe("the default deployment", () => {
  const app = Testing.app();
  const stacks = buildDeployment(app, defaultDeployment());
  Aspects.of(app).add(new PlatformPolicy());

  test("GIVEN the default file WHEN built THEN the four contract stack names exist", () => {
    expect(app.node.children.map((c) => c.node.id).sort()).toEqual(["backup-infra", "backup-platform", "primary-infra", "primary-platform"]);
  });

  for (const name of ["primary", "backup"]) {
    test(`${name}-infra matches its snapshot`, () => {
      expect(Testing.synth(stacks.get(name)!.infra)).toMatchSnapshot();
    });
    test(`${name}-platform matches its snapshot`, () => {
      expect(Testing.synth(stacks.get(name)!.platform)).toMatchSnapshot();
    });
  }
});

describe("main.ts", () => {
  test("GIVEN the default file WHEN synthesized twice THEN the output is byte-identical", () => {
    const a = synthMain({});
    const b = synthMain({});
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    const sa = readStacks(a.outdir);
    expect(Object.keys(sa).sort()).toEqual(["backup-infra", "backup-platform", "primary-infra", "primary-platform"]);
    expect(readStacks(b.outdir)).toEqual(sa);
    fs.rmSync(a.outdir, { recursive: true, force: true });
    fs.rmSync(b.outdir, { recursive: true, force: true });
  });

  test("GIVEN a synth THEN the summary says where each stack is and what it holds: resources by kind, VMs, jobs", () => {
    const res = synthMain({});
    expect(res.status).toBe(0);
    const lines = summaryLines(res.outdir);
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.startsWith("primary-infra: "))).toMatch(/^primary-infra: .*stacks\/primary-infra\/cdk\.tf\.json: \d+ resources, 12 VMs, 0 jobs \(45 openstack_networking_secgroup_rule_v2, .*12 openstack_compute_instance_v2/);
    expect(lines.find((l) => l.startsWith("primary-platform: "))).toMatch(/: \d+ resources, 0 VMs, 30 jobs \(.*30 nomad_job/);
    fs.rmSync(res.outdir, { recursive: true, force: true });
  });

  test("fails on bad input with one line per problem, writing nothing", () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bad-")), "deployment.yaml");
    fs.writeFileSync(
      bad,
      editedYaml((d) => {
        d.sites[0].vms.server.count = 2;
        d.sites[1].addressPlan.site = "10.10.0.0/16";
      }),
    );
    const res = synthMain({ DEPLOYMENT_CONFIG: bad });
    expect(res.status).toBe(1);
    const lines = res.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/sites\[0\]\.vms\.server\.count: got 2, expected an odd number of servers/),
      expect.stringMatching(/sites\[1\]\.addressPlan\.site: got "10.10.0.0\/16", expected a range that does not overlap/),
    ]);
    expect(fs.existsSync(res.outdir)).toBe(false);
  });

  describe("mistakes in the platform section: one line each, naming the field, no stack trace, nothing written", () => {
    const hello = { name: "hello", image: "nginxdemos/hello", version: "0.4", cpuMhz: 100, memoryMb: 64, port: 80, healthPath: "/" };
    const cases: ReadonlyArray<readonly [string, (d: any) => void, RegExp]> = [
      ["an app that depends on a service that does not exist", (d) => (d.sites[0].platform.apps = [{ ...hello, dependsOn: [{ service: "nope", localPort: 9100 }] }]), /: sites\[0\]\.platform\.apps\[0\]\.dependsOn\[0\]\.service: got "nope", expected another workload of site primary: one of .*fleet-api/],
      ["an app named like a catalog workload", (d) => (d.sites[0].platform.apps = [{ ...hello, name: "prometheus" }]), /: sites\[0\]\.platform\.apps\[0\]\.name: got "prometheus", expected a name no workload of site primary has/],
      ["two apps with one public host", (d) => (d.sites[1].platform.apps = [{ ...hello, public: "web" }, { ...hello, name: "hello2", public: "web" }]), /: sites\[1\]\.platform\.apps\[1\]\.public: got "web", expected a host name no other workload serves \(web\.backup\.fleet\.example\.org is hello's\)/],
      ["an app with scaling.min above max", (d) => (d.sites[0].platform.apps = [{ ...hello, scaling: { min: 5, max: 2 } }]), /: sites\[0\]\.platform\.apps\[0\]\.scaling\.min: got 5, expected at most scaling\.max \(2\)/],
      ["an app whose count is outside its scaling range", (d) => (d.sites[0].platform.apps = [{ ...hello, count: 1, scaling: { min: 2, max: 4 } }]), /: sites\[0\]\.platform\.apps\[0\]\.count: got 1, expected a starting count inside scaling \[2, 4\]/],
    ];
    for (const [what, edit, message] of cases) {
      test(`fails on ${what}`, () => {
        const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bad-")), "deployment.yaml");
        fs.writeFileSync(bad, editedYaml(edit));
        const res = synthMain({ DEPLOYMENT_CONFIG: bad });
        expect({ status: res.status, lines: res.stderr.trim().split("\n") }).toEqual({ status: 1, lines: [expect.stringMatching(message)] });
        expect(fs.existsSync(res.outdir)).toBe(false);
      });
    }

    test("fails on two apps with one name, naming the second", () => {
      const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bad-")), "deployment.yaml");
      fs.writeFileSync(bad, editedYaml((d) => (d.sites[0].platform.apps = [hello, { ...hello, public: undefined }])));
      const res = synthMain({ DEPLOYMENT_CONFIG: bad });
      expect({ status: res.status, lines: res.stderr.trim().split("\n") }).toEqual({ status: 1, lines: [expect.stringMatching(/: sites\[0\]\.platform\.apps\[1\]\.name: got "hello", expected a name used by one app only$/)] });
      expect(fs.existsSync(res.outdir)).toBe(false);
    });

    test("fails on all of them at once, one line each", () => {
      const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bad-")), "deployment.yaml");
      fs.writeFileSync(bad, editedYaml((d) => cases.forEach(([, edit]) => {
        const before = d.sites.map((s: any) => s.platform.apps ?? []);
        edit(d);
        d.sites.forEach((s: any, i: number) => (s.platform.apps = [...before[i], ...(s.platform.apps ?? []).filter((a: any) => !before[i].includes(a))].map((a: any, j: number) => ({ ...a, name: a.name === "prometheus" ? a.name : `${a.name}-${i}-${j}` }))));
      })));
      const res = synthMain({ DEPLOYMENT_CONFIG: bad });
      expect(res.status).toBe(1);
      expect(res.stderr).not.toMatch(/^\s+at /m);
      expect(res.stderr.trim().split("\n").length).toBeGreaterThanOrEqual(5);
      expect(fs.existsSync(res.outdir)).toBe(false);
    });

    test("fails on a deployment path that is a folder, in one line", () => {
      const res = synthMain({ DEPLOYMENT_CONFIG: ROOT }); // a folder: reading it fails with EISDIR
      expect(res.status).toBe(1);
      expect(res.stderr.trim().split("\n")).toEqual([expect.stringMatching(/: \(top level\): got ".*", expected a readable deployment file \(EISDIR/)]);
    });
  });

  test("no error escapes main.ts as a stack trace: every kind prints as lines without one", () => {
    const errors: unknown[] = [
      new DeploymentConfigError("d.yaml", [{ path: "sites[0].name", value: "X", expected: "a site name" }]),
      new ProblemsError(["primary-platform: a problem", "backup-platform: another"]),
      new ProblemsError(["job \"x\": count: received -1; expected an integer >= 0"]),
      new TypeError("Cannot read properties of undefined (reading 'x')\n    at somewhere (file.ts:1:1)"),
      "a thrown string",
    ];
    for (const err of errors) {
      const lines = failureLines(err);
      expect({ err: String(err).slice(0, 40), trace: lines.some((l) => /^\s+at |\n/.test(l)), empty: lines.length === 0 }).toEqual({ err: String(err).slice(0, 40), trace: false, empty: false });
    }
    expect(failureLines(new TypeError("boom"))).toEqual([expect.stringMatching(/^synth: internal error: boom \(a defect of the library/)]);
    expect(failureLines(new TypeError("boom"), true)[1]).toMatch(/^TypeError: boom\n\s+at /);
  });

  test("fails when the deployment file is missing, writing nothing", () => {
    const res = synthMain({ DEPLOYMENT_CONFIG: "/nonexistent/deployment.yaml" });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/\/nonexistent\/deployment.yaml: \(top level\): got "\/nonexistent\/deployment.yaml", expected a readable deployment file/);
    expect(fs.existsSync(res.outdir)).toBe(false);
  });
});

describe("cdktf synth, as a user runs it", () => {
  test("switching deployment files works every time, in both directions, and leaves only the new file's stacks", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switch-"));
    const lab = path.join(dir, "lab.yaml");
    fs.writeFileSync(
      lab,
      editedYaml((d) => {
        const site = { ...d.sites[0], name: "lab" };
        delete site.peerSite;
        delete site.platform.backups;
        d.sites = [site];
      }),
    );
    const out = path.join(dir, "out");
    const synth = (env: Record<string, string>) => {
      const r = spawnSync("npx", ["cdktf", "synth", "--output", out], { cwd: ROOT, env: { ...process.env, CHECKPOINT_DISABLE: "1", ...env }, encoding: "utf8", timeout: 240_000 });
      return { status: r.status, out: `${r.stdout}${r.stderr}`.slice(-2000), stacks: fs.existsSync(path.join(out, "stacks")) ? fs.readdirSync(path.join(out, "stacks")).sort() : [] };
    };
    expect(synth({})).toMatchObject({ status: 0, stacks: ["backup-infra", "backup-platform", "primary-infra", "primary-platform"] });
    expect(synth({ DEPLOYMENT_CONFIG: lab })).toMatchObject({ status: 0, stacks: ["lab-infra", "lab-platform"] });
    expect(synth({})).toMatchObject({ status: 0, stacks: ["backup-infra", "backup-platform", "primary-infra", "primary-platform"] });
    fs.rmSync(dir, { recursive: true, force: true });
  }, 600_000);
});

describe("config/examples/lab.yaml, the smallest useful site", () => {
  test("GIVEN the example THEN it synthesizes one site: 3 servers, 2 clients, bastion, VPN gateway, ingress, and the shared services", () => {
    const res = synthMain({ DEPLOYMENT_CONFIG: path.join(ROOT, "config", "examples", "lab.yaml") });
    expect({ status: res.status, err: res.stderr }).toEqual({ status: 0, err: "" });
    const lines = summaryLines(res.outdir);
    expect(lines.map((l) => l.split(":")[0])).toEqual(["lab-infra", "lab-platform"]);
    expect(lines[0]).toMatch(/: \d+ resources, 8 VMs, 0 jobs/);
    expect(lines[1]).toMatch(/: \d+ resources, 0 VMs, 7 jobs/);
    fs.rmSync(res.outdir, { recursive: true, force: true });
  });
});

describe("the state backend, from the deployment file", () => {
  const synthWith = (backend: Record<string, unknown>) => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "backend-"));
    const app = new App({ outdir });
    buildDeployment(app, parseDeployment(editedYaml((d) => (d.backend = backend))));
    app.synth();
    const read = (stack: string) => JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8"));
    return { read, done: () => fs.rmSync(outdir, { recursive: true, force: true }) };
  };

  test("GIVEN an S3-compatible bucket THEN every stack keeps its state at <keyPrefix><stack>.tfstate, and the platform stack reads the infra outputs from there, with no credential written", () => {
    const { read, done } = synthWith({ type: "s3", bucket: "fleet-tfstate", keyPrefix: "fleet/", region: "RegionOne", endpoint: "https://object.example.org" });
    const platform = read("backup-platform");
    expect(platform.terraform.backend.s3).toMatchObject({ bucket: "fleet-tfstate", key: "fleet/backup-platform.tfstate", region: "RegionOne", encrypt: true, endpoints: { s3: "https://object.example.org" }, use_path_style: true });
    expect(platform.data.terraform_remote_state["cross-stack-reference-input-primary-infra"]).toMatchObject({ backend: "s3", config: { bucket: "fleet-tfstate", key: "fleet/primary-infra.tfstate" } });
    expect(JSON.stringify(platform.terraform.backend)).not.toMatch(/access_key|secret_key|token|password/);
    done();
  });

  test("GIVEN an http state server THEN each stack's state is at <address><stack>, locked there too", () => {
    const { read, done } = synthWith({ type: "http", address: "https://state.example.org/fleet/" });
    expect(read("primary-infra").terraform.backend.http).toEqual({ address: "https://state.example.org/fleet/primary-infra", lock_address: "https://state.example.org/fleet/primary-infra", unlock_address: "https://state.example.org/fleet/primary-infra" });
    expect(read("primary-platform").data.terraform_remote_state["cross-stack-reference-input-primary-infra"]).toMatchObject({ backend: "http", config: { address: "https://state.example.org/fleet/primary-infra" } });
    done();
  });

  test("GIVEN a PostgreSQL database THEN each stack keeps its state in its own schema, the platform stack reads the infra outputs from it, and the connection string is left to PG_CONN_STR", () => {
    const { read, done } = synthWith({ type: "pg", schemaPrefix: "fleet_" });
    expect(read("primary-infra").terraform.backend).toEqual({ pg: { schema_name: "fleet_primary_infra" } });
    const platform = read("backup-platform");
    expect(platform.terraform.backend).toEqual({ pg: { schema_name: "fleet_backup_platform" } });
    expect(platform.data.terraform_remote_state["cross-stack-reference-input-primary-infra"]).toEqual({ backend: "pg", config: { schema_name: "fleet_primary_infra" }, workspace: "${terraform.workspace}" });
    for (const stack of ["primary-infra", "primary-platform", "backup-infra", "backup-platform"]) expect(JSON.stringify(read(stack))).not.toMatch(/conn_str|connStr/);
    done();
  });

  test("GIVEN pg with no schemaPrefix THEN the schema is the stack's name, - written _", () => {
    const { read, done } = synthWith({ type: "pg" });
    expect(read("primary-platform").terraform.backend).toEqual({ pg: { schema_name: "primary_platform" } });
    done();
  });

  test("fails on a pg schema prefix PostgreSQL would not take as is, or too long for a stack's name to fit in 63 bytes", () => {
    const lines = backendRefusal;
    expect(lines({ type: "pg", schemaPrefix: "Fleet-" })).toEqual(['d.yaml: backend.schemaPrefix: got "Fleet-", expected a PostgreSQL schema name prefix: lower-case letters, digits and _, not starting with a digit, e.g. fleet_']);
    expect(lines({ type: "pg", schemaPrefix: "a_very_long_prefix_for_pg_" })).toEqual(['d.yaml: backend.schemaPrefix: got "a_very_long_prefix_for_pg_", expected at most 23 characters (PostgreSQL names are at most 63 bytes, and a stack name takes up to 40), e.g. fleet_']);
  });

  test("fails on a credential in the file (a pg connection string), without echoing it", () => {
    let message = "";
    try {
      parseDeployment(editedYaml((d) => (d.backend = { type: "pg", connStr: "postgres://ops:s3cret@db.example.org/tfstate" })), "d.yaml");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      'd.yaml: backend.connStr: got "(not shown)", expected no credential in the deployment file: Terraform\'s backends read them from the environment (the pg backend reads PG_CONN_STR, s3 AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, http TF_HTTP_USERNAME / TF_HTTP_PASSWORD)',
    );
    expect(message).not.toMatch(/s3cret/);
  });

  test("fails on a backend it does not know, a bad bucket name or an address without its trailing /", () => {
    const lines = backendRefusal;
    expect(lines({ type: "consul" })).toEqual(['d.yaml: backend.type: got "consul", expected a backend type: local, s3, http or pg, e.g. { type: s3, bucket: fleet-tfstate, region: RegionOne }']);
    expect(lines({ type: "s3", bucket: "Bad_Bucket", region: "r" })).toEqual([expect.stringMatching(/^d\.yaml: backend\.bucket: got "Bad_Bucket", expected an S3 bucket name/)]);
    expect(lines({ type: "s3", bucket: "fleet-tfstate", region: "r", keyPrefix: "fleet" })).toEqual([expect.stringMatching(/^d\.yaml: backend\.keyPrefix: got "fleet", expected a key prefix ending with \/, e\.g\. fleet\/$/)]);
    expect(lines({ type: "http", address: "https://state.example.org/fleet" })).toEqual([expect.stringMatching(/^d\.yaml: backend\.address: got "https:\/\/state\.example\.org\/fleet", expected an http\(s\) URL ending with \//)]);
  });
});

describe("secrets", () => {
  test("GIVEN the synthesized JSON THEN no private key, token or gossip key appears in plain text", () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "secrets-")) });
    const stacks = buildDeployment(app, defaultDeployment());
    for (const { infra, platform } of stacks.values()) {
      for (const json of [Testing.synth(infra), Testing.synth(platform)]) {
        expect(json).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
        expect(json).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
        // the WireGuard private key is a sensitive variable
        expect(json).not.toMatch(/PrivateKey = [A-Za-z0-9+/]{43}=/);
      }
      const parsed = JSON.parse(Testing.synth(infra));
      const variables = Object.values(parsed.variable ?? {}) as { sensitive?: boolean }[];
      expect(variables.length).toBeGreaterThan(0);
      for (const v of variables) expect(v.sensitive).toBe(true);
      for (const [name, out] of Object.entries(parsed.output as Record<string, { value: string; sensitive?: boolean }>)) {
        if (/token|cross-stack-output-random_uuid/.test(name)) expect(out.sensitive).toBe(true);
      }
    }
  });
});

describe("the platform layer", () => {
  test("GIVEN apps that do not fit WHEN synthesized THEN synth fails with the capacity numbers, writing nothing", () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cap-")), "deployment.yaml");
    fs.writeFileSync(bad, editedYaml((d) => (d.sites[0].platform.apps = [{ name: "huge", image: "nginx", version: "1", cpuMhz: 90000, memoryMb: 64, port: 80 }])));
    const res = synthMain({ DEPLOYMENT_CONFIG: bad });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/primary-platform: capacity: site primary node class "production": the jobs ask CPU \d+ MHz > \d+ MHz the clients hold \(4 × \(8 vCPU × 2000 MHz, 16384 MB\), 10% reserved\); largest: huge 180500 MHz/);
    expect(fs.existsSync(res.outdir)).toBe(false);
  });

  test("GIVEN a declared app THEN it gets a job, an intention from its caller, an ingress route and an ACL role", () => {
    const app = Testing.app();
    const deployment = parseDeployment(
      editedYaml((d) => (d.sites[0].platform.apps = [{ name: "hello", image: "nginxdemos/hello", version: "0.4", cpuMhz: 100, memoryMb: 64, port: 80, healthPath: "/", public: "hello", dependsOn: [{ service: "fleet-api", localPort: 9100 }] }])),
    );
    const json = JSON.parse(Testing.synth(buildDeployment(app, deployment).get("primary")!.platform));
    expect(Object.values(json.resource.nomad_job).map((j: any) => JSON.parse(j.jobspec).Job.ID)).toContain("hello");
    const intentions = Object.values(json.resource.consul_config_entry_service_intentions) as any[];
    expect(intentions.find((i) => i.name === "fleet-api").sources.map((s: any) => s.name)).toContain("hello");
    const ingress = Object.values(json.resource.nomad_job).map((j: any) => JSON.parse(j.jobspec).Job).find((j: any) => j.ID === "ingress");
    expect(JSON.stringify(ingress)).toContain("hello.fleet.example.org");
    expect(Object.values(json.resource.consul_acl_role).map((r: any) => r.name)).toContain("workload-hello");
  });

  test("GIVEN an app's dependency without localPort THEN it is reached on the port of the workload it names", () => {
    const deployment = parseDeployment(editedYaml((d) => (d.sites[0].platform.apps = [{ name: "hello", image: "nginxdemos/hello", version: "0.4", cpuMhz: 100, memoryMb: 64, port: 80, healthPath: "/", dependsOn: [{ service: "fleet-api" }, { service: "fleet-postgres" }, { service: "grafana", localPort: 9300 }] }])));
    const json = JSON.parse(Testing.synth(buildDeployment(Testing.app(), deployment).get("primary")!.platform));
    const hello = Object.values(json.resource.nomad_job).map((j: any) => JSON.parse(j.jobspec).Job).find((j: any) => j.ID === "hello");
    const upstreams = hello.TaskGroups[0].Services[0].Connect.SidecarService.Proxy.Upstreams.map((u: any) => `${u.DestinationName}:${u.LocalBindPort}`);
    expect(upstreams).toEqual(["fleet-api:8080", "fleet-postgres:5432", "grafana:9300"]);
  });

  test("fails on a dependency without localPort on a workload that has no port of its own", () => {
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bad-")), "deployment.yaml");
    fs.writeFileSync(bad, editedYaml((d) => (d.sites[0].platform.apps = [{ name: "hello", image: "nginxdemos/hello", version: "0.4", cpuMhz: 100, memoryMb: 64, port: 80, healthPath: "/", dependsOn: [{ service: "backup-consul" }] }])));
    const res = synthMain({ DEPLOYMENT_CONFIG: bad });
    expect({ status: res.status, lines: res.stderr.trim().split("\n") }).toEqual({ status: 1, lines: [expect.stringMatching(/: sites\[0\]\.platform\.apps\[0\]\.dependsOn\[0\]\.localPort: got nothing, expected a port: backup-consul has none of its own to default to$/)] });
    expect(fs.existsSync(res.outdir)).toBe(false);
  });

  test("the infra stack outputs a wg-quick configuration per admin peer, routing the site's range, with a placeholder for the private key", () => {
    const app = Testing.app();
    const json = JSON.parse(Testing.synth(buildDeployment(app, defaultDeployment()).get("primary")!.infra));
    const alice = json.output.wireguard_alice;
    expect(alice.sensitive).toBeUndefined();
    expect(alice.value).toContain("PrivateKey = REPLACE_WITH_YOUR_PRIVATE_KEY\nAddress = 10.210.0.10/32");
    expect(alice.value).toContain("AllowedIPs = 10.10.0.0/16, 10.210.0.0/24");
    expect(alice.value).toMatch(/Endpoint = \$\{openstack_networking_floatingip_v2\.[\w-]+\.address\}:51820/);
    expect(Object.keys(json.output).filter((o) => o.startsWith("wireguard_"))).toEqual(["wireguard_alice"]);
  });

  test("the VPN gateway forwards the servers' federation traffic to the other site", () => {
    const app = Testing.app();
    const json = JSON.parse(Testing.synth(buildDeployment(app, defaultDeployment()).get("primary")!.infra));
    const rules = Object.values(json.resource.openstack_networking_secgroup_rule_v2) as any[];
    const forwarded = rules.filter((r) => r.remote_ip_prefix === "10.10.1.0/24" && /forwarded/.test(r.description)).map((r) => `${r.protocol}-${r.port_range_min}`).sort();
    expect(forwarded).toEqual(["tcp-4647", "tcp-4648", "tcp-8300", "tcp-8302", "udp-4648", "udp-8302"]);
  });

  test("the ingress' public ports come from its declaration, on the ingress VMs only", () => {
    const app = Testing.app();
    const json = JSON.parse(Testing.synth(buildDeployment(app, defaultDeployment()).get("primary")!.infra));
    const rules = Object.values(json.resource.openstack_networking_secgroup_rule_v2) as any[];
    const open = rules.filter((r) => r.remote_ip_prefix === "0.0.0.0/0").map((r) => `${r.protocol}-${r.port_range_min}`).sort();
    expect(open).toEqual(["tcp-443", "tcp-80", "udp-51820", "udp-51821"]);
  });

  test("secrets go to Nomad variables from generated values and sensitive variables, never in plain text", () => {
    const app = Testing.app();
    const json = JSON.parse(Testing.synth(buildDeployment(app, defaultDeployment()).get("primary")!.platform));
    const vars = Object.values(json.resource.nomad_variable) as any[];
    expect(vars.map((v) => v.path)).toEqual(expect.arrayContaining(["nomad/jobs/fleet-postgres", "nomad/jobs/ingress", "nomad/jobs/backup-consul"]));
    for (const v of vars) for (const value of Object.values(v.items)) expect(value).toMatch(/^\$\{[^}]+\}$/);
    expect(Object.values(json.variable).every((v: any) => v.sensitive === true)).toBe(true);
  });
});

describe("values Terraform fills in", () => {
  test("no job spec holds a Terraform reference: a multi-line value pasted into its JSON would break it", () => {
    const app = Testing.app();
    for (const { platform } of buildDeployment(app, defaultDeployment()).values()) {
      const json = JSON.parse(Testing.synth(platform));
      for (const job of Object.values(json.resource.nomad_job) as { jobspec: string }[]) {
        expect(job.jobspec).not.toMatch(/(?<!\$)\$\{/);
        expect(() => JSON.parse(job.jobspec.replace(/\$\$\{/g, "${"))).not.toThrow();
      }
      const auth = Object.values(json.resource.consul_acl_auth_method)[0] as { config_json: string };
      expect(auth.config_json).toMatch(/^\$\{jsonencode\(\{/);
    }
  });
});

describe("errors the stacks report", () => {
  const extra = {
    name: "odd",
    description: "odd",
    image: "nginx",
    version: "1",
    resources: { cpuMhz: 10, memoryMb: 16 },
    count: 1,
    port: { containerPort: 80 },
  };

  test("fails on host ports on a node class no VM has", () => {
    const app = Testing.app();
    const deployment = defaultDeployment();
    const site = deployment.sites[0];
    const infra = new InfraStack(app, "x-infra", { deployment, site, workloads: [{ ...extra, nodeClass: "gpu", hostPorts: [{ label: "http", port: 8080, from: "anywhere" }] }] });
    Testing.synth(infra);
    expect(collectErrors(infra)).toContainEqual(expect.stringContaining('site primary: workloads bind host ports on node class "gpu", which no VM has; expected production or ingress'));
  });

  test("fails on a template that reads a Nomad variable without declaring its secrets", () => {
    const app = Testing.app();
    const deployment = defaultDeployment();
    const site = deployment.sites[0];
    const workloads = [{ ...extra, files: [{ destination: "secrets/x.env", content: '{{ with nomadVar "nomad/jobs/odd" }}X={{ .api_key }}{{ end }}', env: true }] }];
    const infra = new InfraStack(app, "x-infra", { deployment, site, workloads });
    const platform = new PlatformStack(app, "x-platform", { deployment, site, infra, workloads });
    Testing.synth(platform);
    expect(collectErrors(platform)).toContainEqual(
      "x-platform: workload odd: file secrets/x.env: reads Nomad variable nomad/jobs/odd but declares none of its keys; expected its keys and their sources in the file's secrets (secretEnvFile and secretFile declare them)",
    );
  });
});

describe("a federation's global objects belong to its primary site's platform stack", () => {
  const FEDERATION_WIDE = ["consul_acl_policy", "consul_acl_role", "consul_config_entry_service_defaults", "consul_config_entry_service_intentions", "nomad_acl_policy"];
  const platformJson = (deployment: ReturnType<typeof parseDeployment>, site: string) => JSON.parse(Testing.synth(buildDeployment(Testing.app(), deployment).get(site)!.platform));
  const byName = (json: any, type: string) => Object.fromEntries(Object.values(json.resource[type] ?? {}).map((r: any) => [r.name, r]));
  const hello = { name: "hello", image: "nginxdemos/hello", version: "0.4", cpuMhz: 100, memoryMb: 64, port: 80, healthPath: "/" };

  test("GIVEN the default federation THEN the backup's stack owns only what is local to its datacenter", () => {
    const backup = platformJson(defaultDeployment(), "backup");
    expect(FEDERATION_WIDE.filter((t) => Object.keys(backup.resource[t] ?? {}).length > 0)).toEqual([]);
    for (const t of ["nomad_job", "nomad_variable", "consul_acl_auth_method", "consul_acl_binding_rule", "consul_prepared_query"]) expect({ t, n: Object.keys(backup.resource[t] ?? {}).length > 0 }).toEqual({ t, n: true });
  });

  test("GIVEN the default federation THEN the primary's workload policies are valid in every datacenter the workload runs in", () => {
    const primary = platformJson(defaultDeployment(), "primary");
    const policies = byName(primary, "consul_acl_policy");
    expect(policies["workload-fleet-api"].datacenters).toEqual(["primary", "backup"]);
    expect(Object.values(policies).filter((p: any) => p.datacenters.join() !== "primary,backup").map((p: any) => p.name)).toEqual([]);
    expect(Object.keys(byName(primary, "nomad_acl_policy"))).toEqual(["nomad-autoscaler"]);
  });

  test("GIVEN an app declared in the backup site only THEN the primary's stack owns its policy, role and service-defaults, valid in the backup only, and the backup runs its job", () => {
    const deployment = parseDeployment(editedYaml((d) => (d.sites[1].platform.apps = [hello])));
    const primary = platformJson(deployment, "primary");
    const backup = platformJson(deployment, "backup");
    expect(byName(primary, "consul_acl_policy")["workload-hello"].datacenters).toEqual(["backup"]);
    expect(byName(primary, "consul_acl_role")["workload-hello"]).toBeDefined();
    expect(byName(primary, "consul_config_entry_service_defaults").hello.protocol).toBe("http");
    const jobs = (json: any) => Object.values(json.resource.nomad_job).map((j: any) => JSON.parse(j.jobspec).Job.ID);
    expect([jobs(primary).includes("hello"), jobs(backup).includes("hello")]).toEqual([false, true]);
  });

  test("GIVEN an app that calls other services in each site THEN each datacenter gets a policy of its own, linked by the one role", () => {
    const deployment = parseDeployment(
      editedYaml((d) => {
        d.sites[0].platform.apps = [{ ...hello, dependsOn: [{ service: "fleet-api", localPort: 9100 }] }];
        d.sites[1].platform.apps = [{ ...hello, dependsOn: [{ service: "community-wiki", localPort: 9100 }] }];
      }),
    );
    const primary = platformJson(deployment, "primary");
    const policies = byName(primary, "consul_acl_policy");
    expect({ main: policies["workload-hello"].datacenters, other: policies["workload-hello_backup"].datacenters }).toEqual({ main: ["primary"], other: ["backup"] });
    expect(JSON.parse(policies["workload-hello_backup"].rules).service).toEqual({ "community-wiki": { policy: "read" } });
    expect(byName(primary, "consul_acl_role")["workload-hello"].policies).toHaveLength(2);
    // The intentions of both sites: the wiki may be called by hello (from the backup), fleet-api too (from the primary).
    const intentions = byName(primary, "consul_config_entry_service_intentions");
    expect(intentions["community-wiki"].sources.map((s: any) => s.name)).toContain("hello");
    expect(intentions["fleet-api"].sources.map((s: any) => s.name)).toContain("hello");
  });

  test("fails when one service has two protocols in the federation, naming both datacenters", () => {
    const app = Testing.app();
    const spec = (protocol: ServiceProtocol) => ({ name: "svc", description: "a service", image: "x/y", version: "1", resources: { cpuMhz: 100, memoryMb: 64 }, port: { containerPort: 80, protocol } });
    const stack = new TerraformStack(app, "protocols");
    new Platform(stack, "platform", {
      workloads: [spec(ServiceProtocol.HTTP)],
      datacenter: "primary",
      nomadAddress: "https://10.0.0.1:4646",
      caPem: "ca",
      globalObjectsFor: [
        { datacenter: "primary", workloads: [spec(ServiceProtocol.HTTP)] },
        { datacenter: "backup", workloads: [spec(ServiceProtocol.TCP)] },
      ],
    });
    expect(collectErrors(stack)).toEqual([
      "protocols/platform: workload svc: protocol http in datacenter primary, tcp in backup; expected one protocol, since its service-defaults are shared by the federation",
    ]);
  });
});

describe("siteWorkloads: the registry only for what pulls from it", () => {
  test("GIVEN a platform with no reference system and no registry THEN its workloads build, none from the registry", () => {
    const site = defaultDeployment().sites[1];
    const { registry: _registry, ...platform } = site.platform!;
    const names = siteWorkloads({ ...site, platform: { ...platform, systems: [] } }).map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(["prometheus", "alertmanager", "grafana", "loki", "ingress"]));
    expect(names.filter((n) => n.startsWith("fleet-"))).toEqual([]);
  });

  test("fails on reference systems without a registry (a site built in code, past loadDeployment's check), in one line", () => {
    const site = defaultDeployment().sites[0];
    const { registry: _registry, ...platform } = site.platform!;
    let problems: readonly string[] = [];
    try {
      siteWorkloads({ ...site, platform });
    } catch (e) {
      expect(e).toBeInstanceOf(ProblemsError);
      problems = (e as ProblemsError).problems;
    }
    expect(problems).toEqual(["site primary: platform.registry: expected an image registry and path, e.g. registry.example.org/platform: the reference systems and the database backups pull their images from it"]);
  });
});
