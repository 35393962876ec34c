/**
 * The four reference systems (shared/SYSTEMS.md) as blueprints: each a list of workload
 * declarations built from the catalog. Every service gets for free what its declaration implies:
 * health checks, rolling canary updates, intentions from its dependencies, its ACL role, ingress
 * routes, monitoring and logs.
 */
import { ServiceProtocol } from "../consul/mesh";
import { InfluxDb, MariaDb, Minio, Postgres, RabbitMq } from "./data";
import { dependencyOn, WorkloadSpec } from "./spec";

export interface SystemProps {
  /** Public DNS suffix: services are published as <host>.<domain>. */
  readonly domain: string;
  /** Registry and path prefix of the systems' own application images, e.g. registry.example.org/fleet. */
  readonly registry: string;
  /** Tag of the systems' own application images. @default SYSTEM_DEFAULT_VERSION */
  readonly version?: string;
  /** Warm standby: one replica of each stateless service, scaling from one. @default false */
  readonly standby?: boolean;
}

export const SYSTEM_DEFAULT_VERSION = "1.0.0";
/** On a warm standby, the autoscaler may add one replica before a fail-over redeploys the site at full size. */
export const STANDBY_MAX_COUNT = 2;

interface AppOptions {
  readonly name: string;
  readonly description: string;
  readonly image: string;
  readonly port: number;
  readonly host?: string;
  readonly dependsOn?: WorkloadSpec["dependsOn"];
  readonly cpuMhz: number;
  readonly memoryMb: number;
  readonly count: number;
  readonly maxCount?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly settings?: Readonly<Record<string, string>>;
}

/** A stateless application service: health on /health, metrics on /metrics, scaling on CPU when maxCount is set. */
function app(p: SystemProps, o: AppOptions): WorkloadSpec {
  const count = p.standby ? 1 : o.count;
  return {
    name: o.name,
    description: o.description,
    image: `${p.registry}/${o.image}`,
    version: p.version ?? SYSTEM_DEFAULT_VERSION,
    resources: { cpuMhz: o.cpuMhz, memoryMb: o.memoryMb },
    count,
    port: {
      containerPort: o.port,
      protocol: ServiceProtocol.HTTP,
      healthPath: "/health",
      metricsPath: "/metrics",
      ...(o.host ? { public: { host: `${o.host}.${p.domain}` } } : {}),
    },
    ...(o.dependsOn ? { dependsOn: o.dependsOn } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.settings ? { settings: o.settings } : {}),
    ...(o.maxCount ? { scaling: { min: count, max: p.standby ? Math.min(o.maxCount, STANDBY_MAX_COUNT) : o.maxCount } } : {}),
  };
}

/**
 * Vehicle fleet monitoring (seed 000): vehicles push camera, GPS and OBD2 data to the ingestion
 * API; staff query it through the query API and the web site. Time series in InfluxDB,
 * relational data in PostgreSQL, camera images in MinIO. The APIs scale out under bursts.
 */
export function fleetMonitoring(p: SystemProps): WorkloadSpec[] {
  const db = Postgres.spec({ name: "fleet-postgres" });
  const ts = InfluxDb.spec({ name: "fleet-influxdb" });
  const s3 = Minio.spec({ name: "fleet-minio" });
  const stores = [dependencyOn(db), dependencyOn(ts), dependencyOn(s3)];
  const env = { DATABASE_URL: "postgres://127.0.0.1:5432/fleet", INFLUX_URL: "http://127.0.0.1:8086", S3_ENDPOINT: "http://127.0.0.1:9000" };
  return [
    db,
    ts,
    s3,
    app(p, { name: "fleet-ingest", description: "Ingestion API for the vehicles' camera, GPS and OBD2 data", image: "fleet-ingest", port: 8080, host: "ingest", dependsOn: stores, cpuMhz: 500, memoryMb: 512, count: 2, maxCount: 10, env, settings: { max_batch: "500" } }),
    app(p, { name: "fleet-api", description: "Query API for staff", image: "fleet-api", port: 8080, host: "api", dependsOn: stores, cpuMhz: 400, memoryMb: 512, count: 2, maxCount: 6, env }),
    app(p, { name: "fleet-web", description: "Staff web site", image: "fleet-web", port: 8080, host: "www", dependsOn: [{ service: "fleet-api", localPort: 9001 }], cpuMhz: 200, memoryMb: 256, count: 2, env: { API_URL: "http://127.0.0.1:9001" } }),
  ];
}

/**
 * Community services host (seed 001): hosted services whose logs go to the central log
 * aggregation (the platform's logging, for every job). Its test playground is a separate site of
 * the deployment (for example `test`), with its own infra and platform stacks.
 */
export function communityServices(p: SystemProps): WorkloadSpec[] {
  const db = Postgres.spec({ name: "community-postgres" });
  return [
    db,
    {
      name: "community-wiki",
      description: "Community wiki (Wiki.js)",
      image: "ghcr.io/requarks/wiki",
      version: "2.5",
      resources: { cpuMhz: 300, memoryMb: 512 },
      count: p.standby ? 1 : 2,
      port: { containerPort: 3000, healthPath: "/healthz", public: { host: `wiki.${p.domain}` } },
      dependsOn: [dependencyOn(db)],
      env: { DB_TYPE: "postgres", DB_HOST: "127.0.0.1", DB_PORT: "5432", DB_NAME: "wiki" },
    },
  ];
}

/**
 * Machine-leasing PaaS control plane (seed 002): Caddy in front of stateless API replicas, a
 * scheduler (health checks every 30 s, migration after 3 failures, lease expiry; instances
 * coordinate with SELECT ... FOR UPDATE SKIP LOCKED), MariaDB for consistent state; the
 * autoscaler scales the API and the scheduler on CPU.
 */
export function leasingControlPlane(p: SystemProps): WorkloadSpec[] {
  const db = MariaDb.spec({ name: "paas-mariadb" });
  const dbDep = [dependencyOn(db)];
  return [
    db,
    app(p, { name: "paas-api", description: "Leasing API (stateless)", image: "paas-api", port: 8080, dependsOn: dbDep, cpuMhz: 400, memoryMb: 384, count: 2, maxCount: 8, env: { DB_ADDR: "127.0.0.1:3306" } }),
    app(p, {
      name: "paas-scheduler",
      description: "Health checks, migrations and lease expiry",
      image: "paas-scheduler",
      port: 8081,
      dependsOn: dbDep,
      cpuMhz: 300,
      memoryMb: 256,
      count: 2,
      maxCount: 4,
      env: { DB_ADDR: "127.0.0.1:3306" },
      settings: { health_interval: "30s", failures_before_migration: "3" },
    }),
    {
      name: "paas-proxy",
      description: "Caddy reverse proxy in front of the API replicas",
      image: "caddy",
      version: "2.10",
      resources: { cpuMhz: 200, memoryMb: 128 },
      count: p.standby ? 1 : 2,
      port: { containerPort: 8080, healthPath: "/health", public: { host: `paas.${p.domain}` } },
      dependsOn: [{ service: "paas-api", localPort: 9080 }],
      command: "caddy",
      args: ["reverse-proxy", "--from", ":8080", "--to", "127.0.0.1:9080"],
    },
  ];
}

/**
 * Image hosting and resizing (seed 003): a frontend, a backend that stores and serves images in
 * MinIO, and workers that resize them from a RabbitMQ queue; every client can run any of them,
 * at least one of each, rolling one service at a time.
 */
export function imageHosting(p: SystemProps): WorkloadSpec[] {
  const s3 = Minio.spec({ name: "images-minio" });
  const mq = RabbitMq.spec({ name: "images-rabbitmq" });
  return [
    s3,
    mq,
    app(p, { name: "images-frontend", description: "Image hosting frontend", image: "images-frontend", port: 8080, host: "img", dependsOn: [{ service: "images-backend", localPort: 9002 }], cpuMhz: 200, memoryMb: 256, count: 2 }),
    app(p, {
      name: "images-backend",
      description: "Stores and serves images, queues resize work",
      image: "images-backend",
      port: 8080,
      dependsOn: [dependencyOn(s3), dependencyOn(mq)],
      cpuMhz: 300,
      memoryMb: 384,
      count: 2,
      maxCount: 6,
    }),
    app(p, {
      name: "images-worker",
      description: "Resizes images from the queue",
      image: "images-worker",
      port: 8080,
      dependsOn: [dependencyOn(s3), dependencyOn(mq)],
      cpuMhz: 500,
      memoryMb: 512,
      count: 1,
      maxCount: 8,
    }),
  ];
}

/** The blueprints by the names the deployment file uses. */
export const SYSTEM_BLUEPRINTS: Readonly<Record<string, (p: SystemProps) => WorkloadSpec[]>> = {
  fleet: fleetMonitoring,
  community: communityServices,
  paas: leasingControlPlane,
  images: imageHosting,
};
