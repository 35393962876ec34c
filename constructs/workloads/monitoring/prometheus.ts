/** Prometheus' configuration (Consul service discovery of the agents, node_exporter and the apps) and its alert rules, as typed objects. */
import { NOMAD_NODE_IP } from "../../render";
import { Monitoring } from "./names";
import { CLUSTER_PORTS } from "../../../cloud-init/agents";
import { ProblemList } from "../logging";

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
