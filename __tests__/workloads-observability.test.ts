/**
 * Unit tests of the observability workloads (constructs/workloads/monitoring.ts, logging.ts,
 * autoscaler.ts): the rendered configs parsed back with the `yaml` package, the Nomad template
 * escaping, the workload specs (dependencies, ports, volumes, public route, the jobs built from
 * them) and one `fails ...` test per validation error.
 */
import { NOMAD_NODE_IP, nomadTemplate, renderYaml } from "../constructs/render";
import { Lazy } from "cdktf";
import { parse } from "yaml";
import {
  AlertSeverity,
  Monitoring,
  MonitoringProps,
  alertRules,
  alertmanagerConfig,
  grafanaDashboardProviders,
  grafanaDatasources,
  grafanaFiles,
  jobsDashboard,
  monitoringWorkloads,
  nodeOverviewDashboard,
  prometheusConfig,
  prometheusFiles,
} from "../constructs/workloads/monitoring";
import { Logging, lokiConfig, loggingWorkloads, vectorConfig } from "../constructs/workloads/logging";
import { Autoscaler, autoscalerAclPolicy, autoscalerAclPolicyJson, autoscalerConfig, autoscalerWorkload } from "../constructs/workloads/autoscaler";
import { WorkloadKind, WorkloadSpec, validateWorkloads } from "../constructs/workloads/spec";
import { workloadJob, workloadRules } from "../constructs/workloads/workload";
import { ProblemsError } from "../constructs/problems";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const CA = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUTest\n-----END CERTIFICATE-----\n";
const NODE_IP = "10.1.2.3";

function props(extra: Partial<MonitoringProps> = {}): MonitoringProps {
  return { datacenter: "dc1", domain: "example.org", caPem: CA, alertWebhookUrl: "https://hooks.example.org/alerts", ...extra };
}

/** Everything observability deploys, with the defaults. */
function allSpecs(): WorkloadSpec[] {
  return [...monitoringWorkloads(props()), ...loggingWorkloads(), autoscalerWorkload({ caPem: CA })];
}

function byName(specs: readonly WorkloadSpec[], name: string): WorkloadSpec {
  const s = specs.find((x) => x.name === name);
  if (!s) throw new Error(`no workload ${name} in ${specs.map((x) => x.name).join(", ")}`);
  return s;
}

function file(spec: WorkloadSpec, destination: string): string {
  const f = (spec.files ?? []).find((x) => x.destination === destination);
  if (!f) throw new Error(`${spec.name} has no file ${destination}`);
  return f.content;
}

/**
 * What consul-template makes of the two action forms these files use (the real tier renders them
 * with Go's text/template itself): the literal `{{ "{{" }}` and the node IP.
 */
function renderLikeNomad(template: string): string {
  return template.replace(/\{\{ "\{\{" \}\}|\{\{ env `attr\.unique\.network\.ip-address` \}\}/g, (m) => (m.includes("env") ? NODE_IP : "{{"));
}

/** The error lines thrown by `fn`. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProblemsError);
    return [...(e as ProblemsError).problems];
  }
  throw new Error("expected an nothing was thrown");
}

// ---------------------------------------------------------------------------------------------

describe("Nomad templates", () => {
  test("literal braces are escaped, the given actions are kept", () => {
    // GIVEN text with a Prometheus template and the node IP action
    const text = `summary: {{ $labels.instance }} at ${NOMAD_NODE_IP}:8501`;
    // WHEN it becomes a Nomad template
    const t = nomadTemplate(text, [NOMAD_NODE_IP]);
    // THEN only the action survives as an action, and rendering gives the text back
    expect(t).toBe(`summary: {{ "{{" }} $labels.instance }} at ${NOMAD_NODE_IP}:8501`);
    expect(renderLikeNomad(t)).toBe(`summary: {{ $labels.instance }} at ${NODE_IP}:8501`);
  });

  test("without actions every {{ is escaped, even an action-like one", () => {
    expect(nomadTemplate(`a {{ b }} ${NOMAD_NODE_IP}`)).toBe(`a {{ "{{" }} b }} {{ "{{" }} env \`attr.unique.network.ip-address\` }}`);
  });

  test("renderYaml does not fold long lines nor use anchors", () => {
    const shared = { a: 1 };
    const out = renderYaml({ long: "x ".repeat(200).trim(), one: shared, two: shared });
    expect(out.split("\n")[0].length).toBeGreaterThan(390);
    expect(out).not.toMatch(/[&*]a1/);
  });
});

describe("prometheusConfig", () => {
  const config = (): Json => parse(renderYaml(prometheusConfig({ alertmanagerLocalPort: 19093, datacenter: "dc1" })));

  test("discovers targets through the local Consul agent over HTTPS with the task's token", () => {
    const doc = config();
    for (const job of doc.scrape_configs) {
      expect(job.consul_sd_configs).toEqual([
        expect.objectContaining({
          server: `${NOMAD_NODE_IP}:8501`,
          scheme: "https",
          tls_config: { ca_file: Monitoring.CA_FILE, server_name: "localhost" },
          authorization: { credentials_file: Monitoring.CONSUL_TOKEN_FILE },
        }),
      ]);
    }
  });

  test("scrapes Nomad servers and clients at /v1/metrics?format=prometheus over HTTPS", () => {
    const jobs = new Map<string, Json>(config().scrape_configs.map((j: Json) => [j.job_name, j]));
    for (const [name, service] of [["nomad-servers", "nomad"], ["nomad-clients", "nomad-client"]]) {
      const j = jobs.get(name);
      expect(j).toMatchObject({ scheme: "https", metrics_path: "/v1/metrics", params: { format: ["prometheus"] }, tls_config: { ca_file: Monitoring.CA_FILE } });
      expect(j.consul_sd_configs[0]).toMatchObject({ services: [service], tags: ["http"] });
    }
  });

  test("scrapes the Consul servers on their HTTPS port with the Consul token", () => {
    const j = config().scrape_configs.find((x: Json) => x.job_name === "consul-servers");
    expect(j).toMatchObject({ scheme: "https", metrics_path: "/v1/agent/metrics", params: { format: ["prometheus"] }, authorization: { credentials_file: Monitoring.CONSUL_TOKEN_FILE } });
    expect(j.consul_sd_configs[0].services).toEqual(["consul"]);
    expect(j.relabel_configs[0]).toEqual({ source_labels: ["__meta_consul_address"], regex: "(.+)", target_label: "__address__", replacement: "$1:8501" });
  });

  test("scrapes node_exporter and every app tagged metrics at its metrics path and port", () => {
    const jobs = new Map<string, Json>(config().scrape_configs.map((j: Json) => [j.job_name, j]));
    expect(jobs.get("node-exporter")).toMatchObject({ scheme: "http", consul_sd_configs: [{ services: ["node-exporter"] }] });
    const apps = jobs.get("apps");
    expect(apps.consul_sd_configs[0].tags).toEqual(["metrics"]);
    expect(apps.consul_sd_configs[0].services).toBeUndefined();
    expect(apps.relabel_configs).toEqual(
      expect.arrayContaining([
        { source_labels: ["__meta_consul_service_metadata_metrics_path"], regex: "(/.*)", target_label: "__metrics_path__", replacement: "$1" },
        { source_labels: ["__meta_consul_address", "__meta_consul_service_metadata_metrics_port"], separator: ";", regex: "(.+);([0-9]+)", target_label: "__address__", replacement: "$1:$2" },
      ]),
    );
  });

  test("alerts go to Alertmanager's upstream; rules and labels are set", () => {
    const doc = config();
    expect(doc.alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:19093"] }] }] });
    expect(doc.rule_files).toEqual(["/local/alert-rules.yml"]);
    expect(doc.global).toEqual({ scrape_interval: "15s", evaluation_interval: "15s", external_labels: { datacenter: "dc1" } });
  });

  test("the file Nomad renders is the typed config with the node IP", () => {
    const files = prometheusFiles({ alertmanagerLocalPort: 19093, datacenter: "dc1", caPem: CA });
    const rendered = parse(renderLikeNomad(files[0].content));
    const expected = JSON.parse(JSON.stringify(prometheusConfig({ alertmanagerLocalPort: 19093, datacenter: "dc1" })).split(NOMAD_NODE_IP).join(NODE_IP));
    expect(rendered).toEqual(expected);
    expect(files.map((f) => f.destination)).toEqual(["local/prometheus.yml", "local/alert-rules.yml", "local/cluster-ca.pem"]);
    expect(files[2].content).toBe(CA);
  });
});

describe("alertRules", () => {
  const rules = alertRules().groups.flatMap((g) => g.rules);
  const rule = (name: string) => rules.find((r) => r.alert === name);

  test("every rule has a severity and a summary", () => {
    for (const r of rules) {
      expect(Object.values(AlertSeverity)).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(0);
    }
  });

  test("a node is down when node_exporter has not answered for 2m", () => {
    expect(rule("NodeDown")).toMatchObject({ expr: 'up{job="node-exporter"} == 0', for: "2m", labels: { severity: "critical" } });
  });

  test("Raft leader loss of Consul and Nomad, on their real metric names", () => {
    expect(rule("ConsulNoLeader")?.expr).toContain("consul_server_isLeader");
    expect(rule("ConsulRaftLeaderContactSlow")?.expr).toContain("consul_raft_leader_lastContact");
    expect(rule("NomadNoLeader")?.expr).toContain("nomad_raft_leader_lastContact_count");
  });

  test("failing and unplaced allocations, per Nomad job (exported_job) and group", () => {
    expect(rule("NomadAllocationsFailing")?.expr).toBe('sum by (exported_job, task_group) (delta(nomad_nomad_job_summary_failed{job="nomad-servers"}[10m])) > 0');
    expect(rule("NomadAllocationsUnplaced")?.expr).toContain("nomad_nomad_job_summary_queued");
  });

  test("the rules file renders back to the rules, Prometheus templates intact", () => {
    const prom = byName(monitoringWorkloads(props()), "prometheus");
    const content = file(prom, Monitoring.RULES_PATH);
    expect(content).not.toMatch(/\{\{ \$labels/);
    expect(parse(renderLikeNomad(content))).toEqual(JSON.parse(JSON.stringify(alertRules())));
  });
});

describe("alertmanagerConfig", () => {
  test("one route to the webhook receiver, resolved alerts included", () => {
    const doc = parse(renderYaml(alertmanagerConfig({ webhookUrl: "https://hooks.example.org/a" })));
    expect(doc.route).toMatchObject({ receiver: "webhook", group_by: ["alertname", "datacenter"], repeat_interval: "4h" });
    expect(doc.receivers).toEqual([{ name: "webhook", webhook_configs: [{ url: "https://hooks.example.org/a", send_resolved: true }] }]);
  });

  test("GIVEN no webhook THEN alerts are not routed: one route to a receiver with no notifier", () => {
    const doc = parse(renderYaml(alertmanagerConfig({})));
    expect(doc.route).toMatchObject({ receiver: "none", group_by: ["alertname", "datacenter"] });
    expect(doc.receivers).toEqual([{ name: "none", webhook_configs: [] }]);
  });

  test("GIVEN monitoring without a webhook THEN Alertmanager still runs, with the receiver that posts nowhere, and says so", () => {
    const { alertWebhookUrl: _none, ...noWebhook } = props();
    const am = byName(monitoringWorkloads(noWebhook), Monitoring.ALERTMANAGER);
    expect(am.description).toBe("Alertmanager: groups Prometheus' alerts (no webhook: posted nowhere)");
    expect(parse(renderLikeNomad(file(am, Monitoring.ALERTMANAGER_CONFIG_PATH))).receivers).toEqual([{ name: "none", webhook_configs: [] }]);
  });
});

describe("Grafana provisioning", () => {
  test("datasources: Prometheus (default) and Loki through the upstreams", () => {
    const doc = parse(renderYaml(grafanaDatasources({ prometheusLocalPort: 19090, lokiLocalPort: 13100 })));
    expect(doc.datasources).toEqual([
      expect.objectContaining({ name: "Prometheus", type: "prometheus", uid: "prometheus", url: "http://127.0.0.1:19090", isDefault: true }),
      expect.objectContaining({ name: "Loki", type: "loki", uid: "loki", url: "http://127.0.0.1:13100", isDefault: false }),
    ]);
  });

  test("one file provider for the provisioned dashboards folder", () => {
    const doc = parse(renderYaml(grafanaDashboardProviders()));
    expect(doc.providers).toEqual([expect.objectContaining({ type: "file", options: { path: "/local/dashboards" }, allowUiUpdates: false })]);
  });

  test("node overview: CPU, memory and disk from node_exporter", () => {
    const exprs = nodeOverviewDashboard().panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.join("\n")).toMatch(/node_cpu_seconds_total/);
    expect(exprs.join("\n")).toMatch(/node_memory_MemAvailable_bytes/);
    expect(exprs.join("\n")).toMatch(/node_filesystem_avail_bytes/);
  });

  test("jobs: running and failed allocations, and the logs from Loki", () => {
    const d = jobsDashboard();
    const exprs = d.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
    expect(exprs).toMatch(/nomad_nomad_job_summary_running/);
    expect(exprs).toMatch(/nomad_nomad_job_summary_failed/);
    expect(d.panels.find((p) => p.type === "logs")?.datasource).toEqual({ type: "loki", uid: "loki" });
  });

  test("panel ids are unique and every panel uses a provisioned datasource", () => {
    for (const d of [nodeOverviewDashboard(), jobsDashboard()]) {
      expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
      for (const p of d.panels) expect(["prometheus", "loki"]).toContain(p.datasource.uid);
    }
  });

  test("the dashboard files render back to the dashboards (legends keep their {{ }})", () => {
    const files = grafanaFiles({ prometheusLocalPort: 19090, lokiLocalPort: 13100 });
    const nodes = files.find((f) => f.destination === "local/dashboards/nodes.json");
    expect(JSON.parse(renderLikeNomad(nodes!.content))).toEqual(JSON.parse(JSON.stringify(nodeOverviewDashboard())));
    expect(renderLikeNomad(nodes!.content)).toContain('"legendFormat": "{{instance}}"');
  });

  test("the admin password is read from Consul KV into a secrets file", () => {
    const files = grafanaFiles({ prometheusLocalPort: 19090, lokiLocalPort: 13100 });
    expect(files.find((f) => f.destination === "secrets/grafana-admin-password")?.content).toBe("{{ key `config/grafana/admin-password` }}");
  });
});

describe("logging configs", () => {
  test("Loki: single binary, TSDB schema v13 on the filesystem, retention", () => {
    const doc = parse(renderYaml(lokiConfig()));
    expect(doc.common).toMatchObject({ path_prefix: "/loki", replication_factor: 1, ring: { kvstore: { store: "inmemory" } } });
    expect(doc.schema_config.configs).toEqual([{ from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }]);
    expect(doc.limits_config.retention_period).toBe("744h");
    expect(doc.compactor).toMatchObject({ retention_enabled: true, delete_request_store: "filesystem" });
  });

  test("Vector: reads the allocations' stdout/stderr files, not its own, and pushes to Loki's upstream", () => {
    const doc = parse(renderYaml(vectorConfig({ lokiLocalPort: 13100 })));
    expect(doc.sources.nomad_logs.include).toEqual(["/nomad-alloc/*/alloc/logs/*.stdout.*", "/nomad-alloc/*/alloc/logs/*.stderr.*"]);
    expect(doc.sources.nomad_logs.exclude).toEqual(expect.arrayContaining(["/nomad-alloc/*/alloc/logs/*.fifo", "/nomad-alloc/*/alloc/logs/log-collector.stdout.*"]));
    expect(doc.sinks.loki).toMatchObject({ type: "loki", inputs: ["nomad_fields"], endpoint: "http://127.0.0.1:13100" });
    expect(doc.sinks.loki.labels).toEqual({ source: "nomad", task: "{{ task }}", stream: "{{ stream }}", node: "{{ node }}" });
    expect(doc.transforms.nomad_fields.source).toContain("parse_regex(.file,");
  });

  test("the collector's file renders back to the config, Vector's templates intact", () => {
    const collector = byName(loggingWorkloads(), Logging.COLLECTOR);
    expect(parse(renderLikeNomad(file(collector, Logging.COLLECTOR_CONFIG_FILE)))).toEqual(JSON.parse(JSON.stringify(vectorConfig({ lokiLocalPort: Logging.LOKI_LOCAL_PORT }))));
  });
});

describe("autoscaler config", () => {
  test("JSON (HCL JSON syntax): Nomad over HTTPS on the node, Prometheus APM through the upstream, nomad target, target-value", () => {
    const cfg = autoscalerConfig({ prometheusLocalPort: 19090 });
    expect(cfg.nomad).toEqual({ address: `https://${NOMAD_NODE_IP}:4646`, ca_cert: Monitoring.CA_FILE, tls_server_name: "localhost" });
    expect(cfg.apm).toEqual({ prometheus: { driver: "prometheus", config: { address: "http://127.0.0.1:19090" } } });
    expect(cfg.target).toEqual({ nomad: { driver: "nomad" } });
    expect(cfg.strategy).toEqual({ "target-value": { driver: "target-value" } });
    expect(cfg.http).toEqual({ bind_address: "0.0.0.0", bind_port: 8080 });
  });

  test("the rendered file is the JSON config with the node IP (the backquoted action survives JSON)", () => {
    const spec = autoscalerWorkload({ caPem: CA, region: "global" });
    const rendered = JSON.parse(renderLikeNomad(file(spec, Autoscaler.CONFIG_PATH)));
    expect(rendered.nomad).toEqual({ address: `https://${NODE_IP}:4646`, region: "global", ca_cert: "/local/cluster-ca.pem", tls_server_name: "localhost" });
  });

  test("the ACL policy reads and scales jobs in the namespace", () => {
    expect(autoscalerAclPolicy()).toEqual({
      namespace: { default: { policy: "scale", capabilities: ["list-jobs", "read-job", "list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"] } },
    });
    expect(JSON.parse(autoscalerAclPolicyJson("apps"))).toEqual({ namespace: { apps: expect.objectContaining({ policy: "scale" }) } });
  });
});

// ---------------------------------------------------------------------------------------------

describe("workload specs", () => {
  test("the observability workloads hold together as one deployment", () => {
    expect(validateWorkloads(allSpecs(), "site primary:")).toEqual([]);
    expect(allSpecs().map((s) => s.name)).toEqual(["prometheus", "alertmanager", "grafana", "loki", "log-collector", "nomad-autoscaler"]);
  });

  test("prometheus: TSDB volume, Alertmanager upstream, Consul service discovery, scraped itself", () => {
    const s = byName(allSpecs(), "prometheus");
    expect(s).toMatchObject({
      image: "prom/prometheus",
      version: "v3.5.0",
      count: 1,
      consulAccess: "service-discovery",
      volume: { source: "prometheus-data", mountPath: "/prometheus" },
      dependsOn: [{ service: "alertmanager", localPort: 19093 }],
      port: { containerPort: 9090, healthPath: "/-/healthy", metricsPath: "/metrics" },
    });
    expect(s.args).toEqual(expect.arrayContaining(["--config.file=/local/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=15d"]));
    // Its Consul token may read the catalog (service discovery) and the agents' metrics.
    expect(workloadRules(s).toJson()).toMatchObject({ service_prefix: { "": { policy: "read" } }, node_prefix: { "": { policy: "read" } }, agent_prefix: { "": { policy: "read" } } });
  });

  test("alertmanager: one instance, no gossip, webhook config", () => {
    const s = byName(allSpecs(), "alertmanager");
    expect(s).toMatchObject({ count: 1, port: { containerPort: 9093 } });
    expect(s.args).toContain("--cluster.listen-address=");
    expect(parse(renderLikeNomad(file(s, Monitoring.ALERTMANAGER_CONFIG_PATH))).receivers[0].webhook_configs[0].url).toBe("https://hooks.example.org/alerts");
  });

  test("grafana: public at grafana.<domain>, Prometheus and Loki upstreams, admin password from a file", () => {
    const s = byName(allSpecs(), "grafana");
    expect(s.port).toMatchObject({ containerPort: 3000, healthPath: "/api/health", public: { host: "grafana.example.org" } });
    expect(s.dependsOn).toEqual([
      { service: "prometheus", localPort: 19090 },
      { service: "loki", localPort: 13100 },
    ]);
    expect(s.env).toMatchObject({ GF_PATHS_PROVISIONING: "/local/provisioning", GF_SERVER_ROOT_URL: "https://grafana.example.org/", GF_SECURITY_ADMIN_PASSWORD__FILE: "/secrets/grafana-admin-password" });
    expect(byName(monitoringWorkloads(props({ grafana: { host: "dash.example.net", count: 2 } })), "grafana")).toMatchObject({ count: 2, port: { public: { host: "dash.example.net" } } });
  });

  test("loki: data volume, one instance; collector: system job on every client, alloc dir read-only, Loki upstream", () => {
    const [loki, collector] = loggingWorkloads();
    expect(loki).toMatchObject({ name: "loki", count: 1, volume: { source: "loki-data", mountPath: "/loki" }, port: { containerPort: 3100, healthPath: "/ready" } });
    expect(collector).toMatchObject({
      kind: WorkloadKind.SYSTEM,
      volume: { source: "nomad-alloc-logs", mountPath: "/nomad-alloc", readOnly: true, hostPath: "/opt/nomad/alloc" },
      dependsOn: [{ service: "loki", localPort: 13100 }],
      env: { NOMAD_NODE_NAME: "${node.unique.name}" },
    });
  });

  test("autoscaler: one instance, Prometheus upstream, JSON config and the CA", () => {
    const s = autoscalerWorkload({ caPem: CA });
    expect(s).toMatchObject({ name: "nomad-autoscaler", count: 1, command: "nomad-autoscaler", args: ["agent", "-config=/local/autoscaler.json"], dependsOn: [{ service: "prometheus", localPort: 19090 }] });
    expect(file(s, "local/cluster-ca.pem")).toBe(CA);
  });

  test("images, versions and resources come from the props", () => {
    const specs = monitoringWorkloads(props({ prometheus: { image: "registry.local/prometheus", version: "v3.6.0", resources: { cpuMhz: 1000, memoryMb: 4096 }, retention: "30d", volume: "tsdb" } }));
    expect(byName(specs, "prometheus")).toMatchObject({ image: "registry.local/prometheus", version: "v3.6.0", resources: { cpuMhz: 1000, memoryMb: 4096 }, volume: { source: "tsdb" } });
    expect(byName(specs, "prometheus").args).toContain("--storage.tsdb.retention.time=30d");
    expect(loggingWorkloads({ loki: { version: "3.5.7" }, collector: { nodeClass: "ingress" } }).map((s) => [s.version, s.nodeClass])).toEqual([
      ["3.5.7", "production"],
      ["0.46.1-debian", "ingress"],
    ]);
  });

  test("a CA given as an unresolved token (cross-stack reference) is accepted as is", () => {
    const ca = Lazy.stringValue({ produce: () => CA });
    expect(file(byName(monitoringWorkloads(props({ caPem: ca })), "prometheus"), Monitoring.CA_PATH)).toBe(ca);
    expect(file(autoscalerWorkload({ caPem: ca }), Monitoring.CA_PATH)).toBe(ca);
  });

  test.each(allSpecs().map((s) => [s.name, s] as const))("the job of %s builds, with its upstreams, volume and type", (_name, spec) => {
    const job = workloadJob(spec, ["dc1"]).toJson().Job as Json;
    const group = job.TaskGroups[0];
    expect(job.Type).toBe(spec.kind === WorkloadKind.SYSTEM ? "system" : "service");
    const upstreams = group.Services[0].Connect.SidecarService.Proxy.Upstreams ?? [];
    expect(upstreams.map((u: Json) => [u.DestinationName, u.LocalBindPort])).toEqual((spec.dependsOn ?? []).map((d) => [d.service, d.localPort]));
    if (spec.volume) expect(Object.values(group.Volumes)).toEqual([expect.objectContaining({ Type: "host", Source: spec.volume.source, ReadOnly: spec.volume.readOnly ?? false })]);
    expect(group.Tasks[0].Templates.length).toBe(spec.files?.length ?? 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Every validation error.

const LOCAL = { alertmanagerLocalPort: 19093, datacenter: "dc1" };
const FAILS: readonly [string, () => unknown, RegExp][] = [
  // lokiConfig
  ["fails on a relative Loki data dir", () => lokiConfig({ dataDir: "loki" }), /lokiConfig: dataDir "loki"; expected an absolute path/],
  ["fails on a Loki retention not in hours", () => lokiConfig({ retention: "31d" }), /lokiConfig: retention "31d"; expected a duration .*units h/],
  ["fails on a Loki port out of range", () => lokiConfig({ port: 70000 }), /lokiConfig: port 70000; expected a TCP port between 1 and 65535/],
  // vectorConfig
  ["fails on a Loki local port of 0 in the collector", () => vectorConfig({ lokiLocalPort: 0 }), /vectorConfig: lokiLocalPort 0; expected a TCP port/],
  ["fails on a collector API port out of range", () => vectorConfig({ lokiLocalPort: 13100, apiPort: -1 }), /vectorConfig: apiPort -1; expected a TCP port/],
  ["fails on a Loki local port equal to the collector's API port", () => vectorConfig({ lokiLocalPort: 8686 }), /vectorConfig: lokiLocalPort 8686; expected a port other than the API port 8686/],
  ["fails on a relative alloc mount", () => vectorConfig({ lokiLocalPort: 13100, allocMount: "alloc/" }), /vectorConfig: allocMount "alloc\/"; expected an absolute path/],
  ["fails on an invalid self task name", () => vectorConfig({ lokiLocalPort: 13100, selfTask: "Log Collector" }), /vectorConfig: selfTask "Log Collector"; expected a task name/],
  ["fails on ignoreOlderSecs below a minute", () => vectorConfig({ lokiLocalPort: 13100, ignoreOlderSecs: 10 }), /vectorConfig: ignoreOlderSecs 10; expected a whole number of seconds >= 60/],
  // loggingWorkloads
  ["fails on a Loki image with a tag", () => loggingWorkloads({ loki: { image: "grafana/loki:3.5.3" } }), /loggingWorkloads: loki.image "grafana\/loki:3.5.3"; expected a container image name without tag/],
  ["fails on an empty Loki version", () => loggingWorkloads({ loki: { version: "" } }), /loggingWorkloads: loki.version ""; expected an image tag/],
  ["fails on a Loki CPU ask of 0", () => loggingWorkloads({ loki: { resources: { cpuMhz: 0, memoryMb: 512 } } }), /loggingWorkloads: loki.resources.cpuMhz 0; expected a whole number of MHz >= 1/],
  ["fails on a collector memory ask below Nomad's minimum", () => loggingWorkloads({ collector: { resources: { cpuMhz: 100, memoryMb: 5 } } }), /loggingWorkloads: collector.resources.memoryMb 5; expected a whole number of MB >= 10/],
  ["fails on a collector image with upper case", () => loggingWorkloads({ collector: { image: "Timberio/Vector" } }), /loggingWorkloads: collector.image "Timberio\/Vector"/],
  ["fails on an invalid Loki volume name", () => loggingWorkloads({ loki: { volume: "loki data" } }), /loggingWorkloads: loki.volume "loki data"; expected a Nomad host volume name/],
  ["fails on a Loki retention in days", () => loggingWorkloads({ loki: { retention: "30d" } }), /loggingWorkloads: loki.retention "30d"; expected a duration/],
  ["fails on an invalid alloc logs volume name", () => loggingWorkloads({ collector: { allocLogsVolume: "" } }), /loggingWorkloads: collector.allocLogsVolume ""; expected a Nomad host volume name/],
  ["fails on the alloc logs volume being Loki's data volume", () => loggingWorkloads({ collector: { allocLogsVolume: "loki-data" } }), /collector.allocLogsVolume "loki-data"; expected a host volume other than Loki's data volume "loki-data"/],
  ["fails on an invalid collector node class", () => loggingWorkloads({ collector: { nodeClass: "Prod Class" } }), /loggingWorkloads: collector.nodeClass "Prod Class"; expected a Nomad node class/],
  ["fails on an invalid Loki node class", () => loggingWorkloads({ nodeClass: "" }), /loggingWorkloads: nodeClass ""; expected a Nomad node class/],
  // prometheusConfig
  ["fails on an Alertmanager local port out of range", () => prometheusConfig({ ...LOCAL, alertmanagerLocalPort: 0 }), /prometheusConfig: alertmanagerLocalPort 0; expected a TCP port/],
  ["fails on an invalid datacenter in the Prometheus config", () => prometheusConfig({ ...LOCAL, datacenter: "DC 1" }), /prometheusConfig: datacenter "DC 1"; expected a Consul datacenter name/],
  ["fails on a relative CA file", () => prometheusConfig({ ...LOCAL, caFile: "ca.pem" }), /prometheusConfig: caFile "ca.pem"; expected an absolute path in the task/],
  ["fails on a relative Consul token file", () => prometheusConfig({ ...LOCAL, consulTokenFile: "secrets/consul_token" }), /prometheusConfig: consulTokenFile "secrets\/consul_token"; expected an absolute path/],
  ["fails on an invalid TLS server name", () => prometheusConfig({ ...LOCAL, tlsServerName: "Local Host" }), /prometheusConfig: tlsServerName "Local Host"; expected a DNS name/],
  ["fails on no rule files", () => prometheusConfig({ ...LOCAL, ruleFiles: [] }), /prometheusConfig: ruleFiles \[\]; expected at least one absolute path/],
  ["fails on a scrape interval in days", () => prometheusConfig({ ...LOCAL, scrapeInterval: "1d" }), /prometheusConfig: scrapeInterval "1d"; expected a duration/],
  // alertmanagerConfig
  ["fails on a webhook URL that is not http(s)", () => alertmanagerConfig({ webhookUrl: "ftp://hooks.example.org/a" }), /alertmanagerConfig: webhookUrl "ftp:\/\/hooks.example.org\/a"; expected an absolute http:\/\/ or https:\/\/ URL/],
  ["fails on an empty group_by", () => alertmanagerConfig({ webhookUrl: "https://h.example.org", groupBy: [] }), /alertmanagerConfig: groupBy \[\]; expected at least one Prometheus label name/],
  ["fails on an invalid label in group_by", () => alertmanagerConfig({ webhookUrl: "https://h.example.org", groupBy: ["alert-name"] }), /alertmanagerConfig: groupBy \["alert-name"\]/],
  ["fails on a repeat interval in seconds", () => alertmanagerConfig({ webhookUrl: "https://h.example.org", repeatInterval: "30s" }), /alertmanagerConfig: repeatInterval "30s"; expected a duration/],
  // Grafana
  ["fails on a Prometheus local port out of range in Grafana", () => grafanaDatasources({ prometheusLocalPort: 65536, lokiLocalPort: 13100 }), /grafanaDatasources: prometheusLocalPort 65536; expected a TCP port/],
  ["fails on a Loki local port out of range in Grafana", () => grafanaDatasources({ prometheusLocalPort: 19090, lokiLocalPort: 1.5 }), /grafanaDatasources: lokiLocalPort 1.5; expected a TCP port/],
  ["fails on the same local port for Prometheus and Loki", () => grafanaDatasources({ prometheusLocalPort: 19090, lokiLocalPort: 19090 }), /grafanaDatasources: lokiLocalPort 19090; expected a port other than Prometheus' local port/],
  ["fails on an invalid Grafana time interval", () => grafanaDatasources({ prometheusLocalPort: 19090, lokiLocalPort: 13100, scrapeInterval: "fast" }), /grafanaDatasources: scrapeInterval "fast"; expected a duration/],
  ["fails on a relative dashboards folder", () => grafanaDashboardProviders("dashboards"), /grafanaDashboardProviders: dir "dashboards"; expected an absolute path/],
  ["fails on an admin password key outside Grafana's settings", () => grafanaFiles({ prometheusLocalPort: 19090, lokiLocalPort: 13100, adminPasswordKey: "secret/grafana" }), /grafanaFiles: adminPasswordKey "secret\/grafana"; expected a Consul KV key under "config\/grafana\/"/],
  // monitoringWorkloads
  ["fails on an invalid datacenter", () => monitoringWorkloads(props({ datacenter: "" })), /monitoringWorkloads: datacenter ""; expected a Consul datacenter name/],
  ["fails on a domain that is not a DNS name", () => monitoringWorkloads(props({ domain: "localhost" })), /monitoringWorkloads: domain "localhost"; expected a lower-case DNS name with at least two labels/],
  ["fails on an invalid Grafana host", () => monitoringWorkloads(props({ grafana: { host: "grafana_example.org" } })), /monitoringWorkloads: grafana.host "grafana_example.org"; expected a lower-case DNS name/],
  ["fails on a CA that is not a PEM certificate", () => monitoringWorkloads(props({ caPem: "not a certificate" })), /monitoringWorkloads: caPem "not a certificate"; expected a PEM certificate/],
  ["fails on an alert webhook that is not a URL", () => monitoringWorkloads(props({ alertWebhookUrl: "hooks.example.org/alerts" })), /monitoringWorkloads: alertWebhookUrl "hooks.example.org\/alerts"; expected an absolute http:\/\/ or https:\/\/ URL/],
  ["fails on a Prometheus image with a tag", () => monitoringWorkloads(props({ prometheus: { image: "prom/prometheus:v3.5.0" } })), /monitoringWorkloads: prometheus.image "prom\/prometheus:v3.5.0"/],
  ["fails on a Prometheus version with a space", () => monitoringWorkloads(props({ prometheus: { version: "v3 5" } })), /monitoringWorkloads: prometheus.version "v3 5"; expected an image tag/],
  ["fails on a Prometheus memory ask below Nomad's minimum", () => monitoringWorkloads(props({ prometheus: { resources: { cpuMhz: 100, memoryMb: 0 } } })), /monitoringWorkloads: prometheus.resources.memoryMb 0/],
  ["fails on a Prometheus retention in seconds", () => monitoringWorkloads(props({ prometheus: { retention: "30s" } })), /monitoringWorkloads: prometheus.retention "30s"; expected a duration/],
  ["fails on an invalid Prometheus volume name", () => monitoringWorkloads(props({ prometheus: { volume: "/srv/nomad/prometheus" } })), /monitoringWorkloads: prometheus.volume "\/srv\/nomad\/prometheus"; expected a Nomad host volume name/],
  ["fails on an Alertmanager image with a tag", () => monitoringWorkloads(props({ alertmanager: { image: "prom/alertmanager:latest" } })), /monitoringWorkloads: alertmanager.image/],
  ["fails on an Alertmanager CPU ask that is not whole", () => monitoringWorkloads(props({ alertmanager: { resources: { cpuMhz: 0.5, memoryMb: 64 } } })), /monitoringWorkloads: alertmanager.resources.cpuMhz 0.5/],
  ["fails on an empty Grafana version", () => monitoringWorkloads(props({ grafana: { version: "" } })), /monitoringWorkloads: grafana.version ""/],
  ["fails on a Grafana memory ask below Nomad's minimum", () => monitoringWorkloads(props({ grafana: { resources: { cpuMhz: 100, memoryMb: 9 } } })), /monitoringWorkloads: grafana.resources.memoryMb 9/],
  ["fails on a Grafana count of 0", () => monitoringWorkloads(props({ grafana: { count: 0 } })), /monitoringWorkloads: grafana.count 0; expected a whole number >= 1/],
  ["fails on an invalid monitoring node class", () => monitoringWorkloads(props({ nodeClass: "Production" })), /monitoringWorkloads: nodeClass "Production"; expected a Nomad node class/],
  // autoscaler
  ["fails on a Prometheus local port out of range in the Autoscaler", () => autoscalerConfig({ prometheusLocalPort: 0 }), /autoscalerConfig: prometheusLocalPort 0; expected a TCP port/],
  ["fails on an Autoscaler health port out of range", () => autoscalerConfig({ prometheusLocalPort: 19090, port: 99999 }), /autoscalerConfig: port 99999; expected a TCP port/],
  ["fails on the Prometheus local port being the Autoscaler's health port", () => autoscalerConfig({ prometheusLocalPort: 8080 }), /autoscalerConfig: prometheusLocalPort 8080; expected a port other than the health port 8080/],
  ["fails on an invalid Nomad region", () => autoscalerConfig({ prometheusLocalPort: 19090, region: "Global Region" }), /autoscalerConfig: region "Global Region"; expected a Nomad region name/],
  ["fails on a relative CA file in the Autoscaler", () => autoscalerConfig({ prometheusLocalPort: 19090, caFile: "local/ca.pem" }), /autoscalerConfig: caFile "local\/ca.pem"; expected an absolute path/],
  ["fails on an invalid Nomad TLS server name", () => autoscalerConfig({ prometheusLocalPort: 19090, tlsServerName: "" }), /autoscalerConfig: tlsServerName ""; expected a DNS name/],
  ["fails on a default cooldown in days", () => autoscalerConfig({ prometheusLocalPort: 19090, defaultCooldown: "1d" }), /autoscalerConfig: defaultCooldown "1d"; expected a duration/],
  ["fails on a default evaluation interval of 0", () => autoscalerConfig({ prometheusLocalPort: 19090, defaultEvaluationInterval: "0s" }), /autoscalerConfig: defaultEvaluationInterval "0s"; expected a duration/],
  ["fails on an invalid Nomad namespace in the ACL policy", () => autoscalerAclPolicy("no namespace"), /autoscalerAclPolicy: namespace "no namespace"; expected a Nomad namespace name/],
  ["fails on an Autoscaler image with a tag", () => autoscalerWorkload({ caPem: CA, image: "hashicorp/nomad-autoscaler:0.4.7" }), /autoscalerWorkload: autoscaler.image/],
  ["fails on an empty Autoscaler version", () => autoscalerWorkload({ caPem: CA, version: "" }), /autoscalerWorkload: autoscaler.version ""/],
  ["fails on an Autoscaler CPU ask of 0", () => autoscalerWorkload({ caPem: CA, resources: { cpuMhz: 0, memoryMb: 128 } }), /autoscalerWorkload: autoscaler.resources.cpuMhz 0/],
  ["fails on an Autoscaler CA that is not a PEM certificate", () => autoscalerWorkload({ caPem: "" }), /autoscalerWorkload: caPem ""; expected a PEM certificate/],
  ["fails on an invalid Autoscaler node class", () => autoscalerWorkload({ caPem: CA, nodeClass: "a b" }), /autoscalerWorkload: nodeClass "a b"; expected a Nomad node class/],
];

describe("validation", () => {
  test.each(FAILS)("%s", (_name, fn, message) => {
    // WHEN the props are wrong THEN one line names the field, the value and what is expected
    const problems = problemsOf(fn);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test("fails with every problem at once, one line each", () => {
    const problems = problemsOf(() => monitoringWorkloads(props({ datacenter: "", domain: "x", alertWebhookUrl: "nope", grafana: { count: -1 } })));
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toMatch(/datacenter ""[\s\S]*domain "x"[\s\S]*alertWebhookUrl "nope"[\s\S]*grafana.count -1/);
  });
});
