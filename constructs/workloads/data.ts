/**
 * The data services of the platform, each declared as a {@link WorkloadSpec}: PostgreSQL, InfluxDB
 * 2, MinIO (S3), MariaDB and RabbitMQ. Every one keeps its data on a Nomad host volume named after
 * the service and reads its credentials from a Nomad variable through a template, never from the
 * spec itself.
 *
 * Also here, because every workload module uses them: the rendering of Nomad templates that read
 * Nomad variables ({@link secretEnvFile}, {@link secretFile}) and the listing of the variables the
 * specs read ({@link nomadVariablesFor}), so that the platform stack can create them.
 *
 * Why one instance: a data volume is a folder on the data disk of one client (hosts.ts assigns it
 * to one client of the node class), so the scheduler only places the service there. A second
 * instance could not be placed, and on another client it would only be a diverging, empty copy
 * (none of these servers is configured for replication here): each data service is a single
 * writer, count 1. A lost client means a restore from backup (backups.ts), not a silent start on an
 * empty folder elsewhere.
 *
 * TCP services (PostgreSQL, MariaDB, RabbitMQ) are checked by a command in the task (the image's
 * own probe), since in the mesh their port listens on the allocation's loopback only.
 */
import { ServiceProtocol } from "../consul/mesh";
import { describeValue } from "../nomad/internal";
import { DataServiceKind, DEFAULT_NODE_CLASS, Secret, SecretItem, SecretSource, WorkloadFile, WorkloadSpec } from "./spec";
import { ProblemsError } from "../problems";

// ---------------------------------------------------------------------------------------------
// Nomad variables read by templates

/** The Nomad variable a workload's tasks may read without an extra ACL policy (`nomad/jobs/<job>`). */
export function jobVariablePath(workload: string): string {
  return `nomad/jobs/${workload}`;
}

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const VARIABLE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VARIABLE_PATH = /^[A-Za-z0-9_.\-/]+$/;

function checkVariable(where: string, path: string, keys: readonly string[], problems: string[]): void {
  if (!VARIABLE_PATH.test(path) || path.startsWith("/") || path.endsWith("/") || path.includes("//")) {
    problems.push(`${where}: path: received ${describeValue(path)}; expected a Nomad variable path such as "nomad/jobs/postgres"`);
  }
  for (const key of keys) {
    if (!VARIABLE_KEY.test(key)) problems.push(`${where}: key: received ${describeValue(key)}; expected letters, digits and underscores, not starting with a digit (a template field name)`);
  }
}

/** Props of {@link secretEnvFile}. */
export interface SecretEnvFileProps {
  /** Path of the rendered file in the task. @default "secrets/<variable's last path segment>.env" */
  readonly destination?: string;
  /** Nomad variable read, e.g. `nomad/jobs/postgres`. */
  readonly path: string;
  /** Environment variable name → key of the Nomad variable and its source, e.g. `{ POSTGRES_PASSWORD: { key: "postgres_password", source: Secret.generated("postgres") } }`. */
  readonly env: Readonly<Record<string, SecretItem>>;
}

/**
 * A Nomad template that exports keys of a Nomad variable as environment variables (`env: true`),
 * rendered in the task's secrets folder:
 *
 * ```
 * {{ with nomadVar "nomad/jobs/postgres" }}
 * POSTGRES_PASSWORD={{ .postgres_password }}
 * {{ end }}
 * ```
 *
 * The values are written unquoted: generate them without quotes, spaces or line breaks
 * (e.g. Terraform's `random_password` with `special = false`).
 */
export function secretEnvFile(props: SecretEnvFileProps): WorkloadFile {
  const problems: string[] = [];
  const entries = Object.entries(props.env);
  checkVariable("secret env file", props.path, entries.map(([, item]) => item.key), problems);
  if (entries.length === 0) problems.push(`secret env file of ${props.path}: env: received {}; expected at least one variable`);
  for (const [name] of entries) {
    if (!ENV_NAME.test(name)) problems.push(`secret env file of ${props.path}: env: received ${describeValue(name)}; expected an upper-case environment variable name`);
  }
  if (problems.length > 0) throw new ProblemsError(problems);
  const lines = [`{{ with nomadVar ${JSON.stringify(props.path)} }}`, ...entries.map(([name, item]) => `${name}={{ .${item.key} }}`), "{{ end }}", ""];
  return {
    destination: props.destination ?? `secrets/${props.path.split("/").pop()}.env`,
    content: lines.join("\n"),
    env: true,
    secrets: entries.map(([, item]) => ({ path: props.path, ...item })),
  };
}

/** Props of {@link secretFile}. */
export interface SecretFileProps {
  /** Path of the rendered file in the task, normally under `secrets/`. */
  readonly destination: string;
  /** Nomad variable read. */
  readonly path: string;
  /** Keys written one after the other, each followed by a line break (e.g. a certificate chain, then its key), with their sources. */
  readonly keys: readonly SecretItem[];
  /** Signal sent to the task when the file changes. @default - the task restarts */
  readonly changeSignal?: string;
}

/** A Nomad template writing keys of a Nomad variable to a file (PEM material, tokens). */
export function secretFile(props: SecretFileProps): WorkloadFile {
  const problems: string[] = [];
  checkVariable(`secret file ${props.destination}`, props.path, props.keys.map((k) => k.key), problems);
  if (props.keys.length === 0) problems.push(`secret file ${props.destination}: keys: received []; expected at least one key`);
  if (problems.length > 0) throw new ProblemsError(problems);
  const content = `{{ with nomadVar ${JSON.stringify(props.path)} }}${props.keys.map((k) => `{{ .${k.key} }}\n`).join("")}{{ end }}`;
  return { destination: props.destination, content, ...(props.changeSignal ? { changeSignal: props.changeSignal } : {}), secrets: props.keys.map((k) => ({ path: props.path, ...k })) };
}

/** A Nomad variable a workload reads, and the keys it reads from it. */
export interface NomadVariableNeed {
  /** The workload (job) whose templates read it. */
  readonly workload: string;
  /** Variable path, e.g. `nomad/jobs/postgres`. */
  readonly path: string;
  /** Keys read, sorted. */
  readonly keys: readonly string[];
  /** Where each key's value comes from. */
  readonly sources: Readonly<Record<string, SecretSource>>;
}

/**
 * The Nomad variables the workloads' templates read, from the secrets their files declare: one
 * entry per workload and path, sorted. The platform stack creates each of them with these keys.
 * A key declared with two sources is a problem (thrown, listing every one).
 */
export function nomadVariablesFor(specs: readonly WorkloadSpec[]): NomadVariableNeed[] {
  const out: NomadVariableNeed[] = [];
  const problems: string[] = [];
  for (const spec of specs) {
    const byPath = new Map<string, Map<string, SecretSource>>();
    for (const file of spec.files ?? []) {
      // A template that reads a variable it does not declare would render empty values at run time.
      const declared = new Set((file.secrets ?? []).map((r) => r.path));
      for (const m of file.content.matchAll(/nomadVar\s+"([^"]+)"/g)) {
        if (!declared.has(m[1])) problems.push(`workload ${spec.name}: file ${file.destination}: reads Nomad variable ${m[1]} but declares none of its keys; expected its keys and their sources in the file's secrets (secretEnvFile and secretFile declare them)`);
      }
      for (const ref of file.secrets ?? []) {
        const keys = byPath.get(ref.path) ?? new Map<string, SecretSource>();
        const seen = keys.get(ref.key);
        if (seen && JSON.stringify(seen) !== JSON.stringify(ref.source)) {
          problems.push(`workload ${spec.name}: secret ${ref.path}.${ref.key}: declared from ${JSON.stringify(seen)} and from ${JSON.stringify(ref.source)}; expected one source per key`);
        }
        keys.set(ref.key, ref.source);
        byPath.set(ref.path, keys);
      }
    }
    for (const [path, keys] of byPath) out.push({ workload: spec.name, path, keys: [...keys.keys()].sort(), sources: Object.fromEntries([...keys.entries()].sort(([a], [b]) => a.localeCompare(b))) });
  }
  if (problems.length > 0) throw new ProblemsError(problems);
  return out.sort((a, b) => a.workload.localeCompare(b.workload) || a.path.localeCompare(b.path));
}

// ---------------------------------------------------------------------------------------------
// Host volumes

/** Host volume names the workloads mount, sorted: the Nomad clients must declare them (see hosts.ts for which client). */
export function hostVolumesFor(specs: readonly WorkloadSpec[]): string[] {
  return [...new Set(specs.flatMap((s) => (s.volume ? [s.volume.source] : [])))].sort();
}

// ---------------------------------------------------------------------------------------------
// Data services

/** CPU and memory of a data service's task. */
export interface DataServiceResources {
  /** CPU shares in MHz. */
  readonly cpuMhz: number;
  /** Memory in MiB (a hard limit: the database is killed beyond it). */
  readonly memoryMb: number;
}

/** Props every data service takes. */
export interface DataServiceProps {
  /** Job id, Consul service name, host volume name and Nomad variable `nomad/jobs/<name>`. @default the service's default name (e.g. "postgres") */
  readonly name?: string;
  /** Container image without tag. @default the official image (e.g. "postgres") */
  readonly image?: string;
  /** Image tag, pinned. @default the class's DEFAULT_VERSION */
  readonly version?: string;
  /** @default the class's DEFAULT_RESOURCES */
  readonly resources?: DataServiceResources;
  /**
   * Instances. Only 1 is accepted: the data lives on a node-local host volume and the server is
   * not set up for replication, so a second instance would be a diverging copy on another client.
   *
   * @default 1
   */
  readonly count?: number;
  /** Node class of the clients that may run it (one of them declares the host volume). @default "production" */
  readonly nodeClass?: string;
}

/** What a data service is, for {@link dataServiceSpec}. @internal */
interface DataServiceDefinition {
  readonly kind: DataServiceKind;
  readonly description: string;
  readonly defaultName: string;
  readonly defaultImage: string;
  readonly defaultVersion: string;
  readonly defaultResources: DataServiceResources;
  readonly containerPort: number;
  readonly protocol: ServiceProtocol;
  readonly healthPath?: string;
  /** Probe run in the task, for TCP services. */
  readonly healthCommand?: readonly string[];
  readonly metricsPath?: string;
  readonly mountPath: string;
  /** Environment variable → key of the service's Nomad variable. */
  readonly secretEnv: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly command?: string;
  readonly args?: readonly string[];
}

/** The count every data service runs with (see the module comment: single writer on a local volume). */
export const DATA_SERVICE_COUNT = 1;

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const IMAGE = /^[a-z0-9]+([._\-/][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Problems of the common props. @internal */
export function dataServiceProblems(kind: string, props: DataServiceProps, defaults: { name: string; image: string; version: string; resources: DataServiceResources }): string[] {
  const problems: string[] = [];
  const name = props.name ?? defaults.name;
  const at = `${kind} "${name}"`;
  if (!NAME.test(name)) problems.push(`${at}: name: received ${describeValue(name)}; expected lower-case letters, digits and dashes, starting with a letter (at most 63)`);
  const image = props.image ?? defaults.image;
  if (!IMAGE.test(image)) problems.push(`${at}: image: received ${describeValue(image)}; expected an image reference without tag, such as "${defaults.image}"`);
  const version = props.version ?? defaults.version;
  if (!TAG.test(version) || version === "latest") problems.push(`${at}: version: received ${describeValue(version)}; expected a pinned image tag such as "${defaults.version}" (not "latest")`);
  const r = props.resources ?? defaults.resources;
  if (!Number.isInteger(r.cpuMhz) || r.cpuMhz < 1) problems.push(`${at}: resources.cpuMhz: received ${describeValue(r.cpuMhz)}; expected a whole number of MHz >= 1`);
  if (!Number.isInteger(r.memoryMb) || r.memoryMb < 10) problems.push(`${at}: resources.memoryMb: received ${describeValue(r.memoryMb)}; expected a whole number of MiB >= 10 (Nomad's minimum)`);
  if (props.count !== undefined && props.count !== DATA_SERVICE_COUNT) {
    problems.push(`${at}: count: received ${describeValue(props.count)}; expected 1 (a single writer on a node-local host volume: another instance would start on another client with an empty, diverging data folder)`);
  }
  if (props.nodeClass !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(props.nodeClass)) problems.push(`${at}: nodeClass: received ${describeValue(props.nodeClass)}; expected a Nomad node class such as "production"`);
  return problems;
}

function dataServiceSpec(def: DataServiceDefinition, props: DataServiceProps, extraProblems: readonly string[] = []): WorkloadSpec {
  const defaults = { name: def.defaultName, image: def.defaultImage, version: def.defaultVersion, resources: def.defaultResources };
  const problems = [...dataServiceProblems(def.kind, props, defaults), ...extraProblems];
  if (problems.length > 0) throw new ProblemsError(problems);
  const name = props.name ?? def.defaultName;
  return {
    name,
    description: def.description,
    image: props.image ?? def.defaultImage,
    version: props.version ?? def.defaultVersion,
    resources: { ...(props.resources ?? def.defaultResources) },
    count: DATA_SERVICE_COUNT,
    port: {
      containerPort: def.containerPort,
      protocol: def.protocol,
      ...(def.healthPath ? { healthPath: def.healthPath } : {}),
      ...(def.healthCommand ? { healthCommand: [...def.healthCommand] } : {}),
      ...(def.metricsPath ? { metricsPath: def.metricsPath } : {}),
    },
    ...(def.command ? { command: def.command } : {}),
    ...(def.args ? { args: [...def.args] } : {}),
    ...(def.env ? { env: { ...def.env } } : {}),
    files: [
      secretEnvFile({
        destination: `secrets/${def.defaultName}.env`,
        path: jobVariablePath(name),
        env: Object.fromEntries(Object.entries(def.secretEnv).map(([env, key]) => [env, { key, source: Secret.generated(name) }])),
      }),
    ],
    volume: { source: name, mountPath: def.mountPath },
    nodeClass: props.nodeClass ?? DEFAULT_NODE_CLASS,
    dataService: def.kind,
  };
}

function textProblem(at: string, field: string, value: string, pattern: RegExp, expected: string): string[] {
  return pattern.test(value) ? [] : [`${at}: ${field}: received ${describeValue(value)}; expected ${expected}`];
}

/** Props of {@link Postgres.spec}. */
export interface PostgresProps extends DataServiceProps {
  /** The superuser the image creates on first start. @default Postgres.DEFAULT_SUPERUSER ("postgres") */
  readonly superuser?: string;
}

/**
 * PostgreSQL (official image) on the host volume `postgres`, mounted at the image's data folder;
 * the cluster lives in a sub-folder (`PGDATA`) so that the volume's root may hold other files.
 * Reads `postgres_password` from `nomad/jobs/<name>`. Checked with `pg_isready` in the task.
 */
export class Postgres {
  static readonly DEFAULT_NAME = "postgres";
  static readonly DEFAULT_IMAGE = "postgres";
  static readonly DEFAULT_VERSION = "17.8";
  static readonly DEFAULT_RESOURCES: DataServiceResources = { cpuMhz: 500, memoryMb: 1024 };
  static readonly DEFAULT_SUPERUSER = "postgres";
  static readonly PORT = 5432;
  /** The image's data folder (`/var/lib/postgresql/data` up to PostgreSQL 17). */
  static readonly DATA_DIR = "/var/lib/postgresql/data";
  /** Key of the superuser's password in the Nomad variable. */
  static readonly PASSWORD_KEY = "postgres_password";

  static spec(props: PostgresProps = {}): WorkloadSpec {
    const superuser = props.superuser ?? Postgres.DEFAULT_SUPERUSER;
    return dataServiceSpec(
      {
        kind: DataServiceKind.POSTGRES,
        description: "PostgreSQL relational database (single writer on a host volume)",
        defaultName: Postgres.DEFAULT_NAME,
        defaultImage: Postgres.DEFAULT_IMAGE,
        defaultVersion: Postgres.DEFAULT_VERSION,
        defaultResources: Postgres.DEFAULT_RESOURCES,
        containerPort: Postgres.PORT,
        protocol: ServiceProtocol.TCP,
        healthCommand: ["pg_isready", "--host=127.0.0.1", `--port=${Postgres.PORT}`, `--username=${superuser}`, "--dbname=postgres"],
        mountPath: Postgres.DATA_DIR,
        env: { POSTGRES_USER: superuser, PGDATA: `${Postgres.DATA_DIR}/pgdata` },
        secretEnv: { POSTGRES_PASSWORD: Postgres.PASSWORD_KEY },
      },
      props,
      textProblem(`postgres "${props.name ?? Postgres.DEFAULT_NAME}"`, "superuser", superuser, /^[a-z_][a-z0-9_]{0,62}$/, "a PostgreSQL role name (lower-case letters, digits, underscores)"),
    );
  }
}

/** Props of {@link InfluxDb.spec}. */
export interface InfluxDbProps extends DataServiceProps {
  /** Admin user created on first start. @default InfluxDb.DEFAULT_ADMIN_USER ("admin") */
  readonly adminUser?: string;
  /** Organization created on first start. @default InfluxDb.DEFAULT_ORGANIZATION ("platform") */
  readonly organization?: string;
  /** Bucket created on first start. @default InfluxDb.DEFAULT_BUCKET ("telemetry") */
  readonly bucket?: string;
}

/**
 * InfluxDB 2 (official image) on the host volume `influxdb` at `/var/lib/influxdb2`; set up on first
 * start from `influxdb_admin_password` and `influxdb_admin_token` (the operator token the backups
 * use). HTTP check on `/health`; Prometheus metrics on `/metrics`.
 */
export class InfluxDb {
  static readonly DEFAULT_NAME = "influxdb";
  static readonly DEFAULT_IMAGE = "influxdb";
  static readonly DEFAULT_VERSION = "2.7.12";
  static readonly DEFAULT_RESOURCES: DataServiceResources = { cpuMhz: 500, memoryMb: 1024 };
  static readonly DEFAULT_ADMIN_USER = "admin";
  static readonly DEFAULT_ORGANIZATION = "platform";
  static readonly DEFAULT_BUCKET = "telemetry";
  static readonly PORT = 8086;
  static readonly DATA_DIR = "/var/lib/influxdb2";
  static readonly PASSWORD_KEY = "influxdb_admin_password";
  static readonly TOKEN_KEY = "influxdb_admin_token";

  static spec(props: InfluxDbProps = {}): WorkloadSpec {
    const at = `influxdb "${props.name ?? InfluxDb.DEFAULT_NAME}"`;
    const adminUser = props.adminUser ?? InfluxDb.DEFAULT_ADMIN_USER;
    const organization = props.organization ?? InfluxDb.DEFAULT_ORGANIZATION;
    const bucket = props.bucket ?? InfluxDb.DEFAULT_BUCKET;
    const simple = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
    return dataServiceSpec(
      {
        kind: DataServiceKind.INFLUXDB,
        description: "InfluxDB 2 time-series database (single writer on a host volume)",
        defaultName: InfluxDb.DEFAULT_NAME,
        defaultImage: InfluxDb.DEFAULT_IMAGE,
        defaultVersion: InfluxDb.DEFAULT_VERSION,
        defaultResources: InfluxDb.DEFAULT_RESOURCES,
        containerPort: InfluxDb.PORT,
        protocol: ServiceProtocol.HTTP,
        healthPath: "/health",
        metricsPath: "/metrics",
        mountPath: InfluxDb.DATA_DIR,
        env: {
          DOCKER_INFLUXDB_INIT_MODE: "setup",
          DOCKER_INFLUXDB_INIT_USERNAME: adminUser,
          DOCKER_INFLUXDB_INIT_ORG: organization,
          DOCKER_INFLUXDB_INIT_BUCKET: bucket,
        },
        secretEnv: { DOCKER_INFLUXDB_INIT_PASSWORD: InfluxDb.PASSWORD_KEY, DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: InfluxDb.TOKEN_KEY },
      },
      props,
      [
        ...textProblem(at, "adminUser", adminUser, simple, "a user name (letters, digits, '_', '.', '-')"),
        ...textProblem(at, "organization", organization, simple, "an organization name (letters, digits, '_', '.', '-')"),
        ...textProblem(at, "bucket", bucket, simple, "a bucket name (letters, digits, '_', '.', '-')"),
      ],
    );
  }
}

/** Props of {@link Minio.spec}. */
export interface MinioProps extends DataServiceProps {
  /** Root user name (not secret; its password is). @default Minio.DEFAULT_ROOT_USER ("admin") */
  readonly rootUser?: string;
}

/**
 * MinIO S3-compatible object storage on the host volume `minio` at `/data`; root password from
 * `minio_root_password`. HTTP check on `/minio/health/live`; metrics on `/minio/v2/metrics/cluster`
 * (public, reachable only through the mesh). MinIO stopped publishing community images after
 * September 2025: the default is the last release published on quay.io.
 */
export class Minio {
  static readonly DEFAULT_NAME = "minio";
  static readonly DEFAULT_IMAGE = "quay.io/minio/minio";
  static readonly DEFAULT_VERSION = "RELEASE.2025-09-07T16-13-09Z";
  static readonly DEFAULT_RESOURCES: DataServiceResources = { cpuMhz: 500, memoryMb: 1024 };
  static readonly DEFAULT_ROOT_USER = "admin";
  static readonly PORT = 9000;
  /** The web console's port (inside the allocation only). */
  static readonly CONSOLE_PORT = 9001;
  static readonly DATA_DIR = "/data";
  static readonly PASSWORD_KEY = "minio_root_password";

  static spec(props: MinioProps = {}): WorkloadSpec {
    const rootUser = props.rootUser ?? Minio.DEFAULT_ROOT_USER;
    return dataServiceSpec(
      {
        kind: DataServiceKind.MINIO,
        description: "MinIO S3-compatible object storage (single node, single drive, on a host volume)",
        defaultName: Minio.DEFAULT_NAME,
        defaultImage: Minio.DEFAULT_IMAGE,
        defaultVersion: Minio.DEFAULT_VERSION,
        defaultResources: Minio.DEFAULT_RESOURCES,
        containerPort: Minio.PORT,
        protocol: ServiceProtocol.HTTP,
        healthPath: "/minio/health/live",
        metricsPath: "/minio/v2/metrics/cluster",
        mountPath: Minio.DATA_DIR,
        command: "minio",
        args: ["server", Minio.DATA_DIR, "--address", `:${Minio.PORT}`, "--console-address", `:${Minio.CONSOLE_PORT}`],
        env: { MINIO_ROOT_USER: rootUser, MINIO_PROMETHEUS_AUTH_TYPE: "public" },
        secretEnv: { MINIO_ROOT_PASSWORD: Minio.PASSWORD_KEY },
      },
      props,
      textProblem(`minio "${props.name ?? Minio.DEFAULT_NAME}"`, "rootUser", rootUser, /^[A-Za-z0-9_.-]{3,64}$/, "3 to 64 letters, digits, '_', '.', '-' (MinIO needs at least 3)"),
    );
  }
}

/**
 * MariaDB (official image) on the host volume `mariadb` at `/var/lib/mysql`; root password from
 * `mariadb_root_password`; upgrades its system tables itself after a version change. Checked with
 * the image's `healthcheck.sh` (connection and InnoDB ready).
 */
export class MariaDb {
  static readonly DEFAULT_NAME = "mariadb";
  static readonly DEFAULT_IMAGE = "mariadb";
  static readonly DEFAULT_VERSION = "11.4.13";
  static readonly DEFAULT_RESOURCES: DataServiceResources = { cpuMhz: 500, memoryMb: 1024 };
  static readonly PORT = 3306;
  static readonly DATA_DIR = "/var/lib/mysql";
  static readonly PASSWORD_KEY = "mariadb_root_password";

  static spec(props: DataServiceProps = {}): WorkloadSpec {
    return dataServiceSpec(
      {
        kind: DataServiceKind.MARIADB,
        description: "MariaDB relational database (single writer on a host volume)",
        defaultName: MariaDb.DEFAULT_NAME,
        defaultImage: MariaDb.DEFAULT_IMAGE,
        defaultVersion: MariaDb.DEFAULT_VERSION,
        defaultResources: MariaDb.DEFAULT_RESOURCES,
        containerPort: MariaDb.PORT,
        protocol: ServiceProtocol.TCP,
        // The image's probe; its healthcheck user is created with the data folder.
        healthCommand: ["healthcheck.sh", "--connect", "--innodb_initialized"],
        mountPath: MariaDb.DATA_DIR,
        env: { MARIADB_AUTO_UPGRADE: "1" },
        secretEnv: { MARIADB_ROOT_PASSWORD: MariaDb.PASSWORD_KEY },
      },
      props,
    );
  }
}

/** Props of {@link RabbitMq.spec}. */
export interface RabbitMqProps extends DataServiceProps {
  /** The user created on first start, instead of `guest`. @default RabbitMq.DEFAULT_USER ("platform") */
  readonly user?: string;
}

/**
 * RabbitMQ (official image with the management plugin) on the host volume `rabbitmq` at
 * `/var/lib/rabbitmq`. The node name is fixed (`rabbit@localhost`): RabbitMQ keeps its data in a
 * folder named after the node, and the container's host name changes with every allocation. The
 * default user comes from `rabbitmq_password`, so no `guest` user exists (traffic arrives from the
 * sidecar on loopback, where `guest` would be accepted). Checked with `rabbitmq-diagnostics ping`
 * in the task (the management API's health endpoints need credentials). The service port is AMQP.
 */
export class RabbitMq {
  static readonly DEFAULT_NAME = "rabbitmq";
  static readonly DEFAULT_IMAGE = "rabbitmq";
  static readonly DEFAULT_VERSION = "4.1.4-management";
  static readonly DEFAULT_RESOURCES: DataServiceResources = { cpuMhz: 500, memoryMb: 1024 };
  static readonly DEFAULT_USER = "platform";
  static readonly PORT = 5672;
  static readonly NODE_NAME = "rabbit@localhost";
  static readonly DATA_DIR = "/var/lib/rabbitmq";
  static readonly PASSWORD_KEY = "rabbitmq_password";

  static spec(props: RabbitMqProps = {}): WorkloadSpec {
    const user = props.user ?? RabbitMq.DEFAULT_USER;
    return dataServiceSpec(
      {
        kind: DataServiceKind.RABBITMQ,
        description: "RabbitMQ message broker (single node on a host volume)",
        defaultName: RabbitMq.DEFAULT_NAME,
        defaultImage: RabbitMq.DEFAULT_IMAGE,
        defaultVersion: RabbitMq.DEFAULT_VERSION,
        defaultResources: RabbitMq.DEFAULT_RESOURCES,
        containerPort: RabbitMq.PORT,
        protocol: ServiceProtocol.TCP,
        healthCommand: ["rabbitmq-diagnostics", "-q", "ping"],
        mountPath: RabbitMq.DATA_DIR,
        env: { RABBITMQ_NODENAME: RabbitMq.NODE_NAME, RABBITMQ_DEFAULT_USER: user },
        secretEnv: { RABBITMQ_DEFAULT_PASS: RabbitMq.PASSWORD_KEY },
      },
      props,
      textProblem(`rabbitmq "${props.name ?? RabbitMq.DEFAULT_NAME}"`, "user", user, /^[A-Za-z0-9_.-]{1,64}$/, "a user name (letters, digits, '_', '.', '-')"),
    );
  }
}

/** Props of {@link dataServices}: each service's props, or `false` to leave it out. */
export interface DataServicesProps {
  /** @default - PostgreSQL with its defaults */
  readonly postgres?: PostgresProps | false;
  /** @default - InfluxDB with its defaults */
  readonly influxdb?: InfluxDbProps | false;
  /** @default - MinIO with its defaults */
  readonly minio?: MinioProps | false;
  /** @default - MariaDB with its defaults */
  readonly mariadb?: DataServiceProps | false;
  /** @default - RabbitMQ with its defaults */
  readonly rabbitmq?: RabbitMqProps | false;
}

/** The data services, in a fixed order (PostgreSQL, InfluxDB, MinIO, MariaDB, RabbitMQ). */
export function dataServices(props: DataServicesProps = {}): WorkloadSpec[] {
  const out: WorkloadSpec[] = [];
  if (props.postgres !== false) out.push(Postgres.spec(props.postgres ?? {}));
  if (props.influxdb !== false) out.push(InfluxDb.spec(props.influxdb ?? {}));
  if (props.minio !== false) out.push(Minio.spec(props.minio ?? {}));
  if (props.mariadb !== false) out.push(MariaDb.spec(props.mariadb ?? {}));
  if (props.rabbitmq !== false) out.push(RabbitMq.spec(props.rabbitmq ?? {}));
  return out;
}
