/** Grafana's provisioning: datasources, the dashboard provider and the dashboards, as typed objects. */
import { Monitoring } from "./names";
import { ProblemList } from "../logging";

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
