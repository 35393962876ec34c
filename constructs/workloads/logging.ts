/**
 * Log aggregation for every job of the cluster: Loki (the log store, on a host volume) and a
 * collector on every client (Vector, a system job) that reads the Nomad allocation logs from the
 * host and ships them to Loki through its Connect upstream.
 *
 * The configs are typed objects rendered with the `yaml` package; the functions returning
 * `WorkloadSpec`s are plain data for the platform layer (jobs, intentions, ACLs).
 */
import { Token } from "cdktf";
import { PATHS } from "../../cloud-init/agents";
import { ServiceProtocol } from "../consul/mesh";
import { ANY_NODE_CLASS, DEFAULT_NODE_CLASS, WorkloadKind, WorkloadSpec } from "./spec";
import { ProblemsError } from "../problems";
import { nomadTemplate } from "../render/template";
import { renderYaml } from "../render/yaml";

/**
 * Collects problems as "`where` field value; expected ...".
 *
 * @internal
 */
export class ProblemList {
  private readonly items: string[] = [];
  constructor(private readonly where: string) {}

  add(field: string, value: unknown, expected: string): void {
    this.items.push(`${this.where}: ${field} ${JSON.stringify(value)}; expected ${expected}`);
  }

  /** Checks a container image reference (without tag) and its tag. */
  image(field: string, image: string, version: string): void {
    if (typeof image !== "string" || !/^[a-z0-9]+([._/-][a-z0-9]+)*$/.test(image)) this.add(`${field}.image`, image, "a container image name without tag, e.g. \"grafana/loki\"");
    if (typeof version !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(version)) this.add(`${field}.version`, version, "an image tag such as \"3.5.3\"");
  }

  resources(field: string, r: WorkloadResources): void {
    if (!Number.isInteger(r?.cpuMhz) || r.cpuMhz < 1) this.add(`${field}.resources.cpuMhz`, r?.cpuMhz, "a whole number of MHz >= 1");
    if (!Number.isInteger(r?.memoryMb) || r.memoryMb < 10) this.add(`${field}.resources.memoryMb`, r?.memoryMb, "a whole number of MB >= 10 (Nomad's minimum)");
  }

  count(field: string, count: number): void {
    if (!Number.isInteger(count) || count < 1) this.add(field, count, "a whole number >= 1");
  }

  port(field: string, port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535) this.add(field, port, "a TCP port between 1 and 65535");
  }

  name(field: string, value: string, what: string): void {
    if (typeof value !== "string" || !/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(value)) this.add(field, value, `${what}: lower-case letters, digits, '-', '_' or '.'`);
  }

  duration(field: string, value: string, units = "smhdwy"): void {
    if (typeof value !== "string" || !new RegExp(`^[1-9][0-9]*[${units}]$`).test(value)) this.add(field, value, `a duration such as "15s", "5m" or "15d" (units ${units.split("").join(", ")})`);
  }

  url(field: string, value: string): void {
    if (Token.isUnresolved(value)) return;
    let ok = false;
    try {
      const u = new URL(value);
      ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0;
    } catch {
      ok = false;
    }
    if (!ok) this.add(field, value, "an absolute http:// or https:// URL");
  }

  pem(field: string, value: string): void {
    if (Token.isUnresolved(value)) return;
    if (typeof value !== "string" || !/^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+\r?\n-----END CERTIFICATE-----\s*$/.test(value.trim() + "\n")) {
      this.add(field, typeof value === "string" && value.length > 40 ? `${value.slice(0, 40)}...` : value, "a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)");
    }
  }

  hostName(field: string, value: string): void {
    if (Token.isUnresolved(value)) return;
    if (typeof value !== "string" || !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/.test(value)) {
      this.add(field, value, "a lower-case DNS name with at least two labels, e.g. \"example.org\"");
    }
  }

  throwIfAny(): void {
    if (this.items.length > 0) throw new ProblemsError(this.items);
  }
}

/** CPU and memory asks of a task. */
export interface WorkloadResources {
  /** CPU in MHz. */
  readonly cpuMhz: number;
  /** Memory in MB (hard limit). */
  readonly memoryMb: number;
}

/** Image, version and size of one observability component. */
export interface ComponentOptions {
  /**
   * Container image without tag.
   *
   * @default - the component's `DEFAULT_*_IMAGE`
   */
  readonly image?: string;
  /**
   * Image tag (pinned).
   *
   * @default - the component's `DEFAULT_*_VERSION`
   */
  readonly version?: string;
  /**
   * CPU and memory asks.
   *
   * @default - the component's `DEFAULT_*_RESOURCES`
   */
  readonly resources?: WorkloadResources;
}

// ---------------------------------------------------------------------------------------------
// Loki config

/** loki.yaml, as Loki reads it (the subset the platform sets). */
export interface LokiConfig {
  readonly auth_enabled: boolean;
  readonly server: { readonly http_listen_port: number; readonly grpc_listen_port: number; readonly log_level: string };
  readonly common: {
    readonly instance_addr: string;
    readonly path_prefix: string;
    readonly replication_factor: number;
    readonly storage: { readonly filesystem: { readonly chunks_directory: string; readonly rules_directory: string } };
    readonly ring: { readonly kvstore: { readonly store: "inmemory" } };
  };
  readonly schema_config: {
    readonly configs: readonly {
      readonly from: string;
      readonly store: "tsdb";
      readonly object_store: "filesystem";
      readonly schema: "v13";
      readonly index: { readonly prefix: string; readonly period: string };
    }[];
  };
  readonly limits_config: { readonly retention_period: string; readonly allow_structured_metadata: boolean };
  readonly compactor: { readonly working_directory: string; readonly retention_enabled: boolean; readonly delete_request_store: "filesystem" };
  readonly analytics: { readonly reporting_enabled: boolean };
}

/** Options of {@link lokiConfig}. */
export interface LokiConfigOptions {
  /**
   * Where Loki keeps its chunks, index and compactor state (the host volume's mount path).
   *
   * @default Logging.LOKI_DATA_DIR
   */
  readonly dataDir?: string;
  /**
   * How long logs are kept, in hours (Loki deletes older chunks in its compactor).
   *
   * @default Logging.DEFAULT_LOKI_RETENTION
   */
  readonly retention?: string;
  /**
   * HTTP port Loki listens on inside its allocation.
   *
   * @default Logging.LOKI_PORT
   */
  readonly port?: number;
}

/** Single-binary Loki on a filesystem store (TSDB index, schema v13), with retention. */
export function lokiConfig(opts: LokiConfigOptions = {}): LokiConfig {
  const dataDir = opts.dataDir ?? Logging.LOKI_DATA_DIR;
  const retention = opts.retention ?? Logging.DEFAULT_LOKI_RETENTION;
  const port = opts.port ?? Logging.LOKI_PORT;
  const p = new ProblemList("lokiConfig");
  if (typeof dataDir !== "string" || !/^\/[^\s]*$/.test(dataDir)) p.add("dataDir", dataDir, "an absolute path without spaces");
  p.duration("retention", retention, "h");
  p.port("port", port);
  p.throwIfAny();
  return {
    auth_enabled: false,
    server: { http_listen_port: port, grpc_listen_port: Logging.LOKI_GRPC_PORT, log_level: "info" },
    common: {
      instance_addr: "127.0.0.1",
      path_prefix: dataDir,
      replication_factor: 1,
      storage: { filesystem: { chunks_directory: `${dataDir}/chunks`, rules_directory: `${dataDir}/rules` } },
      ring: { kvstore: { store: "inmemory" } },
    },
    schema_config: { configs: [{ from: Logging.LOKI_SCHEMA_FROM, store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }] },
    limits_config: { retention_period: retention, allow_structured_metadata: true },
    compactor: { working_directory: `${dataDir}/compactor`, retention_enabled: true, delete_request_store: "filesystem" },
    analytics: { reporting_enabled: false },
  };
}

// ---------------------------------------------------------------------------------------------
// Vector (collector) config

/** vector.yaml, as Vector reads it (the subset the platform sets). */
export interface VectorConfig {
  readonly data_dir: string;
  readonly api: { readonly enabled: boolean; readonly address: string };
  readonly sources: {
    readonly nomad_logs: {
      readonly type: "file";
      readonly include: readonly string[];
      readonly exclude: readonly string[];
      readonly ignore_older_secs: number;
      readonly read_from: "beginning" | "end";
    };
  };
  readonly transforms: {
    readonly nomad_fields: { readonly type: "remap"; readonly inputs: readonly string[]; readonly source: string };
  };
  readonly sinks: {
    readonly loki: {
      readonly type: "loki";
      readonly inputs: readonly string[];
      readonly endpoint: string;
      readonly encoding: { readonly codec: "text" };
      readonly labels: Readonly<Record<string, string>>;
      readonly structured_metadata: Readonly<Record<string, string>>;
      readonly out_of_order_action: "accept";
    };
  };
}

/** Options of {@link vectorConfig}. */
export interface VectorConfigOptions {
  /** Port on 127.0.0.1 where Loki is reachable (the collector's Connect upstream). */
  readonly lokiLocalPort: number;
  /**
   * Where the clients' allocation directory is mounted in the collector.
   *
   * @default Logging.ALLOC_LOGS_MOUNT
   */
  readonly allocMount?: string;
  /**
   * Task whose logs are not shipped (the collector itself, to avoid a feedback loop).
   *
   * @default Logging.COLLECTOR
   */
  readonly selfTask?: string;
  /**
   * Files not written for this long are not read (bounds the re-reading of old logs when the
   * collector's allocation is replaced and its checkpoints are gone).
   *
   * @default Logging.DEFAULT_IGNORE_OLDER_SECS
   */
  readonly ignoreOlderSecs?: number;
  /**
   * HTTP port of Vector's API (health endpoint) inside the allocation.
   *
   * @default Logging.COLLECTOR_PORT
   */
  readonly apiPort?: number;
}

/**
 * The VRL program that turns a Nomad log file path into fields:
 * `<alloc dir>/<alloc id>/alloc/logs/<task>.<stdout|stderr>.<n>`.
 */
function nomadFieldsProgram(allocMount: string): string {
  const escaped = allocMount.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
  return [
    `parts, err = parse_regex(.file, r'^${escaped}/(?P<alloc_id>[^/]+)/alloc/logs/\\.?(?P<task>.+)\\.(?P<stream>stdout|stderr)\\.[0-9]+$')`,
    "if err == null {",
    "  .alloc_id = parts.alloc_id",
    "  .task = parts.task",
    "  .stream = parts.stream",
    "} else {",
    '  .alloc_id = "unknown"',
    '  .task = "unknown"',
    '  .stream = "unknown"',
    "}",
    '.node = get_env_var("NOMAD_NODE_NAME") ?? "unknown"',
    "",
  ].join("\n");
}

/**
 * Vector: tails every allocation's stdout/stderr files on the client, labels them with the task,
 * the stream and the node (the allocation ID goes in structured metadata: it would make too many
 * streams as a label) and pushes them to Loki through the upstream.
 */
export function vectorConfig(opts: VectorConfigOptions): VectorConfig {
  const allocMount = opts.allocMount ?? Logging.ALLOC_LOGS_MOUNT;
  const selfTask = opts.selfTask ?? Logging.COLLECTOR;
  const ignoreOlderSecs = opts.ignoreOlderSecs ?? Logging.DEFAULT_IGNORE_OLDER_SECS;
  const apiPort = opts.apiPort ?? Logging.COLLECTOR_PORT;
  const p = new ProblemList("vectorConfig");
  p.port("lokiLocalPort", opts.lokiLocalPort);
  p.port("apiPort", apiPort);
  if (typeof allocMount !== "string" || !/^\/[A-Za-z0-9_./-]*[A-Za-z0-9_-]$/.test(allocMount)) p.add("allocMount", allocMount, "an absolute path of letters, digits, '_', '-', '.' and '/', not ending with '/'");
  p.name("selfTask", selfTask, "a task name");
  if (!Number.isInteger(ignoreOlderSecs) || ignoreOlderSecs < 60) p.add("ignoreOlderSecs", ignoreOlderSecs, "a whole number of seconds >= 60");
  if (opts.lokiLocalPort === apiPort) p.add("lokiLocalPort", opts.lokiLocalPort, `a port other than the API port ${apiPort}`);
  p.throwIfAny();
  const logs = `${allocMount}/*/alloc/logs`;
  return {
    // The allocation's shared data directory: checkpoints survive task restarts.
    data_dir: "/alloc/data",
    api: { enabled: true, address: `0.0.0.0:${apiPort}` },
    sources: {
      nomad_logs: {
        type: "file",
        include: [`${logs}/*.stdout.*`, `${logs}/*.stderr.*`],
        exclude: [`${logs}/*.fifo`, `${logs}/${selfTask}.stdout.*`, `${logs}/${selfTask}.stderr.*`],
        ignore_older_secs: ignoreOlderSecs,
        read_from: "beginning",
      },
    },
    transforms: { nomad_fields: { type: "remap", inputs: ["nomad_logs"], source: nomadFieldsProgram(allocMount) } },
    sinks: {
      loki: {
        type: "loki",
        inputs: ["nomad_fields"],
        endpoint: `http://127.0.0.1:${opts.lokiLocalPort}`,
        encoding: { codec: "text" },
        labels: { source: "nomad", task: "{{ task }}", stream: "{{ stream }}", node: "{{ node }}" },
        structured_metadata: { alloc_id: "{{ alloc_id }}" },
        out_of_order_action: "accept",
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Workloads

/** Props of {@link loggingWorkloads}. */
export interface LoggingProps {
  /**
   * Loki's image, version and size.
   *
   * @default - Logging.DEFAULT_LOKI_IMAGE, DEFAULT_LOKI_VERSION, DEFAULT_LOKI_RESOURCES
   */
  readonly loki?: ComponentOptions & {
    /**
     * Nomad host volume holding Loki's data (declared by the clients).
     *
     * @default Logging.DEFAULT_LOKI_VOLUME
     */
    readonly volume?: string;
    /**
     * How long logs are kept, in hours.
     *
     * @default Logging.DEFAULT_LOKI_RETENTION
     */
    readonly retention?: string;
  };
  /**
   * The collector's (Vector's) image, version and size.
   *
   * @default - Logging.DEFAULT_COLLECTOR_IMAGE, DEFAULT_COLLECTOR_VERSION, DEFAULT_COLLECTOR_RESOURCES
   */
  readonly collector?: ComponentOptions & {
    /**
     * Nomad host volume of the clients that exposes their allocation directory
     * (`Logging.ALLOC_DIR`, read by the collector).
     *
     * @default Logging.DEFAULT_ALLOC_LOGS_VOLUME
     */
    readonly allocLogsVolume?: string;
    /**
     * Node class of the clients whose logs are collected.
     *
     * @default DEFAULT_NODE_CLASS
     */
    readonly nodeClass?: string;
  };
  /**
   * Node class Loki runs on.
   *
   * @default DEFAULT_NODE_CLASS
   */
  readonly nodeClass?: string;
}

/** Names, ports, paths and defaults of the logging workloads. */
export class Logging {
  /** Job and Consul service name of Loki. */
  static readonly LOKI = "loki";
  /** Job and Consul service name of the collector. */
  static readonly COLLECTOR = "log-collector";

  static readonly DEFAULT_LOKI_IMAGE = "grafana/loki";
  static readonly DEFAULT_LOKI_VERSION = "3.5.3";
  static readonly DEFAULT_LOKI_RESOURCES: WorkloadResources = { cpuMhz: 500, memoryMb: 1024 };
  static readonly DEFAULT_LOKI_VOLUME = "loki-data";
  /** 31 days. */
  static readonly DEFAULT_LOKI_RETENTION = "744h";
  static readonly LOKI_PORT = 3100;
  static readonly LOKI_GRPC_PORT = 9096;
  /** Mount path of Loki's host volume. */
  static readonly LOKI_DATA_DIR = "/loki";
  /** First day of the schema (never change it for an existing store: add a new period). */
  static readonly LOKI_SCHEMA_FROM = "2024-01-01";

  static readonly DEFAULT_COLLECTOR_IMAGE = "timberio/vector";
  static readonly DEFAULT_COLLECTOR_VERSION = "0.46.1-debian";
  static readonly DEFAULT_COLLECTOR_RESOURCES: WorkloadResources = { cpuMhz: 200, memoryMb: 256 };
  /** Vector's API (health endpoint). */
  static readonly COLLECTOR_PORT = 8686;
  /** The Nomad host volume the clients declare for their allocation directory. */
  static readonly DEFAULT_ALLOC_LOGS_VOLUME = "nomad-alloc-logs";
  /** The clients' allocation directory (`<data_dir>/alloc`), the host path of that volume. */
  static readonly ALLOC_DIR = `${PATHS.nomadDataDir}/alloc`;
  /** Where the allocation directory is mounted in the collector. */
  static readonly ALLOC_LOGS_MOUNT = "/nomad-alloc";
  static readonly DEFAULT_IGNORE_OLDER_SECS = 3600;

  /** Local port of the Loki upstream, in the collector and in Grafana. */
  static readonly LOKI_LOCAL_PORT = 13100;

  /** Files rendered into the tasks. */
  static readonly LOKI_CONFIG_FILE = "local/loki.yaml";
  static readonly COLLECTOR_CONFIG_FILE = "local/vector.yaml";
}

/** The logging workloads: Loki and the collector on every client of the node class. */
export function loggingWorkloads(props: LoggingProps = {}): WorkloadSpec[] {
  const loki = props.loki ?? {};
  const collector = props.collector ?? {};
  const l = {
    image: loki.image ?? Logging.DEFAULT_LOKI_IMAGE,
    version: loki.version ?? Logging.DEFAULT_LOKI_VERSION,
    resources: loki.resources ?? Logging.DEFAULT_LOKI_RESOURCES,
    volume: loki.volume ?? Logging.DEFAULT_LOKI_VOLUME,
    retention: loki.retention ?? Logging.DEFAULT_LOKI_RETENTION,
  };
  const c = {
    image: collector.image ?? Logging.DEFAULT_COLLECTOR_IMAGE,
    version: collector.version ?? Logging.DEFAULT_COLLECTOR_VERSION,
    resources: collector.resources ?? Logging.DEFAULT_COLLECTOR_RESOURCES,
    volume: collector.allocLogsVolume ?? Logging.DEFAULT_ALLOC_LOGS_VOLUME,
    // Every client's allocations log, whatever its class (the ingress' too).
    nodeClass: collector.nodeClass ?? ANY_NODE_CLASS,
  };
  const nodeClass = props.nodeClass ?? DEFAULT_NODE_CLASS;
  const p = new ProblemList("loggingWorkloads");
  p.image("loki", l.image, l.version);
  p.resources("loki", l.resources);
  p.name("loki.volume", l.volume, "a Nomad host volume name");
  p.duration("loki.retention", l.retention, "h");
  p.image("collector", c.image, c.version);
  p.resources("collector", c.resources);
  p.name("collector.allocLogsVolume", c.volume, "a Nomad host volume name");
  if (c.nodeClass !== ANY_NODE_CLASS) p.name("collector.nodeClass", c.nodeClass, "a Nomad node class (or ANY_NODE_CLASS)");
  p.name("nodeClass", nodeClass, "a Nomad node class");
  if (l.volume === c.volume) p.add("collector.allocLogsVolume", c.volume, `a host volume other than Loki's data volume "${l.volume}"`);
  p.throwIfAny();
  const lokiYaml = renderYaml(lokiConfig({ retention: l.retention }));
  const vectorYaml = renderYaml(vectorConfig({ lokiLocalPort: Logging.LOKI_LOCAL_PORT }));
  return [
    {
      name: Logging.LOKI,
      description: "Loki: the log store of every job's logs (single binary, filesystem store on a host volume)",
      image: l.image,
      version: l.version,
      resources: l.resources,
      count: 1,
      port: { containerPort: Logging.LOKI_PORT, protocol: ServiceProtocol.HTTP, healthPath: "/ready", metricsPath: "/metrics" },
      args: [`-config.file=/${Logging.LOKI_CONFIG_FILE}`],
      files: [{ destination: Logging.LOKI_CONFIG_FILE, content: nomadTemplate(lokiYaml) }],
      volume: { source: l.volume, mountPath: Logging.LOKI_DATA_DIR },
      nodeClass,
    },
    {
      name: Logging.COLLECTOR,
      description: "Vector on every client: ships the Nomad allocation logs to Loki",
      image: c.image,
      version: c.version,
      resources: c.resources,
      kind: WorkloadKind.SYSTEM,
      port: { containerPort: Logging.COLLECTOR_PORT, protocol: ServiceProtocol.HTTP, healthPath: "/health" },
      dependsOn: [{ service: Logging.LOKI, localPort: Logging.LOKI_LOCAL_PORT }],
      args: ["--config", `/${Logging.COLLECTOR_CONFIG_FILE}`],
      env: { NOMAD_NODE_NAME: "${node.unique.name}" },
      files: [{ destination: Logging.COLLECTOR_CONFIG_FILE, content: nomadTemplate(vectorYaml), changeSignal: "SIGHUP" }],
      // Every client of the class exposes its allocation directory under this name (read-only here).
      volume: { source: c.volume, mountPath: Logging.ALLOC_LOGS_MOUNT, readOnly: true, hostPath: Logging.ALLOC_DIR },
      nodeClass: c.nodeClass,
    },
  ];
}
