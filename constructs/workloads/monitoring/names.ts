/** The names, ports, paths and defaults the monitoring modules share. */
import { WorkloadResources } from "../logging";
import { settingsPrefix } from "../workload";

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
  /** The receiver of a site that routes no alerts: no notifier. */
  static readonly NO_RECEIVER = "none";

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
