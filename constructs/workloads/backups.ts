/**
 * Periodic backups, declared as {@link WorkloadSpec}s: Consul and Nomad snapshots, PostgreSQL,
 * MariaDB and InfluxDB dumps, each uploaded to the OTHER site's S3-compatible object storage.
 *
 * Each backup is one batch task running one shell script (`local/backup.sh`), rendered from typed
 * steps ({@link ShellStep}): every word is quoted by the renderer, secrets never appear in the
 * script nor in a command line (they come from Nomad variables through templates: environment
 * variables read by the clients, a curl config file, a header file). Uploads are S3 `PUT`s signed
 * with AWS Signature V4 by curl (`--aws-sigv4`), path-style (`<endpoint>/<bucket>/<key>`), which
 * MinIO, Ceph RGW and OpenStack Swift's S3 API accept. Object keys:
 * `<prefix>/<job>/<UTC time stamp>/<file>`.
 *
 * Images: each backup's image needs `sh`, `curl` (>= 7.75) and its client. The Consul and Nomad
 * snapshots use `hashicorp/consul` (Alpine, with curl); Nomad's snapshot is taken through its HTTP
 * API (`GET /v1/operator/snapshot`, what `nomad operator snapshot save` calls), because the
 * official Nomad image is busybox-based without an S3-capable client. InfluxDB's official image
 * has both `influx` and curl. No official PostgreSQL or MariaDB image ships curl, so those
 * backups take their image as a required prop (e.g. one built `FROM postgres:17.8` with curl).
 */
import { describeValue, isUnresolved } from "../nomad/internal";
import { CLUSTER_PORTS } from "../../cloud-init/agents";
import { InfluxDb, jobVariablePath, MariaDb, Postgres, secretEnvFile } from "./data";
import { caFileSecrets, CLUSTER_CA_TEMPLATE, DEFAULT_NODE_CLASS, Dependency, Secret, WorkloadFile, WorkloadKind, WorkloadSpec } from "./spec";
import { ProblemsError } from "../problems";
import { renderShellScript, ShellStep, ShellVar } from "../render/shell";

// ---------------------------------------------------------------------------------------------
// Targets

/** A container image and its pinned tag. */
export interface ContainerImage {
  /** Image without tag, e.g. `hashicorp/consul`. */
  readonly image: string;
  /** Tag, e.g. `1.22.2`. */
  readonly version: string;
}

/** Where the backups go: the other site's S3-compatible object storage. */
export interface S3Destination {
  /** Endpoint URL, `https://` with host (and port), no path, e.g. `https://s3.backup.example.org`. */
  readonly endpoint: string;
  /** Bucket (created beforehand on the other site). */
  readonly bucket: string;
  /** Region used in the signature, e.g. `us-east-1` for MinIO, the OpenStack region for Swift's S3 API. */
  readonly region: string;
  /** Key prefix, e.g. the site's name. @default Backups.DEFAULT_PREFIX ("platform") */
  readonly prefix?: string;
}

/** What is backed up. */
export enum BackupSource {
  CONSUL = "consul",
  NOMAD = "nomad",
  POSTGRES = "postgres",
  MARIADB = "mariadb",
  INFLUXDB = "influxdb",
}

/** Props every backup target takes. */
export interface BackupTargetProps {
  /** Cron expression (UTC). @default Backups.DEFAULT_SCHEDULES[source] (nightly, staggered by 10 minutes) */
  readonly schedule?: string;
  /** @default Backups.DEFAULT_RESOURCES */
  readonly resources?: { readonly cpuMhz: number; readonly memoryMb: number };
}

/** Props of the targets with a default image. */
export interface ImageBackupProps extends BackupTargetProps {
  /** Image with `sh`, `curl` and the client. @default the source's default image (see Backups.DEFAULT_IMAGES) */
  readonly image?: ContainerImage;
}

/** Props of {@link BackupTarget.postgres}. */
export interface PostgresBackupProps extends BackupTargetProps {
  /** Image with `sh`, `curl` (>= 7.75) and `pg_dump`/`pg_dumpall` of the server's major version or newer. */
  readonly image: ContainerImage;
  /** Consul service of the database. @default Postgres.DEFAULT_NAME ("postgres") */
  readonly service?: string;
  /** Role the dump connects as. @default Postgres.DEFAULT_SUPERUSER */
  readonly user?: string;
  /** Databases dumped one by one (`pg_dump --format=custom`, plus the roles). @default - every database and the roles, in one `pg_dumpall` */
  readonly databases?: readonly string[];
  /** Local port of the upstream. @default BackupTarget.DEFAULT_LOCAL_PORTS.postgres (15432) */
  readonly localPort?: number;
}

/** Props of {@link BackupTarget.mariadb}. */
export interface MariaDbBackupProps extends BackupTargetProps {
  /** Image with `sh`, `curl` (>= 7.75) and `mariadb-dump`. */
  readonly image: ContainerImage;
  /** Consul service of the database. @default MariaDb.DEFAULT_NAME ("mariadb") */
  readonly service?: string;
  /** Local port of the upstream. @default BackupTarget.DEFAULT_LOCAL_PORTS.mariadb (13306) */
  readonly localPort?: number;
}

/** Props of {@link BackupTarget.influxdb}. */
export interface InfluxDbBackupProps extends ImageBackupProps {
  /** Consul service of the database. @default InfluxDb.DEFAULT_NAME ("influxdb") */
  readonly service?: string;
  /** Local port of the upstream. @default BackupTarget.DEFAULT_LOCAL_PORTS.influxdb (18086) */
  readonly localPort?: number;
}

/** One thing to back up; made with the static factories. */
export class BackupTarget {
  static readonly DEFAULT_LOCAL_PORTS = { postgres: 15432, mariadb: 13306, influxdb: 18086 } as const;

  /** A Consul snapshot (`consul snapshot save`, verified), with a token from `consul_snapshot_token`. */
  static consul(props: ImageBackupProps = {}): BackupTarget {
    return new BackupTarget(BackupSource.CONSUL, "consul", props, props.image);
  }

  /** A Nomad snapshot (`GET /v1/operator/snapshot`), with a management token from `nomad_snapshot_token`. */
  static nomad(props: ImageBackupProps = {}): BackupTarget {
    return new BackupTarget(BackupSource.NOMAD, "nomad", props, props.image);
  }

  /** A PostgreSQL dump through the backup's upstream to the database. */
  static postgres(props: PostgresBackupProps): BackupTarget {
    return new BackupTarget(BackupSource.POSTGRES, props.service ?? Postgres.DEFAULT_NAME, props, props.image, props.localPort ?? BackupTarget.DEFAULT_LOCAL_PORTS.postgres);
  }

  /** A MariaDB dump (`mariadb-dump --all-databases --single-transaction`) through the backup's upstream. */
  static mariadb(props: MariaDbBackupProps): BackupTarget {
    return new BackupTarget(BackupSource.MARIADB, props.service ?? MariaDb.DEFAULT_NAME, props, props.image, props.localPort ?? BackupTarget.DEFAULT_LOCAL_PORTS.mariadb);
  }

  /** An InfluxDB backup (`influx backup`, with the operator token) through the backup's upstream. */
  static influxdb(props: InfluxDbBackupProps = {}): BackupTarget {
    return new BackupTarget(BackupSource.INFLUXDB, props.service ?? InfluxDb.DEFAULT_NAME, props, props.image, props.localPort ?? BackupTarget.DEFAULT_LOCAL_PORTS.influxdb);
  }

  private constructor(
    readonly source: BackupSource,
    /** The Consul service (databases) or the agent (consul, nomad) backed up; the job is `backup-<subject>`. */
    readonly subject: string,
    readonly props: BackupTargetProps & { readonly user?: string; readonly databases?: readonly string[] },
    readonly image: ContainerImage | undefined,
    readonly localPort?: number,
  ) {}

  /** The backup's job id. */
  get jobName(): string {
    return `${Backups.JOB_PREFIX}${this.subject}`;
  }
}

/** Props of {@link Backups.specs}. */
export interface BackupsProps {
  readonly destination: S3Destination;
  readonly targets: readonly BackupTarget[];
  /**
   * The cluster's CA certificate (PEM), to verify the agents' HTTPS APIs (Consul and Nomad
   * snapshots). Not secret; written to `local/ca.pem`.
   *
   * @default - required when a Consul or Nomad target is given
   */
  readonly clusterCaPem?: string;
  /** Node class the backups run on. @default "production" */
  readonly nodeClass?: string;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const IMAGE = /^[a-z0-9]+([._\-/][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const CRON_FIELD = /^[0-9A-Za-z*?,/#LW-]+$/;

/** True for a cron expression Nomad accepts: 5 to 7 fields, or a `@daily`-style shortcut. */
export function isCronExpression(expr: string): boolean {
  if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(expr)) return true;
  const fields = expr.trim().split(/\s+/);
  return expr.trim() === expr && fields.length >= 5 && fields.length <= 7 && fields.every((f) => CRON_FIELD.test(f));
}

/** The periodic backups. */
export class Backups {
  /** Jobs are named `backup-<subject>`. */
  static readonly JOB_PREFIX = "backup-";
  static readonly DEFAULT_PREFIX = "platform";
  static readonly DEFAULT_RESOURCES = { cpuMhz: 200, memoryMb: 256 } as const;
  static readonly DEFAULT_SCHEDULES: Readonly<Record<BackupSource, string>> = {
    [BackupSource.CONSUL]: "0 2 * * *",
    [BackupSource.NOMAD]: "10 2 * * *",
    [BackupSource.POSTGRES]: "20 2 * * *",
    [BackupSource.MARIADB]: "30 2 * * *",
    [BackupSource.INFLUXDB]: "40 2 * * *",
  };
  /** Default images (none exists for PostgreSQL and MariaDB: see the module comment). */
  static readonly DEFAULT_IMAGES: Readonly<Partial<Record<BackupSource, ContainerImage>>> = {
    [BackupSource.CONSUL]: { image: "hashicorp/consul", version: "1.22.2" },
    [BackupSource.NOMAD]: { image: "hashicorp/consul", version: "1.22.2" },
    [BackupSource.INFLUXDB]: { image: InfluxDb.DEFAULT_IMAGE, version: InfluxDb.DEFAULT_VERSION },
  };
  /** Keys of the Nomad variables (the same key name holds the same secret in every variable). */
  static readonly S3_ACCESS_KEY_KEY = "backup_s3_access_key_id";
  static readonly S3_SECRET_KEY_KEY = "backup_s3_secret_access_key";
  static readonly CONSUL_TOKEN_KEY = "consul_snapshot_token";
  static readonly NOMAD_TOKEN_KEY = "nomad_snapshot_token";
  /**
   * Name the agents' certificates are checked against: every agent certificate of the cluster
   * carries `localhost`, while clients on DHCP addresses have no IP SAN for their address.
   */
  static readonly AGENT_TLS_NAME = "localhost";

  /** Problems of the props; empty when they hold. */
  static problems(props: BackupsProps): string[] {
    const problems: string[] = [];
    const d = props.destination;
    const endpoint = /^https:\/\/([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:.]+\])(:[0-9]{1,5})?$/;
    if (!endpoint.test(d.endpoint)) problems.push(`backups: destination.endpoint: received ${describeValue(d.endpoint)}; expected an https:// URL with a host and optional port, without path or trailing slash`);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(d.bucket) || d.bucket.includes("..")) problems.push(`backups: destination.bucket: received ${describeValue(d.bucket)}; expected an S3 bucket name (3-63 lower-case letters, digits, '.', '-')`);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(d.region)) problems.push(`backups: destination.region: received ${describeValue(d.region)}; expected a region name such as "us-east-1"`);
    const prefix = d.prefix ?? Backups.DEFAULT_PREFIX;
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(prefix) || prefix.split("/").some((s) => s === "." || s === "..")) {
      problems.push(`backups: destination.prefix: received ${describeValue(prefix)}; expected segments of letters, digits, '.', '_', '-' separated by '/', without leading or trailing '/'`);
    }
    if (props.targets.length === 0) problems.push("backups: targets: received []; expected at least one target");
    const needsAgent = props.targets.some((t) => t.source === BackupSource.CONSUL || t.source === BackupSource.NOMAD);
    if (needsAgent) {
      const ca = props.clusterCaPem;
      if (ca === CLUSTER_CA_TEMPLATE) {
        // rendered by Nomad from the shared variable
      } else if (ca === undefined || (!isUnresolved(ca) && !/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(ca))) {
        problems.push(`backups: clusterCaPem: received ${describeValue(ca === undefined ? undefined : ca.slice(0, 40))}; expected the cluster CA certificate (PEM), needed by the Consul and Nomad snapshots`);
      } else if (ca.includes("{{")) {
        problems.push(`backups: clusterCaPem: contains "{{"; expected a PEM certificate`);
      }
    }
    if (props.nodeClass !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(props.nodeClass)) problems.push(`backups: nodeClass: received ${describeValue(props.nodeClass)}; expected a Nomad node class such as "production"`);
    const jobs = new Map<string, number>();
    props.targets.forEach((t, i) => {
      const at = `backups: targets[${i}] (${t.source})`;
      const prev = jobs.get(t.jobName);
      if (prev !== undefined) problems.push(`${at}: job ${t.jobName} is also targets[${prev}]'s; expected one target per source and service`);
      else jobs.set(t.jobName, i);
      if (!/^[a-z][a-z0-9-]{0,54}$/.test(t.subject)) problems.push(`${at}: service: received ${describeValue(t.subject)}; expected a Consul service name (lower-case letters, digits, dashes; at most 55 so that the job name fits)`);
      const schedule = t.props.schedule ?? Backups.DEFAULT_SCHEDULES[t.source];
      if (!isCronExpression(schedule)) problems.push(`${at}: schedule: received ${describeValue(schedule)}; expected a cron expression of 5 to 7 fields such as "0 2 * * *", or a shortcut such as "@daily"`);
      const image = t.image ?? Backups.DEFAULT_IMAGES[t.source];
      if (!image) problems.push(`${at}: image: received nothing; expected an image with sh, curl and the ${t.source} client (no official image has both)`);
      else {
        if (!IMAGE.test(image.image)) problems.push(`${at}: image.image: received ${describeValue(image.image)}; expected an image reference without tag`);
        if (!TAG.test(image.version) || image.version === "latest") problems.push(`${at}: image.version: received ${describeValue(image.version)}; expected a pinned tag (not "latest")`);
      }
      const r = t.props.resources ?? Backups.DEFAULT_RESOURCES;
      if (!Number.isInteger(r.cpuMhz) || r.cpuMhz < 1 || !Number.isInteger(r.memoryMb) || r.memoryMb < 10) {
        problems.push(`${at}: resources: received ${describeValue(r)}; expected whole numbers, cpuMhz >= 1 and memoryMb >= 10`);
      }
      if (t.localPort !== undefined) {
        const p = t.localPort;
        if (!Number.isInteger(p) || p < 1024 || p > 65535 || (p >= CLUSTER_PORTS.dynamicMin && p <= CLUSTER_PORTS.dynamicMax)) {
          problems.push(`${at}: localPort: received ${describeValue(p)}; expected a port in 1024-65535 outside Nomad's dynamic range ${CLUSTER_PORTS.dynamicMin}-${CLUSTER_PORTS.dynamicMax}`);
        }
      }
      if (t.props.user !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(t.props.user)) problems.push(`${at}: user: received ${describeValue(t.props.user)}; expected a PostgreSQL role name`);
      if (t.props.databases !== undefined) {
        if (t.props.databases.length === 0) problems.push(`${at}: databases: received []; expected at least one database, or no list to dump them all`);
        for (const db of t.props.databases) if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(db)) problems.push(`${at}: databases: received ${describeValue(db)}; expected a database name (letters, digits, '_', '-')`);
      }
    });
    return problems;
  }

  /** One periodic workload per target. Throws {@link ProblemsError} listing every problem. */
  static specs(props: BackupsProps): WorkloadSpec[] {
    const problems = Backups.problems(props);
    if (problems.length > 0) throw new ProblemsError(problems);
    return props.targets.map((t) => Backups.spec(t, props));
  }

  private static spec(t: BackupTarget, props: BackupsProps): WorkloadSpec {
    const job = t.jobName;
    const image = (t.image ?? Backups.DEFAULT_IMAGES[t.source]) as ContainerImage;
    const work = ShellVar.of("NOMAD_TASK_DIR");
    const plan = Backups.plan(t, work);
    const d = props.destination;
    const keyBase = `${d.endpoint}/${d.bucket}/${d.prefix ?? Backups.DEFAULT_PREFIX}/${job}/`;
    const steps: ShellStep[] = [
      { comment: "Time stamp of this run (UTC), part of every object key.", argv: ["date", "-u", "+%Y%m%dT%H%M%SZ"], captureTo: "STAMP" },
      ...plan.steps,
      ...plan.outputs.flatMap((file): ShellStep[] => [
        {
          comment: `Upload ${file} to s3://${d.bucket}/${d.prefix ?? Backups.DEFAULT_PREFIX}/${job}/<stamp>/ (credentials from the curl config in the secrets folder).`,
          argv: [
            "curl", "--fail", "--silent", "--show-error", "--retry", "3",
            "--config", [ShellVar.of("NOMAD_SECRETS_DIR"), "/s3.curlrc"],
            "--aws-sigv4", `aws:amz:${d.region}:s3`,
            "--header", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            "--upload-file", [work, `/${file}`],
            [keyBase, ShellVar.of("STAMP"), `/${file}`],
          ],
        },
        { argv: ["rm", "-rf", [work, `/${file}`]] },
      ]),
      { argv: ["echo", `${job}: uploaded ${plan.outputs.join(", ")} under`, [`s3://${d.bucket}/${d.prefix ?? Backups.DEFAULT_PREFIX}/${job}/`, ShellVar.of("STAMP"), "/"]] },
    ];
    const script = renderShellScript(`${job}: ${plan.description}, uploaded to ${d.endpoint}/${d.bucket} (rendered by the platform library).`, steps);
    if (script.includes("{{")) throw new ProblemsError([`backups: ${job}: the script contains "{{"; expected no template action (the script is a Nomad template)`]);
    const path = jobVariablePath(job);
    const s3: WorkloadFile = {
      destination: "secrets/s3.curlrc",
      content: `{{ with nomadVar ${JSON.stringify(path)} }}user = "{{ .${Backups.S3_ACCESS_KEY_KEY} }}:{{ .${Backups.S3_SECRET_KEY_KEY} }}"\n{{ end }}`,
      secrets: [Backups.S3_ACCESS_KEY_KEY, Backups.S3_SECRET_KEY_KEY].map((key) => ({ path, key, source: Secret.variable(`${key.replace(/_/g, " ")} of the other site's object storage (backups)`) })),
    };
    const r = t.props.resources ?? Backups.DEFAULT_RESOURCES;
    return {
      name: job,
      description: `Backup: ${plan.description}, to the other site's object storage`,
      image: image.image,
      version: image.version,
      resources: { cpuMhz: r.cpuMhz, memoryMb: r.memoryMb },
      kind: WorkloadKind.PERIODIC,
      schedule: t.props.schedule ?? Backups.DEFAULT_SCHEDULES[t.source],
      command: "/bin/sh",
      args: ["/local/backup.sh"],
      ...(plan.dependsOn ? { dependsOn: [plan.dependsOn] } : {}),
      files: [
        { destination: "local/backup.sh", content: script },
        s3,
        ...plan.files(path, props.clusterCaPem ?? ""),
      ],
      nodeClass: props.nodeClass ?? DEFAULT_NODE_CLASS,
    };
  }

  /** What a target runs. @internal */
  private static plan(t: BackupTarget, work: ShellVar): {
    description: string;
    steps: ShellStep[];
    outputs: string[];
    dependsOn?: Dependency;
    files: (path: string, caPem: string) => WorkloadFile[];
  } {
    const ca = (caPem: string): WorkloadFile => ({ destination: "local/ca.pem", content: caPem.endsWith("\n") ? caPem : `${caPem}\n`, secrets: caFileSecrets(caPem) });
    const agentIp = '{{ env "attr.unique.network.ip-address" }}';
    switch (t.source) {
      case BackupSource.CONSUL:
        return {
          description: "Consul snapshot",
          steps: [{ comment: "Snapshot of the Consul servers' state, saved and verified by the CLI.", argv: ["consul", "snapshot", "save", [work, "/consul.snap"]] }],
          outputs: ["consul.snap"],
          files: (path, caPem) => [
            ca(caPem),
            {
              destination: "local/agent.env",
              content: [`CONSUL_HTTP_ADDR=https://${agentIp}:${CLUSTER_PORTS.consulHttps}`, "CONSUL_CACERT=/local/ca.pem", `CONSUL_TLS_SERVER_NAME=${Backups.AGENT_TLS_NAME}`, ""].join("\n"),
              env: true,
            },
            secretEnvFile({ destination: "secrets/token.env", path, env: { CONSUL_HTTP_TOKEN: { key: Backups.CONSUL_TOKEN_KEY, source: Secret.clusterToken("consul") } } }),
          ],
        };
      case BackupSource.NOMAD:
        return {
          description: "Nomad snapshot",
          steps: [
            {
              comment: "Snapshot of the Nomad servers' state (the API behind `nomad operator snapshot save`); the agent's certificate is checked against the cluster CA.",
              argv: [
                "curl", "--fail", "--silent", "--show-error",
                "--cacert", "/local/ca.pem",
                "--resolve", [`${Backups.AGENT_TLS_NAME}:${CLUSTER_PORTS.nomadHttp}:`, ShellVar.of("AGENT_IP")],
                "--header", ["@", ShellVar.of("NOMAD_SECRETS_DIR"), "/nomad.headers"],
                "--output", [work, "/nomad.snap"],
                `https://${Backups.AGENT_TLS_NAME}:${CLUSTER_PORTS.nomadHttp}/v1/operator/snapshot`,
              ],
            },
            { comment: "A snapshot is a gzip archive: check it is whole.", argv: ["gzip", "-t", [work, "/nomad.snap"]] },
          ],
          outputs: ["nomad.snap"],
          files: (path, caPem) => [
            ca(caPem),
            { destination: "local/agent.env", content: `AGENT_IP=${agentIp}\n`, env: true },
            {
              destination: "secrets/nomad.headers",
              content: `{{ with nomadVar ${JSON.stringify(path)} }}X-Nomad-Token: {{ .${Backups.NOMAD_TOKEN_KEY} }}\n{{ end }}`,
              secrets: [{ path, key: Backups.NOMAD_TOKEN_KEY, source: Secret.clusterToken("nomad") }],
            },
          ],
        };
      case BackupSource.POSTGRES: {
        const port = t.localPort as number;
        const user = t.props.user ?? Postgres.DEFAULT_SUPERUSER;
        const conn = ["--host=127.0.0.1", `--port=${port}`, `--username=${user}`, "--no-password"];
        const dbs = t.props.databases;
        const steps: ShellStep[] = dbs
          ? [
              { comment: "Roles and other cluster-wide objects.", argv: ["pg_dumpall", ...conn, "--globals-only", ["--file=", work, "/globals.sql"]] },
              { argv: ["gzip", "-f", [work, "/globals.sql"]] },
              ...dbs.map((db): ShellStep => ({ comment: `Database ${db}, custom format (compressed).`, argv: ["pg_dump", ...conn, "--format=custom", `--dbname=${db}`, ["--file=", work, `/${db}.dump`]] })),
            ]
          : [
              { comment: `Every database and the roles, through the upstream on 127.0.0.1:${port}.`, argv: ["pg_dumpall", ...conn, ["--file=", work, `/${t.subject}.sql`]] },
              { argv: ["gzip", "-f", [work, `/${t.subject}.sql`]] },
            ];
        return {
          description: `PostgreSQL dump of ${t.subject}`,
          steps,
          outputs: dbs ? ["globals.sql.gz", ...dbs.map((db) => `${db}.dump`)] : [`${t.subject}.sql.gz`],
          dependsOn: { service: t.subject, localPort: port },
          files: (path) => [secretEnvFile({ destination: "secrets/db.env", path, env: { PGPASSWORD: { key: Postgres.PASSWORD_KEY, source: Secret.generated(t.subject) } } })],
        };
      }
      case BackupSource.MARIADB: {
        const port = t.localPort as number;
        return {
          description: `MariaDB dump of ${t.subject}`,
          steps: [
            {
              comment: `Every database, consistent (one transaction), through the upstream on 127.0.0.1:${port}.`,
              argv: ["mariadb-dump", "--host=127.0.0.1", `--port=${port}`, "--user=root", "--all-databases", "--single-transaction", "--routines", "--events", "--triggers", ["--result-file=", work, `/${t.subject}.sql`]],
            },
            { argv: ["gzip", "-f", [work, `/${t.subject}.sql`]] },
          ],
          outputs: [`${t.subject}.sql.gz`],
          dependsOn: { service: t.subject, localPort: port },
          files: (path) => [secretEnvFile({ destination: "secrets/db.env", path, env: { MYSQL_PWD: { key: MariaDb.PASSWORD_KEY, source: Secret.generated(t.subject) } } })],
        };
      }
      case BackupSource.INFLUXDB: {
        const port = t.localPort as number;
        return {
          description: `InfluxDB backup of ${t.subject}`,
          steps: [
            { comment: `Every bucket and the metadata, through the upstream on 127.0.0.1:${port} (operator token in INFLUX_TOKEN).`, argv: ["influx", "backup", [work, "/influxdb"], "--host", `http://127.0.0.1:${port}`] },
            { argv: ["tar", "-czf", [work, `/${t.subject}.tar.gz`], "-C", [work, "/influxdb"], "."] },
            { argv: ["rm", "-rf", [work, "/influxdb"]] },
          ],
          outputs: [`${t.subject}.tar.gz`],
          dependsOn: { service: t.subject, localPort: port },
          files: (path) => [secretEnvFile({ destination: "secrets/db.env", path, env: { INFLUX_TOKEN: { key: InfluxDb.TOKEN_KEY, source: Secret.generated(t.subject) } } })],
        };
      }
    }
  }
}
