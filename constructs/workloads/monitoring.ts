/**
 * Monitoring of the platform: Prometheus (Consul service discovery of the Nomad and Consul
 * agents, node_exporter and every app registered with the `metrics` tag), its alert rules,
 * Alertmanager (a webhook receiver) and Grafana (provisioned datasources and dashboards), as
 * `WorkloadSpec`s. Every config is a typed object rendered with the `yaml` package or
 * `JSON.stringify`; workloads reach each other only through their Connect upstreams.
 */
import { NOMAD_NODE_IP, nomadTemplate, renderYaml } from "../render";
import { Token } from "cdktf";
import { ServiceProtocol } from "../consul/mesh";
import { caFileSecrets, CLUSTER_CA_TEMPLATE, DEFAULT_NODE_CLASS, Secret, WorkloadFile, WorkloadSpec } from "./spec";
import { settingsPrefix } from "./workload";
import { ComponentOptions, Logging, ProblemList } from "./logging";
import { PrometheusConfigOptions, alertRules, prometheusConfig } from "./monitoring/prometheus";
import { alertmanagerConfig } from "./monitoring/alertmanager";
import { GrafanaDatasourcesOptions, grafanaDashboardProviders, grafanaDatasources, jobsDashboard, nodeOverviewDashboard } from "./monitoring/grafana";
import { Monitoring } from "./monitoring/names";

export * from "./monitoring/names";
export * from "./monitoring/prometheus";
export * from "./monitoring/alertmanager";
export * from "./monitoring/grafana";

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
  /**
   * Webhook every alert is posted to (in the job spec: not a secret).
   *
   * @default - alerts are not routed: Alertmanager keeps them (its receiver posts nowhere) and
   * Prometheus' ALERTS series shows them in Grafana
   */
  readonly alertWebhookUrl?: string;
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
  if (props.alertWebhookUrl !== undefined) p.url("alertWebhookUrl", props.alertWebhookUrl);
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

  const alertmanagerYaml = renderYaml(alertmanagerConfig(props.alertWebhookUrl !== undefined ? { webhookUrl: props.alertWebhookUrl } : {}));
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
      description: props.alertWebhookUrl !== undefined ? "Alertmanager: groups Prometheus' alerts and posts them to the webhook" : "Alertmanager: groups Prometheus' alerts (no webhook: posted nowhere)",
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
      // The admin password the file above reads from Consul KV: generated, written by the platform stack.
      kvSecrets: [{ path: gf.adminPasswordKey ?? Monitoring.GRAFANA_ADMIN_PASSWORD_KEY, key: "admin_password", source: Secret.generated(Monitoring.GRAFANA) }],
      nodeClass,
    },
  ];
}
