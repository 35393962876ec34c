/**
 * Real tier of the observability workloads (monitoring, logging, autoscaler):
 *
 * - every file of every workload is rendered the way Nomad renders templates: by Go's
 *   text/template (the engine of consul-template), with `env` (the node IP attribute) and `key`
 *   (Consul KV) functions, in a small Go program built here with the machine's Go toolchain; the
 *   rendered YAML/JSON must be exactly the typed config;
 * - `promtool check config` (syntax-only on the exact rendered bytes, then a full check with the
 *   task's files in place) and `promtool check rules` accept the rendered prometheus.yml and rules;
 *   `amtool check-config` accepts alertmanager.yml;
 * - `nomad job validate -json` accepts the job of every workload, offline and against a real
 *   ACL-enabled Nomad agent (dev mode, loopback, random ports), which also takes the Autoscaler's
 *   ACL policy (JSON rules) bound to its job;
 * - negative controls: broken configs, rules, jobs and policies fail the same tools.
 *
 * The collector (Vector), Loki, Grafana and the Autoscaler have no binary in Debian: their configs
 * are checked by the rendering and the unit tests only.
 *
 * Runs only with REAL_TESTS=1. A missing tool fails the suite, it never skips it. Debian packages:
 * prometheus (promtool), prometheus-alertmanager (amtool); plus openssl, go, and the toolchain's nomad.
 */
import { NOMAD_NODE_IP, renderYaml } from "../../constructs/render";
import * as path from "node:path";
import { parse } from "yaml";
import { Monitoring, alertRules, alertmanagerConfig, grafanaDatasources, jobsDashboard, monitoringWorkloads, nodeOverviewDashboard, prometheusConfig } from "../../constructs/workloads/monitoring";
import { Logging, lokiConfig, loggingWorkloads, vectorConfig } from "../../constructs/workloads/logging";
import { Autoscaler, autoscalerAclPolicyJson, autoscalerConfig, autoscalerWorkload } from "../../constructs/workloads/autoscaler";
import { WorkloadSpec } from "../../constructs/workloads/spec";
import { workloadJob } from "../../constructs/workloads/workload";
import { createCa, describeRun, makeTempDir, removeDir, requireTool, run, RunResult, runOk, writeFile, freePort, sleep, NomadDevAgent, startNomadDevAgent } from "./real-helpers";

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The node attribute Nomad gives `{{ env "attr.unique.network.ip-address" }}` on the test "client". */
const NODE_IP = "10.20.0.7";
const ADMIN_PASSWORD = 'pa"ss {{ word }} $x';

/**
 * A template renderer with consul-template's engine (Go text/template) and the functions these
 * files use: `env` (task environment and node attributes) and `key` (Consul KV). Unknown
 * variables or keys fail the rendering, as a missing key would block the task.
 */
const RENDERER_GO = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/template"
)

func main() {
	var data struct {
		Env  map[string]string \`json:"env"\`
		Keys map[string]string \`json:"keys"\`
	}
	if err := json.Unmarshal([]byte(os.Args[1]), &data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	src, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	funcs := template.FuncMap{
		"env": func(k string) (string, error) {
			if v, ok := data.Env[k]; ok {
				return v, nil
			}
			return "", fmt.Errorf("env %q is not set", k)
		},
		"key": func(k string) (string, error) {
			if v, ok := data.Keys[k]; ok {
				return v, nil
			}
			return "", fmt.Errorf("key %q is not in Consul KV", k)
		},
	}
	t, err := template.New("template").Funcs(funcs).Parse(string(src))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := t.Execute(os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`;


/** JSON round trip: the typed object as a parser gives it back. */
function plain<T>(value: T): Json {
  return JSON.parse(JSON.stringify(value));
}

function expectOk(r: RunResult): void {
  expect({ status: r.status, run: r.status === 0 ? "" : describeRun(r) }).toEqual({ status: 0, run: "" });
}

function expectFails(r: RunResult, message: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull();
  expect(r.output).toMatch(message);
}

d("observability configs with their real tools", () => {
  let dir = "";
  let renderer = "";
  let caPem = "";
  let specs: WorkloadSpec[] = [];

  /** Renders a file's template as Nomad would on the test client. */
  function render(template: string, keys: Record<string, string> = {}): RunResult {
    return run(renderer, [JSON.stringify({ env: { "attr.unique.network.ip-address": NODE_IP }, keys })], { input: template });
  }

  function renderOk(template: string, keys: Record<string, string> = {}): string {
    const r = render(template, keys);
    if (r.status !== 0) throw new Error(`rendering failed:\n${describeRun(r)}\n--- template\n${template}`);
    return r.stdout;
  }

  function spec(name: string): WorkloadSpec {
    const s = specs.find((x) => x.name === name);
    if (!s) throw new Error(`no workload ${name}`);
    return s;
  }

  function fileOf(s: WorkloadSpec, destination: string): string {
    const f = (s.files ?? []).find((x) => x.destination === destination);
    if (!f) throw new Error(`${s.name} has no file ${destination}`);
    return f.content;
  }

  /**
   * Writes a workload's rendered files under `root` as the task sees them (`local/...`,
   * `secrets/...`), with absolute task paths (`/local/`, `/secrets/`) moved under `root`.
   */
  function materialize(s: WorkloadSpec, root: string): void {
    for (const f of s.files ?? []) {
      const text = renderOk(f.content, { [Monitoring.GRAFANA_ADMIN_PASSWORD_KEY]: ADMIN_PASSWORD });
      writeFile(root, f.destination, text.split("/local/").join(`${root}/local/`).split("/secrets/").join(`${root}/secrets/`));
    }
    // Written by Nomad from the task's Consul workload identity.
    writeFile(root, "secrets/consul_token", "00000000-0000-0000-0000-000000000000\n");
  }

  beforeAll(() => {
    dir = makeTempDir("observability-real");
    requireTool("promtool");
    // Debian's prometheus package (2.42.0+ds) is built without Consul service discovery: its
    // promtool rejects every consul_sd_configs. Fail with what to do rather than a parse error.
    const probeDir = makeTempDir("promtool-probe");
    try {
      const probe = run("promtool", ["check", "config", "--syntax-only", writeFile(probeDir, "p.yml", renderYaml({ scrape_configs: [{ job_name: "p", consul_sd_configs: [{ server: "127.0.0.1:8501" }] }] }))]);
      if (probe.status !== 0) {
        throw new Error(
          "real tests: this promtool cannot check consul_sd_configs (Debian's prometheus package is built without Consul service discovery). " +
            "Build promtool from the Go module github.com/prometheus/prometheus@v0.305.0 (Prometheus v3.5.0: `go mod download` it, then `go build ./cmd/promtool` in its folder) " +
            `and put it first on PATH.\n${describeRun(probe)}`,
        );
      }
    } finally {
      removeDir(probeDir);
    }
    requireTool("amtool");
    requireTool("nomad");
    const go = requireTool("go");
    caPem = createCa(path.join(dir, "ca"), "dc1 cluster CA").certPem;
    writeFile(dir, "renderer/main.go", RENDERER_GO);
    renderer = path.join(dir, "renderer", "render");
    // Standard library only: no module download (GOPROXY=off), the machine's Go (GOTOOLCHAIN=local).
    runOk(go, ["build", "-o", renderer, "main.go"], { cwd: path.join(dir, "renderer"), env: { GOTOOLCHAIN: "local", GOPROXY: "off", GOFLAGS: "", GO111MODULE: "off" }, timeoutMs: 300_000 });
    specs = [
      ...monitoringWorkloads({ datacenter: "dc1", domain: "example.org", caPem, alertWebhookUrl: "https://hooks.example.org/alerts" }),
      ...loggingWorkloads(),
      autoscalerWorkload({ caPem, region: "dc1" }),
    ];
  }, 360_000);

  afterAll(() => removeDir(dir));

  // -------------------------------------------------------------------------------------------
  // Rendering

  test("the renderer is consul-template's engine: literal braces and actions as Nomad renders them", () => {
    expect(renderOk('{{ "{{" }} $labels.instance }} {{ env `attr.unique.network.ip-address` }}')).toBe(`{{ $labels.instance }} ${NODE_IP}`);
    // Negative controls: a bare Prometheus template is an action Go cannot run, an unknown key blocks.
    expectFails(render("{{ $labels.instance }}"), /undefined variable "\$labels"/);
    expectFails(render("{{ key `config/missing` }}"), /key "config\/missing" is not in Consul KV/);
  });

  test("every file of every workload renders", () => {
    const failures: string[] = [];
    for (const s of specs) {
      for (const f of s.files ?? []) {
        const r = render(f.content, { [Monitoring.GRAFANA_ADMIN_PASSWORD_KEY]: ADMIN_PASSWORD });
        if (r.status !== 0) failures.push(`${s.name} ${f.destination}: ${r.stderr.trim()}`);
      }
    }
    expect(failures).toEqual([]);
    expect(specs.flatMap((s) => (s.files ?? []).map((f) => `${s.name} ${f.destination}`))).toEqual([
      "prometheus local/prometheus.yml",
      "prometheus local/alert-rules.yml",
      "prometheus local/cluster-ca.pem",
      "alertmanager local/alertmanager.yml",
      "grafana local/provisioning/datasources/platform.yaml",
      "grafana local/provisioning/dashboards/platform.yaml",
      "grafana local/dashboards/nodes.json",
      "grafana local/dashboards/jobs.json",
      "grafana secrets/grafana-admin-password",
      "loki local/loki.yaml",
      "log-collector local/vector.yaml",
      "nomad-autoscaler local/autoscaler.json",
      "nomad-autoscaler local/cluster-ca.pem",
    ]);
  });

  test("the rendered files are exactly the typed configs (node IP filled in, templates of the tools intact)", () => {
    const withIp = (v: unknown): Json => JSON.parse(JSON.stringify(v).split(NOMAD_NODE_IP).join(NODE_IP));
    const prom = spec(Monitoring.PROMETHEUS);
    expect(parse(renderOk(fileOf(prom, Monitoring.PROMETHEUS_CONFIG_PATH)))).toEqual(withIp(prometheusConfig({ alertmanagerLocalPort: Monitoring.ALERTMANAGER_LOCAL_PORT, datacenter: "dc1" })));
    expect(parse(renderOk(fileOf(prom, Monitoring.RULES_PATH)))).toEqual(plain(alertRules()));
    expect(renderOk(fileOf(prom, Monitoring.CA_PATH))).toBe(caPem);
    expect(parse(renderOk(fileOf(spec(Monitoring.ALERTMANAGER), Monitoring.ALERTMANAGER_CONFIG_PATH)))).toEqual(plain(alertmanagerConfig({ webhookUrl: "https://hooks.example.org/alerts" })));
    const grafana = spec(Monitoring.GRAFANA);
    expect(parse(renderOk(fileOf(grafana, "local/provisioning/datasources/platform.yaml")))).toEqual(plain(grafanaDatasources({ prometheusLocalPort: 19090, lokiLocalPort: 13100 })));
    expect(JSON.parse(renderOk(fileOf(grafana, "local/dashboards/nodes.json")))).toEqual(plain(nodeOverviewDashboard()));
    expect(JSON.parse(renderOk(fileOf(grafana, "local/dashboards/jobs.json")))).toEqual(plain(jobsDashboard()));
    expect(renderOk(fileOf(grafana, Monitoring.GRAFANA_ADMIN_PASSWORD_PATH), { [Monitoring.GRAFANA_ADMIN_PASSWORD_KEY]: ADMIN_PASSWORD })).toBe(ADMIN_PASSWORD);
    expect(parse(renderOk(fileOf(spec(Logging.LOKI), Logging.LOKI_CONFIG_FILE)))).toEqual(plain(lokiConfig()));
    expect(parse(renderOk(fileOf(spec(Logging.COLLECTOR), Logging.COLLECTOR_CONFIG_FILE)))).toEqual(plain(vectorConfig({ lokiLocalPort: Logging.LOKI_LOCAL_PORT })));
    expect(JSON.parse(renderOk(fileOf(spec(Autoscaler.NAME), Autoscaler.CONFIG_PATH)))).toEqual(withIp(autoscalerConfig({ prometheusLocalPort: Monitoring.PROMETHEUS_LOCAL_PORT, region: "dc1" })));
  });

  // -------------------------------------------------------------------------------------------
  // promtool

  test("promtool check config --syntax-only accepts the exact rendered prometheus.yml", () => {
    const file = writeFile(dir, "syntax/prometheus.yml", renderOk(fileOf(spec(Monitoring.PROMETHEUS), Monitoring.PROMETHEUS_CONFIG_PATH)));
    const r = run("promtool", ["check", "config", "--syntax-only", file]);
    expectOk(r);
    expect(r.output).toMatch(/SUCCESS/);
  });

  test("promtool check config accepts prometheus.yml with the task's files (rules, CA, Consul token) in place", () => {
    const root = path.join(dir, "prometheus-task");
    materialize(spec(Monitoring.PROMETHEUS), root);
    const r = run("promtool", ["check", "config", path.join(root, Monitoring.PROMETHEUS_CONFIG_PATH)]);
    expectOk(r);
    // It checked the rule file too, and found every rule.
    const count = alertRules().groups.reduce((n, g) => n + g.rules.length, 0);
    expect(r.output).toMatch(new RegExp(`SUCCESS: ${count} rules found`));
  });

  test("promtool check rules accepts the rendered rules (PromQL and annotation templates)", () => {
    const file = writeFile(dir, "rules/alert-rules.yml", renderOk(fileOf(spec(Monitoring.PROMETHEUS), Monitoring.RULES_PATH)));
    const r = run("promtool", ["check", "rules", file]);
    expectOk(r);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  test("negative controls: promtool rejects a broken config, a missing rule file, a broken expression and a broken template", () => {
    const base = plain(prometheusConfig({ alertmanagerLocalPort: 19093, datacenter: "dc1" }));
    base.scrape_configs[4].relabel_configs[0].regex = "([a-z";
    const badRegex = writeFile(dir, "neg/regex.yml", renderYaml(base).split(NOMAD_NODE_IP).join(NODE_IP));
    expectFails(run("promtool", ["check", "config", "--syntax-only", badRegex]), /error parsing regexp|missing closing/);

    const noRules = writeFile(dir, "neg/no-rules.yml", renderYaml(prometheusConfig({ alertmanagerLocalPort: 19093, datacenter: "dc1", ruleFiles: [path.join(dir, "neg", "absent.yml")] })).split(NOMAD_NODE_IP).join(NODE_IP));
    expectFails(run("promtool", ["check", "config", noRules]), /absent\.yml/);

    const rules = plain(alertRules());
    rules.groups[0].rules[0].expr = 'up{job="node-exporter"} ==';
    expectFails(run("promtool", ["check", "rules", writeFile(dir, "neg/expr.yml", renderYaml(rules))]), /parse error/);

    const templates = plain(alertRules());
    templates.groups[0].rules[0].annotations.summary = "Node {{ $labels.instance is down";
    expectFails(run("promtool", ["check", "rules", writeFile(dir, "neg/template.yml", renderYaml(templates))]), /template/);
  });

  // -------------------------------------------------------------------------------------------
  // amtool

  test("amtool check-config accepts the rendered alertmanager.yml", () => {
    const file = writeFile(dir, "alertmanager/alertmanager.yml", renderOk(fileOf(spec(Monitoring.ALERTMANAGER), Monitoring.ALERTMANAGER_CONFIG_PATH)));
    const r = run("amtool", ["check-config", file]);
    expectOk(r);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.output).toMatch(/1 receivers/);
  });

  test("negative controls: amtool rejects a route to an undefined receiver and an invalid webhook URL", () => {
    const undefinedReceiver = plain(alertmanagerConfig({ webhookUrl: "https://hooks.example.org/a" }));
    undefinedReceiver.route.receiver = "pager";
    expectFails(run("amtool", ["check-config", writeFile(dir, "neg/am-receiver.yml", renderYaml(undefinedReceiver))]), /undefined receiver "pager"/);
    const badUrl = plain(alertmanagerConfig({ webhookUrl: "https://hooks.example.org/a" }));
    badUrl.receivers[0].webhook_configs[0].url = "hooks without scheme";
    expectFails(run("amtool", ["check-config", writeFile(dir, "neg/am-url.yml", renderYaml(badUrl))]), /url|URL/);
  });

  // -------------------------------------------------------------------------------------------
  // nomad job validate, offline

  function writeJob(s: WorkloadSpec): string {
    return writeFile(dir, `jobs/${s.name}.json`, `${JSON.stringify(workloadJob(s, ["dc1"]).toJson(), null, 2)}\n`);
  }

  test("nomad job validate -json (offline) accepts the job of every workload", async () => {
    // A closed port: the CLI validates locally.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const failures: string[] = [];
    for (const s of specs) {
      const r = run("nomad", ["job", "validate", "-json", writeJob(s)], { env: { NOMAD_ADDR: closed } });
      if (r.status !== 0 || !/Job validation successful/.test(r.output)) failures.push(describeRun(r));
    }
    expect(failures).toEqual([]);
  });

  test("negative control: nomad job validate rejects a broken observability job", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const doc: Json = workloadJob(spec(Monitoring.PROMETHEUS), ["dc1"]).toJson();
    doc.Job.TaskGroups[0].Count = -1;
    const file = writeFile(dir, "jobs/broken.json", JSON.stringify(doc));
    expectFails(run("nomad", ["job", "validate", "-json", file], { env: { NOMAD_ADDR: closed } }), /count can't be negative/i);
  });

  // -------------------------------------------------------------------------------------------
  // A real ACL-enabled Nomad agent: job validation and the Autoscaler's ACL policy

  describe("against a real ACL-enabled Nomad agent", () => {
    let nomadAgent: NomadDevAgent | undefined;
    let addr = "";
    let token = "";
    let agentLog = "";

    function nomad(args: readonly string[]): RunResult {
      return run("nomad", args, { env: { NOMAD_ADDR: addr, NOMAD_TOKEN: token }, timeoutMs: 60_000 });
    }

    beforeAll(async () => {
      if (!dir || !renderer) throw new Error("real tests: the suite's setup failed (see the first error); no Nomad agent started");
      nomadAgent = await startNomadDevAgent(dir, "nomad-agent", { acl: { enabled: true } });
      addr = nomadAgent.addr;
      const deadline = Date.now() + 60_000;
      let last = "";
      while (!token && Date.now() < deadline) {
        const res = await fetch(`${addr}/v1/acl/bootstrap`, { method: "POST" });
        const body = await res.text();
        last = `bootstrap ${res.status} ${body}`;
        if (res.status === 200) token = JSON.parse(body).SecretID;
        else await sleep(500);
      }
      agentLog = nomadAgent.log();
      if (!token) throw new Error(`nomad agent not bootstrapped (${last}); log:\n${agentLog.slice(-4000)}`);
    }, 120_000);

    afterAll(async () => {
      await nomadAgent?.stop();
    }, 30_000);

    test("nomad job validate -json against the agent accepts the job of every workload", () => {
      const failures: string[] = [];
      for (const s of specs) {
        const r = nomad(["job", "validate", "-json", writeJob(s)]);
        if (r.status !== 0 || !/Job validation successful/.test(r.output) || /not validated/.test(r.output)) failures.push(describeRun(r));
      }
      expect(failures).toEqual([]);
    });

    test("the Autoscaler's ACL policy (JSON rules) applies, bound to its job, and reads back", async () => {
      const file = writeFile(dir, "acl/autoscaler.json", autoscalerAclPolicyJson());
      expectOk(nomad(["acl", "policy", "apply", "-description", "Nomad Autoscaler: read and scale jobs", "-namespace", "default", "-job", Autoscaler.NAME, "nomad-autoscaler", file]));
      const policy: Json = await fetch(`${addr}/v1/acl/policy/nomad-autoscaler`, { headers: { "X-Nomad-Token": token } }).then((r) => r.json());
      expect(policy.JobACL).toMatchObject({ Namespace: "default", JobID: Autoscaler.NAME });
      expect(JSON.parse(policy.Rules)).toEqual(JSON.parse(autoscalerAclPolicyJson()));
    });

    test("negative control: Nomad rejects a policy with an unknown capability", () => {
      const rules = JSON.parse(autoscalerAclPolicyJson());
      rules.namespace.default.capabilities.push("fly-job");
      const file = writeFile(dir, "acl/broken.json", JSON.stringify(rules));
      expectFails(nomad(["acl", "policy", "apply", "broken", file]), /[Ii]nvalid namespace capabilit/);
    });
  });
});
