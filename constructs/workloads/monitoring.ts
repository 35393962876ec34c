/**
 * Monitoring of the platform: Prometheus (Consul service discovery of the Nomad and Consul
 * agents, node_exporter and every app registered with the `metrics` tag), its alert rules,
 * Alertmanager (a webhook receiver) and Grafana (provisioned datasources and dashboards), as
 * `WorkloadSpec`s. Every config is a typed object rendered with the `yaml` package or
 * `JSON.stringify`; workloads reach each other only through their Connect upstreams.
 */
import { Token } from "cdktf";
import { ServiceProtocol } from "../consul/mesh";
import { caFileSecrets, CLUSTER_CA_TEMPLATE, DEFAULT_NODE_CLASS, WorkloadFile, WorkloadSpec } from "./spec";
import { settingsPrefix } from "./workload";
import { CLUSTER_PORTS } from "../../cloud-init/agents";
import { ComponentOptions, Logging, NOMAD_NODE_IP, ProblemList, WorkloadResources, nomadTemplate, renderYaml } from "./logging";

// ---------------------------------------------------------------------------------------------
// prometheus.yml

/** TLS settings of a Prometheus client. */
export interface PrometheusTlsConfig {
  readonly ca_file: string;
  readonly server_name?: string;
}

/** `authorization` of a Prometheus client (the credentials read from a file). */
export interface PrometheusAuthorization {
  readonly type?: string;
  readonly credentials_file: string;
}

/** One `consul_sd_configs` entry. */
export interface ConsulSdConfig {
  readonly server: string;
  readonly scheme: "http" | "https";
  readonly tls_config?: PrometheusTlsConfig;
  readonly authorization?: PrometheusAuthorization;
  readonly services?: readonly string[];
  readonly tags?: readonly string[];
  readonly refresh_interval?: string;
}

/** One relabelling step. */
export interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly target_label?: string;
  readonly replacement?: string;
  readonly action?: "replace" | "keep" | "drop" | "labelmap" | "labeldrop" | "labelkeep";
}

/** One scrape job. */
export interface ScrapeConfig {
  readonly job_name: string;
  readonly scheme?: "http" | "https";
  readonly metrics_path?: string;
  readonly params?: Readonly<Record<string, readonly string[]>>;
  readonly tls_config?: PrometheusTlsConfig;
  readonly authorization?: PrometheusAuthorization;
  readonly consul_sd_configs: readonly ConsulSdConfig[];
  readonly relabel_configs?: readonly RelabelConfig[];
}

/** prometheus.yml, as Prometheus reads it (the subset the platform sets). */
export interface PrometheusConfig {
  readonly global: {
    readonly scrape_interval: string;
    readonly evaluation_interval: string;
    readonly external_labels: Readonly<Record<string, string>>;
  };
  readonly rule_files: readonly string[];
  readonly alerting: { readonly alertmanagers: readonly { readonly static_configs: readonly { readonly targets: readonly string[] }[] }[] };
  readonly scrape_configs: readonly ScrapeConfig[];
}

/** Options of {@link prometheusConfig}. */
export interface PrometheusConfigOptions {
  /** Port on 127.0.0.1 where Alertmanager is reachable (Prometheus' Connect upstream). */
  readonly alertmanagerLocalPort: number;
  /** Consul datacenter, added to every series and alert as the `datacenter` label. */
  readonly datacenter: string;
  /**
   * The cluster CA (PEM file in the task) that signed the Consul and Nomad HTTPS certificates.
   *
   * @default Monitoring.CA_FILE
   */
  readonly caFile?: string;
  /**
   * File holding the task's Consul ACL token (written by Nomad from the task's workload identity).
   *
   * @default Monitoring.CONSUL_TOKEN_FILE
   */
  readonly consulTokenFile?: string;
  /**
   * Name checked in the Consul and Nomad agents' certificates. Every agent certificate of the
   * cluster carries `localhost` (constructs/cluster), whether the agent is a server or a client,
   * and the certificates carry the node IP only for fixed-IP VMs.
   *
   * @default Monitoring.AGENT_TLS_SERVER_NAME
   */
  readonly tlsServerName?: string;
  /**
   * Rule files (paths in the task).
   *
   * @default [Monitoring.RULES_PATH]
   */
  readonly ruleFiles?: readonly string[];
  /**
   * Scrape and rule evaluation interval.
   *
   * @default Monitoring.DEFAULT_SCRAPE_INTERVAL
   */
  readonly scrapeInterval?: string;
}

const CONSUL_NODE_AS_INSTANCE: RelabelConfig = { source_labels: ["__meta_consul_node"], target_label: "instance" };

/**
 * Prometheus' configuration. The targets come from the local Consul agent over HTTPS
 * (`{{ env "attr.unique.network.ip-address" }}:8501`, rendered by Nomad):
 * - `nomad-servers` / `nomad-clients`: services `nomad` / `nomad-client` with tag `http`,
 *   `https://<agent>:4646/v1/metrics?format=prometheus`;
 * - `consul-servers`: service `consul` (registered on the server RPC port), scraped on the node's
 *   HTTPS port at `/v1/agent/metrics?format=prometheus` with the task's Consul token;
 * - `node-exporter`: service `node-exporter`;
 * - `apps`: every service with tag `metrics`, at meta `metrics_path` on the node address and
 *   meta `metrics_port`.
 * Alerts go to Alertmanager through its upstream.
 */
export function prometheusConfig(opts: PrometheusConfigOptions): PrometheusConfig {
  const caFile = opts.caFile ?? Monitoring.CA_FILE;
  const tokenFile = opts.consulTokenFile ?? Monitoring.CONSUL_TOKEN_FILE;
  const serverName = opts.tlsServerName ?? Monitoring.AGENT_TLS_SERVER_NAME;
  const ruleFiles = opts.ruleFiles ?? [`/${Monitoring.RULES_PATH}`];
  const interval = opts.scrapeInterval ?? Monitoring.DEFAULT_SCRAPE_INTERVAL;
  const p = new ProblemList("prometheusConfig");
  p.port("alertmanagerLocalPort", opts.alertmanagerLocalPort);
  p.name("datacenter", opts.datacenter, "a Consul datacenter name");
  for (const [field, value] of [["caFile", caFile], ["consulTokenFile", tokenFile]] as const) {
    if (typeof value !== "string" || !value.startsWith("/")) p.add(field, value, "an absolute path in the task");
  }
  if (typeof serverName !== "string" || !/^[a-z0-9.-]+$/.test(serverName)) p.add("tlsServerName", serverName, "a DNS name in the agents' certificates, e.g. \"localhost\"");
  if (!Array.isArray(ruleFiles) || ruleFiles.length === 0 || ruleFiles.some((f) => typeof f !== "string" || !f.startsWith("/"))) p.add("ruleFiles", ruleFiles, "at least one absolute path in the task");
  p.duration("scrapeInterval", interval, "sm");
  p.throwIfAny();

  const tls: PrometheusTlsConfig = { ca_file: caFile, server_name: serverName };
  const consulToken: PrometheusAuthorization = { credentials_file: tokenFile };
  const sd = (services: readonly string[], tags?: readonly string[]): ConsulSdConfig[] => [
    {
      server: `${NOMAD_NODE_IP}:${CLUSTER_PORTS.consulHttps}`,
      scheme: "https",
      tls_config: tls,
      authorization: consulToken,
      ...(services.length > 0 ? { services: [...services] } : {}),
      ...(tags ? { tags: [...tags] } : {}),
    },
  ];
  const nomad = (jobName: string, service: string): ScrapeConfig => ({
    job_name: jobName,
    scheme: "https",
    metrics_path: "/v1/metrics",
    params: { format: ["prometheus"] },
    tls_config: tls,
    consul_sd_configs: sd([service], ["http"]),
    relabel_configs: [CONSUL_NODE_AS_INSTANCE],
  });
  return {
    global: { scrape_interval: interval, evaluation_interval: interval, external_labels: { datacenter: opts.datacenter } },
    rule_files: [...ruleFiles],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${opts.alertmanagerLocalPort}`] }] }] },
    scrape_configs: [
      nomad(Monitoring.JOB_NOMAD_SERVERS, "nomad"),
      nomad(Monitoring.JOB_NOMAD_CLIENTS, "nomad-client"),
      {
        job_name: Monitoring.JOB_CONSUL_SERVERS,
        scheme: "https",
        metrics_path: "/v1/agent/metrics",
        params: { format: ["prometheus"] },
        tls_config: tls,
        authorization: consulToken,
        consul_sd_configs: sd(["consul"]),
        relabel_configs: [
          // The `consul` service is registered on the server RPC port; the metrics are on HTTPS.
          { source_labels: ["__meta_consul_address"], regex: "(.+)", target_label: "__address__", replacement: `$1:${CLUSTER_PORTS.consulHttps}` },
          CONSUL_NODE_AS_INSTANCE,
        ],
      },
      {
        job_name: Monitoring.JOB_NODE_EXPORTER,
        scheme: "http",
        consul_sd_configs: sd(["node-exporter"]),
        relabel_configs: [CONSUL_NODE_AS_INSTANCE],
      },
      {
        job_name: Monitoring.JOB_APPS,
        scheme: "http",
        consul_sd_configs: sd([], ["metrics"]),
        relabel_configs: [
          { source_labels: ["__meta_consul_service_metadata_metrics_path"], regex: "(/.*)", target_label: "__metrics_path__", replacement: "$1" },
          { source_labels: ["__meta_consul_address", "__meta_consul_service_metadata_metrics_port"], separator: ";", regex: "(.+);([0-9]+)", target_label: "__address__", replacement: "$1:$2" },
          { source_labels: ["__meta_consul_service"], target_label: "service" },
          { source_labels: ["__meta_consul_node"], target_label: "node" },
        ],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Alert rules

/** Severity label of an alert, used by Alertmanager's routing. */
export enum AlertSeverity {
  CRITICAL = "critical",
  WARNING = "warning",
}

/** One alerting rule. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: AlertSeverity } & Readonly<Record<string, string>>;
  readonly annotations: { readonly summary: string; readonly description?: string };
}

/** A rule file, as Prometheus (and promtool) reads it. */
export interface AlertRules {
  readonly groups: readonly { readonly name: string; readonly rules: readonly AlertRule[] }[];
}

/**
 * The platform's alert rules, on the real metric names of node_exporter, Consul
 * (`consul_server_isLeader`, `consul_raft_leader_lastContact`) and Nomad
 * (`nomad_raft_leader_lastContact`, `nomad_nomad_job_summary_*`; Nomad's `job` label becomes
 * `exported_job` since Prometheus keeps `job` for the scrape job).
 */
export function alertRules(): AlertRules {
  const nodes = Monitoring.JOB_NODE_EXPORTER;
  return {
    groups: [
      {
        name: "nodes",
        rules: [
          {
            alert: "NodeDown",
            expr: `up{job="${nodes}"} == 0`,
            for: "2m",
            labels: { severity: AlertSeverity.CRITICAL },
            annotations: { summary: "Node {{ $labels.instance }} is down", description: "node_exporter on {{ $labels.instance }} has not answered for 2 minutes." },
          },
          {
            alert: "NodeDiskAlmostFull",
            expr: `node_filesystem_avail_bytes{job="${nodes}",fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{job="${nodes}",fstype!~"tmpfs|overlay|squashfs"} < 0.10`,
            for: "15m",
            labels: { severity: AlertSeverity.WARNING },
            annotations: { summary: "Disk {{ $labels.mountpoint }} of {{ $labels.instance }} is over 90% full" },
          },
        ],
      },
      {
        name: "consul",
        rules: [
          {
            alert: "ConsulNoLeader",
            expr: `max(consul_server_isLeader{job="${Monitoring.JOB_CONSUL_SERVERS}"}) < 1 or absent(consul_server_isLeader{job="${Monitoring.JOB_CONSUL_SERVERS}"})`,
            for: "1m",
            labels: { severity: AlertSeverity.CRITICAL },
            annotations: { summary: "Consul has no Raft leader", description: "No Consul server has reported being the leader for 1 minute: the catalog, KV and ACLs are read-only or unavailable." },
          },
          {
            alert: "ConsulRaftLeaderContactSlow",
            expr: `max(consul_raft_leader_lastContact{job="${Monitoring.JOB_CONSUL_SERVERS}",quantile="0.9"}) > 200`,
            for: "5m",
            labels: { severity: AlertSeverity.WARNING },
            annotations: { summary: "Consul's leader last contacted its followers {{ $value }} ms ago", description: "Above 200 ms (the autopilot threshold) the cluster is close to losing its leader." },
          },
        ],
      },
      {
        name: "nomad",
        rules: [
          {
            alert: "NomadNoLeader",
            // The leader samples lastContact for every follower at each lease check: the count
            // stops growing (or the series disappears) when there is no leader.
            expr: `sum(rate(nomad_raft_leader_lastContact_count{job="${Monitoring.JOB_NOMAD_SERVERS}"}[2m])) == 0 or absent(nomad_raft_leader_lastContact_count{job="${Monitoring.JOB_NOMAD_SERVERS}"})`,
            for: "1m",
            labels: { severity: AlertSeverity.CRITICAL },
            annotations: { summary: "Nomad has no Raft leader", description: "No Nomad server has acted as leader for 1 minute: nothing is scheduled." },
          },
          {
            alert: "NomadAllocationsFailing",
            expr: `sum by (exported_job, task_group) (delta(nomad_nomad_job_summary_failed{job="${Monitoring.JOB_NOMAD_SERVERS}"}[10m])) > 0`,
            labels: { severity: AlertSeverity.WARNING },
            annotations: { summary: "Allocations of {{ $labels.exported_job }}/{{ $labels.task_group }} failed in the last 10 minutes" },
          },
          {
            alert: "NomadAllocationsUnplaced",
            expr: `sum by (exported_job, task_group) (nomad_nomad_job_summary_queued{job="${Monitoring.JOB_NOMAD_SERVERS}"}) > 0`,
            for: "10m",
            labels: { severity: AlertSeverity.WARNING },
            annotations: { summary: "{{ $value }} allocations of {{ $labels.exported_job }}/{{ $labels.task_group }} cannot be placed" },
          },
          {
            alert: "NomadClientDown",
            expr: `up{job="${Monitoring.JOB_NOMAD_CLIENTS}"} == 0`,
            for: "2m",
            labels: { severity: AlertSeverity.CRITICAL },
            annotations: { summary: "Nomad client {{ $labels.instance }} is unreachable" },
          },
        ],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// alertmanager.yml

/** alertmanager.yml, as Alertmanager (and amtool) reads it (the subset the platform sets). */
export interface AlertmanagerConfig {
  readonly global: { readonly resolve_timeout: string };
  readonly route: {
    readonly receiver: string;
    readonly group_by: readonly string[];
    readonly group_wait: string;
    readonly group_interval: string;
    readonly repeat_interval: string;
  };
  readonly receivers: readonly {
    readonly name: string;
    readonly webhook_configs: readonly { readonly url: string; readonly send_resolved: boolean }[];
  }[];
}

/** Options of {@link alertmanagerConfig}. */
export interface AlertmanagerConfigOptions {
  /** The webhook every alert is posted to (it ends up in the job spec: not a secret). */
  readonly webhookUrl: string;
  /**
   * Labels alerts are grouped by into one notification.
   *
   * @default Monitoring.DEFAULT_GROUP_BY
   */
  readonly groupBy?: readonly string[];
  /**
   * How often a firing alert is notified again.
   *
   * @default Monitoring.DEFAULT_REPEAT_INTERVAL
   */
  readonly repeatInterval?: string;
}

/** One route to one webhook receiver, with resolved notifications. */
export function alertmanagerConfig(opts: AlertmanagerConfigOptions): AlertmanagerConfig {
  const groupBy = opts.groupBy ?? Monitoring.DEFAULT_GROUP_BY;
  const repeat = opts.repeatInterval ?? Monitoring.DEFAULT_REPEAT_INTERVAL;
  const p = new ProblemList("alertmanagerConfig");
  p.url("webhookUrl", opts.webhookUrl);
  if (!Array.isArray(groupBy) || groupBy.length === 0 || groupBy.some((l) => typeof l !== "string" || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l))) {
    p.add("groupBy", groupBy, "at least one Prometheus label name");
  }
  p.duration("repeatInterval", repeat, "mhd");
  p.throwIfAny();
  return {
    global: { resolve_timeout: "5m" },
    route: { receiver: Monitoring.RECEIVER, group_by: [...groupBy], group_wait: "30s", group_interval: "5m", repeat_interval: repeat },
    receivers: [{ name: Monitoring.RECEIVER, webhook_configs: [{ url: opts.webhookUrl, send_resolved: true }] }],
  };
}

// ---------------------------------------------------------------------------------------------
// Grafana provisioning

/** A provisioned Grafana datasource. */
export interface GrafanaDatasource {
  readonly name: string;
  readonly uid: string;
  readonly type: "prometheus" | "loki";
  readonly access: "proxy";
  readonly url: string;
  readonly isDefault: boolean;
  readonly editable: boolean;
  readonly jsonData?: Readonly<Record<string, string | number | boolean>>;
}

/** provisioning/datasources/*.yaml. */
export interface GrafanaDatasources {
  readonly apiVersion: 1;
  readonly datasources: readonly GrafanaDatasource[];
}

/** Options of {@link grafanaDatasources}. */
export interface GrafanaDatasourcesOptions {
  /** Port on 127.0.0.1 where Prometheus is reachable (Grafana's upstream). */
  readonly prometheusLocalPort: number;
  /** Port on 127.0.0.1 where Loki is reachable (Grafana's upstream). */
  readonly lokiLocalPort: number;
  /**
   * Prometheus' scrape interval (Grafana's smallest step).
   *
   * @default Monitoring.DEFAULT_SCRAPE_INTERVAL
   */
  readonly scrapeInterval?: string;
}

/** Prometheus (default) and Loki, both through Grafana's upstreams. */
export function grafanaDatasources(opts: GrafanaDatasourcesOptions): GrafanaDatasources {
  const p = new ProblemList("grafanaDatasources");
  p.port("prometheusLocalPort", opts.prometheusLocalPort);
  p.port("lokiLocalPort", opts.lokiLocalPort);
  if (opts.prometheusLocalPort === opts.lokiLocalPort) p.add("lokiLocalPort", opts.lokiLocalPort, "a port other than Prometheus' local port");
  const interval = opts.scrapeInterval ?? Monitoring.DEFAULT_SCRAPE_INTERVAL;
  p.duration("scrapeInterval", interval, "sm");
  p.throwIfAny();
  return {
    apiVersion: 1,
    datasources: [
      {
        name: "Prometheus",
        uid: Monitoring.PROMETHEUS_DATASOURCE_UID,
        type: "prometheus",
        access: "proxy",
        url: `http://127.0.0.1:${opts.prometheusLocalPort}`,
        isDefault: true,
        editable: false,
        jsonData: { timeInterval: interval },
      },
      { name: "Loki", uid: Monitoring.LOKI_DATASOURCE_UID, type: "loki", access: "proxy", url: `http://127.0.0.1:${opts.lokiLocalPort}`, isDefault: false, editable: false },
    ],
  };
}

/** provisioning/dashboards/*.yaml: where Grafana loads dashboard files from. */
export interface GrafanaDashboardProviders {
  readonly apiVersion: 1;
  readonly providers: readonly {
    readonly name: string;
    readonly orgId: number;
    readonly folder: string;
    readonly type: "file";
    readonly disableDeletion: boolean;
    readonly allowUiUpdates: boolean;
    readonly updateIntervalSeconds: number;
    readonly options: { readonly path: string };
  }[];
}

/** One file provider reading `dir` (the dashboards are code: not editable in the UI). */
export function grafanaDashboardProviders(dir: string = `/${Monitoring.GRAFANA_DASHBOARDS_DIR}`): GrafanaDashboardProviders {
  const p = new ProblemList("grafanaDashboardProviders");
  if (typeof dir !== "string" || !dir.startsWith("/")) p.add("dir", dir, "an absolute path in the task");
  p.throwIfAny();
  return {
    apiVersion: 1,
    providers: [{ name: "platform", orgId: 1, folder: "Platform", type: "file", disableDeletion: true, allowUiUpdates: false, updateIntervalSeconds: 60, options: { path: dir } }],
  };
}

/** A query of a panel. */
export interface GrafanaTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
}

/** A dashboard panel (time series, stat or logs). */
export interface GrafanaPanel {
  readonly id: number;
  readonly type: "timeseries" | "stat" | "logs";
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource: { readonly type: "prometheus" | "loki"; readonly uid: string };
  readonly targets: readonly GrafanaTarget[];
  readonly fieldConfig?: { readonly defaults: { readonly unit?: string; readonly min?: number; readonly max?: number }; readonly overrides: readonly never[] };
}

/** A template variable of a dashboard (a query over label values). */
export interface GrafanaVariable {
  readonly name: string;
  readonly label: string;
  readonly type: "query";
  readonly datasource: { readonly type: "prometheus"; readonly uid: string };
  readonly query: string;
  readonly includeAll: boolean;
  readonly multi: boolean;
  readonly refresh: 2;
}

/** A dashboard JSON model (the subset the platform sets). */
export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly timezone: "browser" | "utc";
  readonly schemaVersion: number;
  readonly version: number;
  readonly editable: boolean;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: { readonly list: readonly GrafanaVariable[] };
  readonly panels: readonly GrafanaPanel[];
}

function promPanel(id: number, title: string, pos: GrafanaPanel["gridPos"], targets: readonly GrafanaTarget[], unit: string, range?: { min: number; max: number }): GrafanaPanel {
  return {
    id,
    type: "timeseries",
    title,
    gridPos: pos,
    datasource: { type: "prometheus", uid: Monitoring.PROMETHEUS_DATASOURCE_UID },
    targets,
    fieldConfig: { defaults: { unit, ...(range ?? {}) }, overrides: [] },
  };
}

function dashboard(uid: string, title: string, variables: readonly GrafanaVariable[], panels: readonly GrafanaPanel[]): GrafanaDashboard {
  return {
    uid,
    title,
    tags: ["platform"],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: variables },
    panels,
  };
}

/** Node overview: CPU, memory and disk use of every client, from node_exporter. */
export function nodeOverviewDashboard(): GrafanaDashboard {
  const sel = `job="${Monitoring.JOB_NODE_EXPORTER}",instance=~"$instance"`;
  const fs = `${sel},fstype!~"tmpfs|overlay|squashfs"`;
  const percent = { min: 0, max: 100 };
  return dashboard(
    "platform-nodes",
    "Nodes",
    [
      {
        name: "instance",
        label: "Node",
        type: "query",
        datasource: { type: "prometheus", uid: Monitoring.PROMETHEUS_DATASOURCE_UID },
        query: `label_values(node_uname_info{job="${Monitoring.JOB_NODE_EXPORTER}"}, instance)`,
        includeAll: true,
        multi: true,
        refresh: 2,
      },
    ],
    [
      promPanel(1, "CPU used", { x: 0, y: 0, w: 12, h: 8 }, [{ refId: "A", expr: `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{${sel},mode="idle"}[$__rate_interval])))`, legendFormat: "{{instance}}" }], "percent", percent),
      promPanel(2, "Memory used", { x: 12, y: 0, w: 12, h: 8 }, [{ refId: "A", expr: `100 * (1 - node_memory_MemAvailable_bytes{${sel}} / node_memory_MemTotal_bytes{${sel}})`, legendFormat: "{{instance}}" }], "percent", percent),
      promPanel(3, "Disk used", { x: 0, y: 8, w: 12, h: 8 }, [{ refId: "A", expr: `100 * (1 - node_filesystem_avail_bytes{${fs}} / node_filesystem_size_bytes{${fs}})`, legendFormat: "{{instance}} {{mountpoint}}" }], "percent", percent),
      promPanel(4, "Load (1 min)", { x: 12, y: 8, w: 12, h: 8 }, [{ refId: "A", expr: `node_load1{${sel}}`, legendFormat: "{{instance}}" }], "short"),
    ],
  );
}

/** Jobs: running, failed and unplaced allocations per job, CPU per job, and the jobs' logs. */
export function jobsDashboard(): GrafanaDashboard {
  const servers = `job="${Monitoring.JOB_NOMAD_SERVERS}"`;
  return dashboard("platform-jobs", "Jobs", [], [
    promPanel(1, "Running allocations", { x: 0, y: 0, w: 12, h: 8 }, [{ refId: "A", expr: `sum by (exported_job) (nomad_nomad_job_summary_running{${servers}})`, legendFormat: "{{exported_job}}" }], "short"),
    promPanel(2, "Failed allocations (last hour)", { x: 12, y: 0, w: 12, h: 8 }, [{ refId: "A", expr: `sum by (exported_job) (delta(nomad_nomad_job_summary_failed{${servers}}[1h]))`, legendFormat: "{{exported_job}}" }], "short"),
    promPanel(3, "Unplaced allocations", { x: 0, y: 8, w: 12, h: 8 }, [{ refId: "A", expr: `sum by (exported_job) (nomad_nomad_job_summary_queued{${servers}})`, legendFormat: "{{exported_job}}" }], "short"),
    promPanel(4, "CPU per job", { x: 12, y: 8, w: 12, h: 8 }, [{ refId: "A", expr: `sum by (exported_job) (nomad_client_allocs_cpu_total_percent{job="${Monitoring.JOB_NOMAD_CLIENTS}"})`, legendFormat: "{{exported_job}}" }], "percent"),
    {
      id: 5,
      type: "logs",
      title: "Logs (stderr)",
      gridPos: { x: 0, y: 16, w: 24, h: 10 },
      datasource: { type: "loki", uid: Monitoring.LOKI_DATASOURCE_UID },
      targets: [{ refId: "A", expr: '{source="nomad", stream="stderr"}' }],
    },
  ]);
}

// ---------------------------------------------------------------------------------------------
// Workloads

/** Props of {@link monitoringWorkloads}. */
export interface MonitoringProps {
  /** Consul datacenter of the site (the `datacenter` label of every series). */
  readonly datacenter: string;
  /** Public domain of the site; Grafana is served at `grafana.<domain>` unless `grafana.host` is set. */
  readonly domain: string;
  /**
   * The cluster CA (PEM) that signed the Consul and Nomad HTTPS certificates
   * (`ConsulNomadCluster.ca`). Public data: rendered into Prometheus' task.
   */
  readonly caPem: string;
  /** Webhook every alert is posted to (in the job spec: not a secret). */
  readonly alertWebhookUrl: string;
  /**
   * Prometheus' image, version, size, retention and volume. One instance: its TSDB is a data
   * volume on one client, locked by the running Prometheus.
   *
   * @default - Monitoring.DEFAULT_PROMETHEUS_* values
   */
  readonly prometheus?: ComponentOptions & {
    /**
     * How long samples are kept.
     *
     * @default Monitoring.DEFAULT_PROMETHEUS_RETENTION
     */
    readonly retention?: string;
    /**
     * Nomad host volume holding the TSDB (declared by the clients).
     *
     * @default Monitoring.DEFAULT_PROMETHEUS_VOLUME
     */
    readonly volume?: string;
    /**
     * Scrape and rule evaluation interval.
     *
     * @default Monitoring.DEFAULT_SCRAPE_INTERVAL
     */
    readonly scrapeInterval?: string;
  };
  /**
   * Alertmanager's image, version and size. One instance: Alertmanager instances gossip with
   * each other, which Connect upstreams do not carry.
   *
   * @default - Monitoring.DEFAULT_ALERTMANAGER_* values
   */
  readonly alertmanager?: ComponentOptions;
  /**
   * Grafana's image, version, size, count and public host.
   *
   * @default - Monitoring.DEFAULT_GRAFANA_* values, served at grafana.<domain>
   */
  readonly grafana?: ComponentOptions & {
    /**
     * Instances (stateless: dashboards and datasources are provisioned, users live in the
     * instance's own database).
     *
     * @default Monitoring.DEFAULT_GRAFANA_COUNT
     */
    readonly count?: number;
    /**
     * Public host name of Grafana behind the ingress.
     *
     * @default - `grafana.<domain>`
     */
    readonly host?: string;
    /**
     * Consul KV key holding the admin password (set out of band; the task waits for it). It must
     * be under Grafana's settings prefix (`config/grafana/`), which its ACL policy can read.
     *
     * @default - Monitoring.GRAFANA_ADMIN_PASSWORD_KEY
     */
    readonly adminPasswordKey?: string;
  };
  /**
   * Node class the monitoring workloads run on.
   *
   * @default DEFAULT_NODE_CLASS
   */
  readonly nodeClass?: string;
}

/** Names, ports, paths and defaults of the monitoring workloads. */
export class Monitoring {
  /** Job and Consul service names. */
  static readonly PROMETHEUS = "prometheus";
  static readonly ALERTMANAGER = "alertmanager";
  static readonly GRAFANA = "grafana";

  static readonly DEFAULT_PROMETHEUS_IMAGE = "prom/prometheus";
  static readonly DEFAULT_PROMETHEUS_VERSION = "v3.5.0";
  static readonly DEFAULT_PROMETHEUS_RESOURCES: WorkloadResources = { cpuMhz: 500, memoryMb: 2048 };
  static readonly DEFAULT_PROMETHEUS_RETENTION = "15d";
  static readonly DEFAULT_PROMETHEUS_VOLUME = "prometheus-data";
  static readonly DEFAULT_SCRAPE_INTERVAL = "15s";
  static readonly PROMETHEUS_PORT = 9090;
  static readonly PROMETHEUS_DATA_DIR = "/prometheus";

  static readonly DEFAULT_ALERTMANAGER_IMAGE = "prom/alertmanager";
  static readonly DEFAULT_ALERTMANAGER_VERSION = "v0.28.1";
  static readonly DEFAULT_ALERTMANAGER_RESOURCES: WorkloadResources = { cpuMhz: 100, memoryMb: 128 };
  static readonly ALERTMANAGER_PORT = 9093;
  static readonly DEFAULT_GROUP_BY: readonly string[] = ["alertname", "datacenter"];
  static readonly DEFAULT_REPEAT_INTERVAL = "4h";
  static readonly RECEIVER = "webhook";

  static readonly DEFAULT_GRAFANA_IMAGE = "grafana/grafana";
  static readonly DEFAULT_GRAFANA_VERSION = "12.2.0";
  static readonly DEFAULT_GRAFANA_RESOURCES: WorkloadResources = { cpuMhz: 200, memoryMb: 256 };
  static readonly DEFAULT_GRAFANA_COUNT = 1;
  static readonly GRAFANA_PORT = 3000;
  static readonly GRAFANA_ADMIN_PASSWORD_KEY = `${settingsPrefix("grafana")}admin-password`;
  static readonly PROMETHEUS_DATASOURCE_UID = "prometheus";
  static readonly LOKI_DATASOURCE_UID = "loki";

  /** Local ports of the upstreams (127.0.0.1 inside the allocation). */
  static readonly PROMETHEUS_LOCAL_PORT = 19090;
  static readonly ALERTMANAGER_LOCAL_PORT = 19093;

  /** The cluster CA, rendered into the task. */
  static readonly CA_FILE = "/local/cluster-ca.pem";
  /** The Consul token Nomad writes for the task's `consul_default` workload identity. */
  static readonly CONSUL_TOKEN_FILE = "/secrets/consul_token";
  /** Name verified in the agents' certificates (every agent certificate carries it). */
  static readonly AGENT_TLS_SERVER_NAME = "localhost";

  /** Scrape job names (the `job` label). */
  static readonly JOB_NOMAD_SERVERS = "nomad-servers";
  static readonly JOB_NOMAD_CLIENTS = "nomad-clients";
  static readonly JOB_CONSUL_SERVERS = "consul-servers";
  static readonly JOB_NODE_EXPORTER = "node-exporter";
  static readonly JOB_APPS = "apps";

  /** Files rendered into the tasks (relative to the task directory). */
  static readonly PROMETHEUS_CONFIG_PATH = "local/prometheus.yml";
  static readonly RULES_PATH = "local/alert-rules.yml";
  static readonly CA_PATH = "local/cluster-ca.pem";
  static readonly ALERTMANAGER_CONFIG_PATH = "local/alertmanager.yml";
  static readonly GRAFANA_PROVISIONING_DIR = "local/provisioning";
  static readonly GRAFANA_DASHBOARDS_DIR = "local/dashboards";
  /** The admin password, read by Grafana through `GF_SECURITY_ADMIN_PASSWORD__FILE`. */
  static readonly GRAFANA_ADMIN_PASSWORD_PATH = "secrets/grafana-admin-password";
}

/** Prometheus' rendered files: its config (with the node IP action), its rules and the CA. */
export function prometheusFiles(opts: PrometheusConfigOptions & { readonly caPem: string }): WorkloadFile[] {
  const { caPem, ...configOpts } = opts;
  return [
    { destination: Monitoring.PROMETHEUS_CONFIG_PATH, content: nomadTemplate(renderYaml(prometheusConfig(configOpts)), [NOMAD_NODE_IP]), changeSignal: "SIGHUP" },
    { destination: Monitoring.RULES_PATH, content: nomadTemplate(renderYaml(alertRules())), changeSignal: "SIGHUP" },
    { destination: Monitoring.CA_PATH, content: Token.isUnresolved(caPem) || caPem === CLUSTER_CA_TEMPLATE ? caPem : nomadTemplate(caPem), secrets: caFileSecrets(caPem) },
  ];
}

/** Grafana's rendered files: datasources, dashboard provider, dashboards and the admin password. */
export function grafanaFiles(opts: GrafanaDatasourcesOptions & { readonly adminPasswordKey?: string }): WorkloadFile[] {
  const key = opts.adminPasswordKey ?? Monitoring.GRAFANA_ADMIN_PASSWORD_KEY;
  const p = new ProblemList("grafanaFiles");
  const prefix = settingsPrefix(Monitoring.GRAFANA);
  if (typeof key !== "string" || !key.startsWith(prefix) || !/^[a-z0-9/_.-]+$/.test(key) || key === prefix) {
    p.add("adminPasswordKey", key, `a Consul KV key under "${prefix}" (lower-case letters, digits, '/', '_', '.', '-'), which Grafana's policy can read`);
  }
  p.throwIfAny();
  const { adminPasswordKey: _unused, ...dsOpts } = opts;
  // consul-template: the key's value, as is (Grafana reads it from the file: no quoting).
  const passwordAction = `{{ key \`${key}\` }}`;
  return [
    { destination: `${Monitoring.GRAFANA_PROVISIONING_DIR}/datasources/platform.yaml`, content: nomadTemplate(renderYaml(grafanaDatasources(dsOpts))) },
    { destination: `${Monitoring.GRAFANA_PROVISIONING_DIR}/dashboards/platform.yaml`, content: nomadTemplate(renderYaml(grafanaDashboardProviders())) },
    { destination: `${Monitoring.GRAFANA_DASHBOARDS_DIR}/nodes.json`, content: nomadTemplate(JSON.stringify(nodeOverviewDashboard(), null, 2)) },
    { destination: `${Monitoring.GRAFANA_DASHBOARDS_DIR}/jobs.json`, content: nomadTemplate(JSON.stringify(jobsDashboard(), null, 2)) },
    { destination: Monitoring.GRAFANA_ADMIN_PASSWORD_PATH, content: passwordAction },
  ];
}

/**
 * The monitoring workloads: Prometheus (TSDB on a host volume, Consul service discovery, alerts to
 * Alertmanager through its upstream), Alertmanager, and Grafana (public, with Prometheus and Loki
 * through its upstreams). Grafana depends on Loki: deploy `loggingWorkloads()` beside these.
 */
export function monitoringWorkloads(props: MonitoringProps): WorkloadSpec[] {
  const prom = props.prometheus ?? {};
  const am = props.alertmanager ?? {};
  const gf = props.grafana ?? {};
  const nodeClass = props.nodeClass ?? DEFAULT_NODE_CLASS;
  const pr = {
    image: prom.image ?? Monitoring.DEFAULT_PROMETHEUS_IMAGE,
    version: prom.version ?? Monitoring.DEFAULT_PROMETHEUS_VERSION,
    resources: prom.resources ?? Monitoring.DEFAULT_PROMETHEUS_RESOURCES,
    retention: prom.retention ?? Monitoring.DEFAULT_PROMETHEUS_RETENTION,
    volume: prom.volume ?? Monitoring.DEFAULT_PROMETHEUS_VOLUME,
    scrapeInterval: prom.scrapeInterval ?? Monitoring.DEFAULT_SCRAPE_INTERVAL,
  };
  const a = {
    image: am.image ?? Monitoring.DEFAULT_ALERTMANAGER_IMAGE,
    version: am.version ?? Monitoring.DEFAULT_ALERTMANAGER_VERSION,
    resources: am.resources ?? Monitoring.DEFAULT_ALERTMANAGER_RESOURCES,
  };
  const g = {
    image: gf.image ?? Monitoring.DEFAULT_GRAFANA_IMAGE,
    version: gf.version ?? Monitoring.DEFAULT_GRAFANA_VERSION,
    resources: gf.resources ?? Monitoring.DEFAULT_GRAFANA_RESOURCES,
    count: gf.count ?? Monitoring.DEFAULT_GRAFANA_COUNT,
    host: gf.host ?? `grafana.${props.domain}`,
  };
  const p = new ProblemList("monitoringWorkloads");
  p.name("datacenter", props.datacenter, "a Consul datacenter name");
  p.hostName("domain", props.domain);
  if (gf.host !== undefined) p.hostName("grafana.host", gf.host);
  if (props.caPem !== CLUSTER_CA_TEMPLATE) p.pem("caPem", props.caPem);
  p.url("alertWebhookUrl", props.alertWebhookUrl);
  p.image("prometheus", pr.image, pr.version);
  p.resources("prometheus", pr.resources);
  p.duration("prometheus.retention", pr.retention, "hdwy");
  p.name("prometheus.volume", pr.volume, "a Nomad host volume name");
  p.image("alertmanager", a.image, a.version);
  p.resources("alertmanager", a.resources);
  p.image("grafana", g.image, g.version);
  p.resources("grafana", g.resources);
  p.count("grafana.count", g.count);
  p.name("nodeClass", nodeClass, "a Nomad node class");
  p.throwIfAny();

  const alertmanagerYaml = renderYaml(alertmanagerConfig({ webhookUrl: props.alertWebhookUrl }));
  return [
    {
      name: Monitoring.PROMETHEUS,
      description: "Prometheus: metrics of the Nomad and Consul agents, the nodes and every app with a metrics path; alert rules",
      image: pr.image,
      version: pr.version,
      resources: pr.resources,
      count: 1,
      port: { containerPort: Monitoring.PROMETHEUS_PORT, protocol: ServiceProtocol.HTTP, healthPath: "/-/healthy", metricsPath: "/metrics" },
      dependsOn: [{ service: Monitoring.ALERTMANAGER, localPort: Monitoring.ALERTMANAGER_LOCAL_PORT }],
      args: [
        `--config.file=/${Monitoring.PROMETHEUS_CONFIG_PATH}`,
        `--storage.tsdb.path=${Monitoring.PROMETHEUS_DATA_DIR}`,
        `--storage.tsdb.retention.time=${pr.retention}`,
        `--web.listen-address=:${Monitoring.PROMETHEUS_PORT}`,
      ],
      files: prometheusFiles({ alertmanagerLocalPort: Monitoring.ALERTMANAGER_LOCAL_PORT, datacenter: props.datacenter, scrapeInterval: pr.scrapeInterval, caPem: props.caPem }),
      volume: { source: pr.volume, mountPath: Monitoring.PROMETHEUS_DATA_DIR },
      consulAccess: "service-discovery",
      nodeClass,
    },
    {
      name: Monitoring.ALERTMANAGER,
      description: "Alertmanager: groups Prometheus' alerts and posts them to the webhook",
      image: a.image,
      version: a.version,
      resources: a.resources,
      count: 1,
      port: { containerPort: Monitoring.ALERTMANAGER_PORT, protocol: ServiceProtocol.HTTP, healthPath: "/-/healthy", metricsPath: "/metrics" },
      args: [
        `--config.file=/${Monitoring.ALERTMANAGER_CONFIG_PATH}`,
        // Notification log and silences: kept across task restarts, not across reschedules.
        "--storage.path=/alloc/data",
        `--web.listen-address=:${Monitoring.ALERTMANAGER_PORT}`,
        // One instance, no gossip.
        "--cluster.listen-address=",
      ],
      files: [{ destination: Monitoring.ALERTMANAGER_CONFIG_PATH, content: nomadTemplate(alertmanagerYaml), changeSignal: "SIGHUP" }],
      nodeClass,
    },
    {
      name: Monitoring.GRAFANA,
      description: "Grafana: dashboards of the nodes and jobs, with Prometheus and Loki as datasources",
      image: g.image,
      version: g.version,
      resources: g.resources,
      count: g.count,
      port: { containerPort: Monitoring.GRAFANA_PORT, protocol: ServiceProtocol.HTTP, healthPath: "/api/health", metricsPath: "/metrics", public: { host: g.host } },
      dependsOn: [
        { service: Monitoring.PROMETHEUS, localPort: Monitoring.PROMETHEUS_LOCAL_PORT },
        { service: Logging.LOKI, localPort: Logging.LOKI_LOCAL_PORT },
      ],
      env: {
        GF_PATHS_PROVISIONING: `/${Monitoring.GRAFANA_PROVISIONING_DIR}`,
        GF_SERVER_ROOT_URL: `https://${g.host}/`,
        GF_AUTH_ANONYMOUS_ENABLED: "false",
        GF_ANALYTICS_REPORTING_ENABLED: "false",
        GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
        GF_USERS_ALLOW_SIGN_UP: "false",
        GF_SECURITY_ADMIN_PASSWORD__FILE: `/${Monitoring.GRAFANA_ADMIN_PASSWORD_PATH}`,
      },
      files: grafanaFiles({ prometheusLocalPort: Monitoring.PROMETHEUS_LOCAL_PORT, lokiLocalPort: Logging.LOKI_LOCAL_PORT, scrapeInterval: pr.scrapeInterval, ...(gf.adminPasswordKey !== undefined ? { adminPasswordKey: gf.adminPasswordKey } : {}) }),
      nodeClass,
    },
  ];
}
