/**
 * Unit tests of the shared services declared as workloads: the ingress (HAProxy, its haproxy.cfg
 * model and renderer), the data services (PostgreSQL, InfluxDB, MinIO, MariaDB, RabbitMQ) and the
 * periodic backups; the Nomad variables and host volumes derived from them; one `fails ...` test
 * per validation error.
 */
import { renderShellScript, ShellVar } from "../constructs/render";
import { ServiceProtocol } from "../constructs/consul/mesh";
import { Duration } from "../constructs/nomad";
import {
  Backups,
  BackupsProps,
  BackupSource,
  BackupTarget,
  isCronExpression,
  PostgresBackupProps,
} from "../constructs/workloads/backups";
import {
  dataServices,
  hostVolumesFor,
  InfluxDb,
  MariaDb,
  Minio,
  nomadVariablesFor,
  Postgres,
  RabbitMq,
  secretEnvFile,
  secretFile,
} from "../constructs/workloads/data";
import { HaproxySectionKind, Ingress, IngressProps, IngressRoute, renderHaproxyConfig, routesFrom } from "../constructs/workloads/ingress";
import { CLUSTER_CA_TEMPLATE, Secret, validateWorkloads, WorkloadKind, WorkloadSpec } from "../constructs/workloads/spec";
import { workloadJob } from "../constructs/workloads/workload";
import { ProblemsError } from "../constructs/problems";

// ---------------------------------------------------------------------------------------------
// Fixtures

function app(name: string, host?: string, pathPrefix?: string, healthPath?: string): WorkloadSpec {
  return {
    name,
    description: name,
    image: `registry.example.org/${name}`,
    version: "1.0.0",
    resources: { cpuMhz: 200, memoryMb: 128 },
    port: { containerPort: 8080, ...(healthPath ? { healthPath } : {}), ...(host ? { public: { host, ...(pathPrefix ? { pathPrefix } : {}) } } : {}) },
  };
}

const apps: WorkloadSpec[] = [
  app("web", "www.example.org"),
  app("staff-api", "api.example.org", "/", "/ready"),
  app("ingest-api", "api.example.org", "/v1/ingest"),
  app("images", "www.example.org", "/images/"),
  app("worker"),
];

const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n";

const destination = { endpoint: "https://s3.backup.example.org", bucket: "platform-backups", region: "us-east-1", prefix: "primary" };
const pgImage = { image: "registry.example.org/pg-backup", version: "17.8-1" };
const mariaImage = { image: "registry.example.org/mariadb-backup", version: "11.4.13-1" };

function allBackups(extra: Partial<BackupsProps> = {}): BackupsProps {
  return {
    destination,
    clusterCaPem: CA_PEM,
    targets: [BackupTarget.consul(), BackupTarget.nomad(), BackupTarget.postgres({ image: pgImage }), BackupTarget.mariadb({ image: mariaImage }), BackupTarget.influxdb()],
    ...extra,
  };
}

function file(spec: WorkloadSpec, destinationPath: string): string {
  const f = (spec.files ?? []).find((x) => x.destination === destinationPath);
  if (!f) throw new Error(`${spec.name} has no file ${destinationPath}; it has ${(spec.files ?? []).map((x) => x.destination).join(", ")}`);
  return f.content;
}

function linesOf(text: string, prefix: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix));
}

// ---------------------------------------------------------------------------------------------
// Ingress

describe("ingress routes", () => {
  test("routesFrom: the public ports of the specs, with their health path, sorted; internal workloads have none", () => {
    expect(routesFrom(apps)).toEqual([
      { service: "images", host: "www.example.org", pathPrefix: "/images/", healthPath: "/health" },
      { service: "ingest-api", host: "api.example.org", pathPrefix: "/v1/ingest", healthPath: "/health" },
      { service: "staff-api", host: "api.example.org", pathPrefix: "/", healthPath: "/ready" },
      { service: "web", host: "www.example.org", healthPath: "/health" },
    ]);
  });

  test("GIVEN the routes WHEN haproxy.cfg is built THEN routes are tried longest path first, hosts and paths normalized", () => {
    const config = Ingress.haproxyConfig({ routes: routesFrom(apps) });
    expect(config.routes.map((r) => [r.host, r.pathPrefix, r.backend])).toEqual([
      ["api.example.org", "/v1/ingest", "be_ingest-api"],
      ["www.example.org", "/images", "be_images"],
      ["api.example.org", "/", "be_staff-api"],
      ["www.example.org", "/", "be_web"],
    ]);
    const useBackend = linesOf(config.text, "use_backend");
    expect(useBackend).toEqual(["use_backend be_ingest-api if host_0 path_1", "use_backend be_images if host_1 path_0", "use_backend be_staff-api if host_0", "use_backend be_web if host_1"]);
    expect(linesOf(config.text, "acl")).toEqual([
      "acl host_0 var(txn.host) -m str api.example.org",
      "acl host_1 var(txn.host) -m str www.example.org",
      "acl path_0 path -m str /images",
      "acl path_0 path -m beg /images/",
      "acl path_1 path -m str /v1/ingest",
      "acl path_1 path -m beg /v1/ingest/",
    ]);
    // The ACLs are declared before they are used, and the fallback comes last.
    const https = config.sections.find((s) => s.name === "https")!;
    const words = https.lines.map((l) => l.words[0]);
    expect(words.lastIndexOf("acl")).toBeLessThan(words.indexOf("use_backend"));
    expect(https.lines[https.lines.length - 1].words).toEqual(["default_backend", "no_route"]);
  });

  test("local ports: one per service in name order from the base; one upstream per service, even with several routes", () => {
    const routes: IngressRoute[] = [
      { service: "web", host: "www.example.org" },
      { service: "api", host: "api.example.org" },
      { service: "api", host: "www.example.org", pathPrefix: "/api" },
    ];
    const config = Ingress.haproxyConfig({ routes, localPortBase: 12000 });
    expect(config.upstreams).toEqual([
      { service: "api", localPort: 12000 },
      { service: "web", localPort: 12001 },
    ]);
    // Same input in another order: same ports, same file.
    expect(Ingress.haproxyConfig({ routes: [...routes].reverse(), localPortBase: 12000 }).text).toBe(config.text);
    const backends = config.sections.filter((s) => s.kind === HaproxySectionKind.BACKEND);
    expect(backends.map((b) => b.name)).toEqual(["be_api_0", "be_api_1", "be_web", "no_route"]);
    expect(backends[0].lines.map((l) => l.words.join(" "))).toEqual([
      "option httpchk",
      "http-check send meth GET uri /health ver HTTP/1.1 hdr Host api.example.org",
      "http-check expect status 200-399",
      "server api 127.0.0.1:12000 check inter 5s fastinter 1s downinter 2s fall 3 rise 2",
    ]);
    expect(linesOf(config.text, "server web")).toEqual(["server web 127.0.0.1:12001 check inter 5s fastinter 1s downinter 2s fall 3 rise 2"]);
  });

  test("frontends: HTTP redirects to HTTPS; HTTPS terminates TLS with the certificate file; stats frontend with health, metrics and stats", () => {
    const text = Ingress.haproxyConfig({ routes: routesFrom(apps) }).text;
    expect(text).toContain("frontend http\n    bind :8080\n    http-request redirect scheme https code 301\n");
    expect(text).toContain("    bind :8443 ssl crt /secrets/ingress.pem alpn h2,http/1.1\n");
    expect(text).toContain("    http-request set-var(txn.host) req.hdr(host),field(1,:),lower\n");
    expect(text).toContain("frontend stats\n    bind :8404\n");
    expect(text).toContain("    monitor-uri /health\n");
    expect(text).toContain("    http-request use-service prometheus-exporter if { path /metrics }\n");
    expect(text).toContain("backend no_route\n    http-request return status 404 content-type text/plain string 'no route'\n");
    expect(text.startsWith("global\n    log stdout format raw local0\n    maxconn 4096\n")).toBe(true);
  });

  test("timeouts: defaults, each overridable, rendered in HAProxy's units", () => {
    const text = Ingress.haproxyConfig({ routes: [], timeouts: { client: Duration.minutes(2), connect: Duration.millis(1500) } }).text;
    expect(linesOf(text, "timeout")).toEqual([
      "timeout connect 1500ms",
      "timeout client 2m",
      "timeout server 30s",
      "timeout http-request 10s",
      "timeout http-keep-alive 10s",
      "timeout queue 30s",
      "timeout tunnel 1h",
      "timeout check 5s",
    ]);
  });

  test("renderer: plain words as they are, other words single-quoted", () => {
    const text = renderHaproxyConfig([{ kind: HaproxySectionKind.BACKEND, name: "b", lines: [{ words: ["http-request", "return", "string", "a b#c$d"] }] }]);
    expect(text).toBe("backend b\n    http-request return string 'a b#c$d'\n");
  });

  test("fails on a word with a quote or a line break, an empty line, a bad section name", () => {
    const section = (words: string[]) => [{ kind: HaproxySectionKind.FRONTEND, name: "f", lines: [{ words }] }];
    expect(() => renderHaproxyConfig(section(["acl", "x", "it's"]))).toThrow(/word "it's"; expected a non-empty word without quote/);
    expect(() => renderHaproxyConfig(section(["bind", ":80\n    bind :81"]))).toThrow(/expected a non-empty word without quote, line break or NUL/);
    expect(() => renderHaproxyConfig(section(["acl", ""]))).toThrow(/word ""/);
    expect(() => renderHaproxyConfig(section([]))).toThrow(/an empty line; expected at least a keyword/);
    expect(() => renderHaproxyConfig([{ kind: HaproxySectionKind.BACKEND, name: "a b", lines: [] }])).toThrow(/name "a b"; expected letters/);
    expect(() => renderHaproxyConfig([{ kind: HaproxySectionKind.BACKEND, lines: [] }])).toThrow(/name undefined/);
  });
});

describe("ingress workload", () => {
  const spec = Ingress.spec({ routes: routesFrom(apps) });

  test("HAProxy on every ingress node, host ports 80 and 443 from anywhere, its stats port as service, one upstream per routed service", () => {
    expect(spec).toMatchObject({
      name: "ingress",
      image: "haproxy",
      version: Ingress.DEFAULT_VERSION,
      kind: WorkloadKind.SYSTEM,
      nodeClass: "ingress",
      port: { containerPort: 8404, protocol: ServiceProtocol.HTTP, healthPath: "/health", metricsPath: "/metrics" },
      hostPorts: [
        { label: "http", port: 80, to: 8080, from: "anywhere" },
        { label: "https", port: 443, to: 8443, from: "anywhere" },
      ],
      args: ["-f", "/local/haproxy.cfg"],
    });
    expect(spec.dependsOn).toEqual([
      { service: "images", localPort: 10000 },
      { service: "ingest-api", localPort: 10001 },
      { service: "staff-api", localPort: 10002 },
      { service: "web", localPort: 10003 },
    ]);
    expect(spec.port?.public).toBeUndefined();
  });

  test("haproxy.cfg and the certificate are templates; the certificate comes from the job's Nomad variable and reloads HAProxy on change", () => {
    expect(file(spec, "local/haproxy.cfg")).toBe(Ingress.haproxyConfig({ routes: routesFrom(apps) }).text);
    expect(file(spec, "secrets/ingress.pem")).toBe('{{ with nomadVar "nomad/jobs/ingress" }}{{ .ingress_tls_certificate }}\n{{ .ingress_tls_private_key }}\n{{ end }}');
    expect(spec.files?.find((f) => f.destination === "secrets/ingress.pem")?.changeSignal).toBe("SIGUSR2");
    expect(nomadVariablesFor([spec])).toEqual([expect.objectContaining({ workload: "ingress", path: "nomad/jobs/ingress", keys: ["ingress_tls_certificate", "ingress_tls_private_key"] })]);
  });

  test("with the services it routes to, the declarations hold together and the job builds (Connect upstreams, system job on the ingress class)", () => {
    expect(validateWorkloads([...apps, spec], "test:")).toEqual([]);
    const job = workloadJob(spec, ["dc1"]).toJson() as any;
    expect(job.Job).toMatchObject({ ID: "ingress", Type: "system", Constraints: [{ LTarget: "${node.class}", RTarget: "ingress" }] });
    const group = job.Job.TaskGroups[0];
    expect(group.Networks[0].ReservedPorts).toEqual([
      { Label: "http", Value: 80, To: 8080 },
      { Label: "https", Value: 443, To: 8443 },
    ]);
    expect(group.Services[0].Connect.SidecarService.Proxy.Upstreams.map((u: any) => [u.DestinationName, u.LocalBindPort])).toEqual([
      ["images", 10000],
      ["ingest-api", 10001],
      ["staff-api", 10002],
      ["web", 10003],
    ]);
  });

  test("a name of one's own: the variable path follows", () => {
    const other = Ingress.spec({ routes: [], name: "edge" });
    expect(nomadVariablesFor([other])[0].path).toBe("nomad/jobs/edge");
  });
});

describe("ingress validation", () => {
  const ok: IngressRoute = { service: "web", host: "www.example.org" };
  const fails = (props: Partial<IngressProps>, message: RegExp) => {
    expect(() => Ingress.haproxyConfig({ routes: [ok], ...props })).toThrow(ProblemsError);
    expect(() => Ingress.haproxyConfig({ routes: [ok], ...props })).toThrow(message);
  };

  test("fails on a duplicate host and path (after normalizing case and trailing slash)", () => {
    fails({ routes: [ok, { service: "other", host: "WWW.example.org", pathPrefix: "/" }] }, /routes\[1\]: host and path www.example.org\/ also routed by routes\[0\] \(web\); expected one route per host and path prefix/);
    fails({ routes: [{ service: "a", host: "api.example.org", pathPrefix: "/v1" }, { service: "b", host: "api.example.org", pathPrefix: "/v1/" }] }, /host and path api.example.org\/v1 also routed/);
  });

  test("fails on an empty host", () => {
    fails({ routes: [{ service: "web", host: "" }] }, /routes\[0\]\.host: received ""; expected a host name such as "api.example.org", not an empty one/);
    fails({ routes: [{ service: "web", host: "  " }] }, /routes\[0\]\.host: received "  "/);
  });

  test("fails on a host that is not a DNS name", () => {
    for (const host of ["https://www.example.org", "www.example.org:443", "*.example.org", "www..example.org", "-a.example.org", "a b"]) {
      fails({ routes: [{ service: "web", host }] }, /routes\[0\]\.host: received .*; expected a DNS host name/);
    }
  });

  test("fails on a bad path prefix", () => {
    fails({ routes: [{ ...ok, pathPrefix: "api" }] }, /routes\[0\]\.pathPrefix: received "api"; expected a path starting with '\/'/);
    fails({ routes: [{ ...ok, pathPrefix: "/a//b" }] }, /pathPrefix: received "\/a\/\/b"; expected no empty segment/);
    fails({ routes: [{ ...ok, pathPrefix: "/a/../b" }] }, /pathPrefix: received "\/a\/..\/b"; expected no '.' or '..' segment/);
    fails({ routes: [{ ...ok, pathPrefix: "/a b" }] }, /pathPrefix: received "\/a b"; expected only unreserved URL characters/);
    fails({ routes: [{ ...ok, pathPrefix: "/a?b=1" }] }, /pathPrefix: received "\/a\?b=1"/);
    fails({ routes: [{ ...ok, pathPrefix: "/it's" }] }, /pathPrefix: received "\/it's"/);
  });

  test("fails on a bad health path", () => {
    fails({ routes: [{ ...ok, healthPath: "health" }] }, /routes\[0\]\.healthPath: received "health"; expected a path starting with '\/'/);
  });

  test("fails on a bad service name, and on a route to the ingress itself", () => {
    fails({ routes: [{ ...ok, service: "Web" }] }, /routes\[0\]\.service: received "Web"; expected a Consul service name/);
    fails({ routes: [{ ...ok, service: "ingress" }] }, /routes\[0\]\.service: received "ingress"; expected another service than the ingress itself/);
  });

  test("fails on local port collisions: with the stats port, the HTTP(S) ports, Nomad's dynamic range, past 65535", () => {
    const routes = ["a", "b", "c", "d", "e", "f"].map((s) => ({ service: s, host: `${s}.example.org` }));
    fails({ routes, localPortBase: 8400 }, /local port of e: 8404 collides with the stats port; expected a localPortBase whose 6 ports avoid 8080, 8443, 8404/);
    fails({ routes, localPortBase: 10000, statsPort: 10002 }, /local port of c: 10002 collides with the stats port/);
    fails({ routes, localPortBase: 19998 }, /local port of c: 20000 is in Nomad's dynamic range 20000-32000/);
    fails({ routes, localPortBase: 65533 }, /local port of d: 65536 is above 65535/);
  });

  test("fails on a bad local port base", () => {
    fails({ localPortBase: 443 }, /localPortBase: received 443; expected a whole number in 1024-65535/);
    fails({ localPortBase: 1.5 }, /localPortBase: received 1.5/);
  });

  test("fails on a bad stats port, connection limit, timeout, certificate path, version, resources or name", () => {
    fails({ statsPort: 8443 }, /statsPort: received 8443; expected a port in 1-65535 other than 8080 and 8443/);
    fails({ statsPort: 70000 }, /statsPort: received 70000/);
    fails({ maxConnections: 0 }, /maxConnections: received 0; expected a whole number >= 1/);
    fails({ timeouts: { client: Duration.seconds(0) } }, /timeouts.client: received .*; expected a Duration of at least 1 ms/);
    fails({ certificatePath: "/secrets/my cert.pem" }, /certificatePath: received "\/secrets\/my cert.pem"; expected an absolute path/);
    fails({ version: "latest" }, /version: received "latest"; expected a pinned image tag/);
    fails({ resources: { cpuMhz: 0, memoryMb: 256 } }, /resources: received .*; expected whole numbers, cpuMhz >= 1 and memoryMb >= 10/);
    fails({ name: "Ingress" }, /ingress "Ingress": name: received "Ingress"; expected lower-case letters/);
  });

  test("fails, as a workload, on a certificate outside the task's secrets folder", () => {
    expect(() => Ingress.spec({ routes: [ok], certificatePath: "/local/ingress.pem" })).toThrow(/certificatePath: received "\/local\/ingress.pem"; expected a file under \/secrets\//);
  });

  test("lists every problem at once", () => {
    try {
      Ingress.haproxyConfig({ routes: [{ service: "web", host: "" }, { service: "api", host: "api.example.org", pathPrefix: "x" }], statsPort: 8080 });
      throw new Error("no error");
    } catch (e) {
      expect((e as ProblemsError).problems).toHaveLength(3);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Data services

describe("data services", () => {
  const [postgres, influxdb, minio, mariadb, rabbitmq] = dataServices();

  test("each on a host volume named after it, mounted at the image's data folder, one instance, on the production class", () => {
    expect([postgres, influxdb, minio, mariadb, rabbitmq].map((s) => [s.name, s.volume, s.count, s.nodeClass])).toEqual([
      ["postgres", { source: "postgres", mountPath: "/var/lib/postgresql/data" }, 1, "production"],
      ["influxdb", { source: "influxdb", mountPath: "/var/lib/influxdb2" }, 1, "production"],
      ["minio", { source: "minio", mountPath: "/data" }, 1, "production"],
      ["mariadb", { source: "mariadb", mountPath: "/var/lib/mysql" }, 1, "production"],
      ["rabbitmq", { source: "rabbitmq", mountPath: "/var/lib/rabbitmq" }, 1, "production"],
    ]);
    expect(hostVolumesFor([...dataServices(), ...apps])).toEqual(["influxdb", "mariadb", "minio", "postgres", "rabbitmq"]);
  });

  test("pinned official images with the named defaults", () => {
    expect([postgres, influxdb, minio, mariadb, rabbitmq].map((s) => `${s.image}:${s.version}`)).toEqual([
      `postgres:${Postgres.DEFAULT_VERSION}`,
      `influxdb:${InfluxDb.DEFAULT_VERSION}`,
      `quay.io/minio/minio:${Minio.DEFAULT_VERSION}`,
      `mariadb:${MariaDb.DEFAULT_VERSION}`,
      `rabbitmq:${RabbitMq.DEFAULT_VERSION}`,
    ]);
    for (const s of [postgres, influxdb, minio, mariadb, rabbitmq]) expect(s.version).not.toBe("latest");
    expect(postgres.resources).toEqual(Postgres.DEFAULT_RESOURCES);
  });

  test("ports and checks: HTTP health endpoints where the service has one, a probe in the task for TCP services", () => {
    expect(postgres.port).toEqual({ containerPort: 5432, protocol: ServiceProtocol.TCP, healthCommand: ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=postgres", "--dbname=postgres"] });
    expect(influxdb.port).toEqual({ containerPort: 8086, protocol: ServiceProtocol.HTTP, healthPath: "/health", metricsPath: "/metrics" });
    expect(minio.port).toEqual({ containerPort: 9000, protocol: ServiceProtocol.HTTP, healthPath: "/minio/health/live", metricsPath: "/minio/v2/metrics/cluster" });
    expect(mariadb.port).toEqual({ containerPort: 3306, protocol: ServiceProtocol.TCP, healthCommand: ["healthcheck.sh", "--connect", "--innodb_initialized"] });
    expect(rabbitmq.port).toEqual({ containerPort: 5672, protocol: ServiceProtocol.TCP, healthCommand: ["rabbitmq-diagnostics", "-q", "ping"] });
    expect(validateWorkloads(dataServices(), "test:")).toEqual([]);
  });

  test("credentials from the service's Nomad variable, exported to the environment; no secret in the spec", () => {
    expect(postgres.files).toEqual([
      {
        destination: "secrets/postgres.env",
        content: '{{ with nomadVar "nomad/jobs/postgres" }}\nPOSTGRES_PASSWORD={{ .postgres_password }}\n{{ end }}\n',
        env: true,
        secrets: [{ path: "nomad/jobs/postgres", key: "postgres_password", source: Secret.generated("postgres") }],
      },
    ]);
    expect(file(influxdb, "secrets/influxdb.env")).toContain("DOCKER_INFLUXDB_INIT_PASSWORD={{ .influxdb_admin_password }}\nDOCKER_INFLUXDB_INIT_ADMIN_TOKEN={{ .influxdb_admin_token }}");
    expect(file(minio, "secrets/minio.env")).toContain("MINIO_ROOT_PASSWORD={{ .minio_root_password }}");
    expect(file(mariadb, "secrets/mariadb.env")).toContain("MARIADB_ROOT_PASSWORD={{ .mariadb_root_password }}");
    expect(file(rabbitmq, "secrets/rabbitmq.env")).toContain("RABBITMQ_DEFAULT_PASS={{ .rabbitmq_password }}");
    const envValues = dataServices().flatMap((s) => Object.values(s.env ?? {}));
    expect(envValues.some((v) => /password|secret/i.test(v))).toBe(false);
  });

  test("what each image needs to start right: PGDATA below the mount, InfluxDB's setup, MinIO's server command, a fixed RabbitMQ node name", () => {
    expect(postgres.env).toEqual({ POSTGRES_USER: "postgres", PGDATA: "/var/lib/postgresql/data/pgdata" });
    expect(influxdb.env).toEqual({ DOCKER_INFLUXDB_INIT_MODE: "setup", DOCKER_INFLUXDB_INIT_USERNAME: "admin", DOCKER_INFLUXDB_INIT_ORG: "platform", DOCKER_INFLUXDB_INIT_BUCKET: "telemetry" });
    expect(minio).toMatchObject({ command: "minio", args: ["server", "/data", "--address", ":9000", "--console-address", ":9001"], env: { MINIO_ROOT_USER: "admin", MINIO_PROMETHEUS_AUTH_TYPE: "public" } });
    expect(mariadb.env).toEqual({ MARIADB_AUTO_UPGRADE: "1" });
    expect(rabbitmq.env).toEqual({ RABBITMQ_NODENAME: "rabbit@localhost", RABBITMQ_DEFAULT_USER: "platform" });
  });

  test("the Nomad variables they need, per workload", () => {
    expect(nomadVariablesFor(dataServices())).toEqual([
      expect.objectContaining({ workload: "influxdb", path: "nomad/jobs/influxdb", keys: ["influxdb_admin_password", "influxdb_admin_token"] }),
      expect.objectContaining({ workload: "mariadb", path: "nomad/jobs/mariadb", keys: ["mariadb_root_password"] }),
      expect.objectContaining({ workload: "minio", path: "nomad/jobs/minio", keys: ["minio_root_password"] }),
      expect.objectContaining({ workload: "postgres", path: "nomad/jobs/postgres", keys: ["postgres_password"] }),
      expect.objectContaining({ workload: "rabbitmq", path: "nomad/jobs/rabbitmq", keys: ["rabbitmq_password"] }),
    ]);
  });

  test("props: another name moves the volume and the variable; other versions, resources and class; a service can be left out", () => {
    const pg = Postgres.spec({ name: "fleet-db", version: "16.9", resources: { cpuMhz: 1000, memoryMb: 4096 }, nodeClass: "data", superuser: "admin" });
    expect(pg).toMatchObject({ name: "fleet-db", version: "16.9", resources: { cpuMhz: 1000, memoryMb: 4096 }, nodeClass: "data", volume: { source: "fleet-db" }, env: { POSTGRES_USER: "admin" } });
    expect(file(pg, "secrets/postgres.env")).toContain('nomadVar "nomad/jobs/fleet-db"');
    expect(dataServices({ minio: false, rabbitmq: false }).map((s) => s.name)).toEqual(["postgres", "influxdb", "mariadb"]);
  });

  test("every data service builds a valid job through the Nomad model: host volume, Connect service, check", () => {
    for (const s of dataServices()) {
      const group = (workloadJob(s, ["dc1"]).toJson() as any).Job.TaskGroups[0];
      expect(group.Count).toBe(1);
      expect(group.Volumes).toEqual({ [s.name]: expect.objectContaining({ Type: "host", Source: s.name }) });
      expect(group.Tasks[0].VolumeMounts[0].Destination).toBe(s.volume?.mountPath);
      expect(group.Services[0].Checks[0].Type).toBe(s.port?.protocol === ServiceProtocol.TCP ? "script" : "http");
      expect(group.Tasks[0].Templates[0]).toMatchObject({ DestPath: `secrets/${s.name}.env`, Envvars: true });
    }
  });
});

describe("data service validation", () => {
  test("fails on a count other than 1, naming why", () => {
    expect(() => Postgres.spec({ count: 2 })).toThrow(ProblemsError);
    expect(() => Postgres.spec({ count: 2 })).toThrow(/postgres "postgres": count: received 2; expected 1 \(a single writer on a node-local host volume/);
    expect(() => Minio.spec({ count: 0 })).toThrow(/minio "minio": count: received 0; expected 1/);
  });

  test("fails on a floating or empty version, a bad image, a bad name", () => {
    expect(() => MariaDb.spec({ version: "latest" })).toThrow(/mariadb "mariadb": version: received "latest"; expected a pinned image tag such as "11.4.13"/);
    expect(() => MariaDb.spec({ version: "" })).toThrow(/version: received ""/);
    expect(() => RabbitMq.spec({ image: "Rabbit MQ" })).toThrow(/rabbitmq "rabbitmq": image: received "Rabbit MQ"; expected an image reference without tag/);
    expect(() => InfluxDb.spec({ image: "influxdb:2.7" })).toThrow(/image: received "influxdb:2.7"; expected an image reference without tag/);
    expect(() => Postgres.spec({ name: "Fleet_DB" })).toThrow(/postgres "Fleet_DB": name: received "Fleet_DB"; expected lower-case letters/);
  });

  test("fails on bad resources and node class", () => {
    expect(() => Postgres.spec({ resources: { cpuMhz: 0, memoryMb: 1024 } })).toThrow(/resources.cpuMhz: received 0; expected a whole number of MHz >= 1/);
    expect(() => Postgres.spec({ resources: { cpuMhz: 500, memoryMb: 5 } })).toThrow(/resources.memoryMb: received 5; expected a whole number of MiB >= 10/);
    expect(() => Postgres.spec({ nodeClass: "" })).toThrow(/nodeClass: received ""; expected a Nomad node class/);
  });

  test("fails on bad service-specific names", () => {
    expect(() => Postgres.spec({ superuser: "Admin User" })).toThrow(/superuser: received "Admin User"; expected a PostgreSQL role name/);
    expect(() => InfluxDb.spec({ organization: "my org" })).toThrow(/organization: received "my org"; expected an organization name/);
    expect(() => InfluxDb.spec({ adminUser: "" })).toThrow(/adminUser: received ""/);
    expect(() => InfluxDb.spec({ bucket: "a/b" })).toThrow(/bucket: received "a\/b"/);
    expect(() => Minio.spec({ rootUser: "ab" })).toThrow(/rootUser: received "ab"; expected 3 to 64 letters/);
    expect(() => RabbitMq.spec({ user: "a b" })).toThrow(/user: received "a b"; expected a user name/);
  });

  test("lists every problem at once", () => {
    try {
      Postgres.spec({ count: 3, version: "latest", resources: { cpuMhz: 0, memoryMb: 0 } });
      throw new Error("no error");
    } catch (e) {
      expect((e as ProblemsError).problems).toHaveLength(4);
    }
  });
});

describe("Nomad variable templates", () => {
  test("secretEnvFile and secretFile render nomadVar blocks", () => {
    const gen = Secret.generated("app");
    expect(secretEnvFile({ path: "nomad/jobs/app", env: { A: { key: "a_key", source: gen }, B: { key: "b_key", source: Secret.variable("b") } } })).toEqual({
      destination: "secrets/app.env",
      content: '{{ with nomadVar "nomad/jobs/app" }}\nA={{ .a_key }}\nB={{ .b_key }}\n{{ end }}\n',
      env: true,
      secrets: [
        { path: "nomad/jobs/app", key: "a_key", source: gen },
        { path: "nomad/jobs/app", key: "b_key", source: Secret.variable("b") },
      ],
    });
    expect(secretFile({ destination: "secrets/t", path: "nomad/jobs/app", keys: [{ key: "t", source: Secret.clusterToken("nomad") }] })).toEqual({
      destination: "secrets/t",
      content: '{{ with nomadVar "nomad/jobs/app" }}{{ .t }}\n{{ end }}',
      secrets: [{ path: "nomad/jobs/app", key: "t", source: Secret.clusterToken("nomad") }],
    });
  });

  test("fails on a bad variable path, key or environment name, or nothing to read", () => {
    const gen = Secret.generated("app");
    expect(() => secretEnvFile({ path: "/nomad/jobs/app", env: { A: { key: "a", source: gen } } })).toThrow(ProblemsError);
    expect(() => secretEnvFile({ path: "/nomad/jobs/app", env: { A: { key: "a", source: gen } } })).toThrow(/path: received "\/nomad\/jobs\/app"; expected a Nomad variable path/);
    expect(() => secretEnvFile({ path: "nomad/jobs/app", env: { A: { key: "a-key", source: gen } } })).toThrow(/key: received "a-key"; expected letters, digits and underscores/);
    expect(() => secretEnvFile({ path: "nomad/jobs/app", env: { "lower-case": { key: "a", source: gen } } })).toThrow(/env: received "lower-case"; expected an upper-case environment variable name/);
    expect(() => secretEnvFile({ path: "nomad/jobs/app", env: {} })).toThrow(/env: received \{\}; expected at least one variable/);
    expect(() => secretFile({ destination: "secrets/x", path: "nomad/jobs/app", keys: [] })).toThrow(/keys: received \[\]; expected at least one key/);
    expect(() => secretFile({ destination: "secrets/x", path: "nomad/jobs/app", keys: [{ key: "{{ evil }}", source: gen }] })).toThrow(/key: received "\{\{ evil \}\}"/);
  });

  test("nomadVariablesFor merges the files of a workload and skips workloads without variables", () => {
    const spec: WorkloadSpec = {
      ...app("x"),
      files: [
        secretEnvFile({ path: "nomad/jobs/x", env: { A: { key: "a", source: Secret.generated("x") } } }),
        secretFile({ destination: "secrets/c", path: "nomad/jobs/x", keys: [{ key: "c", source: Secret.clusterCa() }] }),
        { destination: "local/plain", content: "static" },
      ],
    };
    expect(nomadVariablesFor([spec, app("y")])).toEqual([{ workload: "x", path: "nomad/jobs/x", keys: ["a", "c"], sources: { a: Secret.generated("x"), c: Secret.clusterCa() } }]);
  });

  test("fails on a key declared with two sources, naming both", () => {
    const spec: WorkloadSpec = {
      ...app("x"),
      files: [
        secretEnvFile({ path: "nomad/jobs/x", env: { A: { key: "a", source: Secret.generated("x") } } }),
        secretFile({ destination: "secrets/a", path: "nomad/jobs/x", keys: [{ key: "a", source: Secret.clusterCa() }] }),
      ],
    };
    expect(() => nomadVariablesFor([spec])).toThrow(/^workload x: secret nomad\/jobs\/x\.a: declared from \{"kind":"generated","owner":"x"\} and from \{"kind":"cluster-ca"\}; expected one source per key$/);
  });

  test("the backups read their database's generated password (same owner, same secret), the cluster's tokens, the S3 credentials from variables", () => {
    const needs = nomadVariablesFor(
      Backups.specs({ destination: { endpoint: "https://s3.example.org", bucket: "backups", region: "r" }, clusterCaPem: CLUSTER_CA_TEMPLATE, targets: [BackupTarget.consul(), BackupTarget.postgres({ service: "fleet-db", image: { image: "r/pg-backup", version: "16" } })] }),
    );
    const of = (job: string) => needs.find((n) => n.path === `nomad/jobs/${job}`)!.sources;
    expect(of("backup-fleet-db").postgres_password).toEqual(Secret.generated("fleet-db"));
    expect(of("backup-consul").consul_snapshot_token).toEqual(Secret.clusterToken("consul"));
    expect(of("backup-consul").backup_s3_secret_access_key).toEqual(expect.objectContaining({ kind: "variable" }));
    expect(needs.find((n) => n.path === "nomad/jobs")?.sources).toEqual({ cluster_ca_pem: Secret.clusterCa() });
  });
});

// ---------------------------------------------------------------------------------------------
// Backups

describe("backup scripts", () => {
  test("words are quoted by the renderer; variables are expanded in double quotes; output can be captured", () => {
    const script = renderShellScript("title", [
      { comment: "step one", argv: ["echo", "plain-word", "two words", "it's", "$HOME", "", [ShellVar.of("DIR"), "/file name"]] },
      { argv: ["date", "+%s"], captureTo: "NOW" },
    ]);
    expect(script).toBe(["#!/bin/sh", "# title", "set -eu", "umask 077", "# step one", `echo plain-word 'two words' 'it'\\''s' '$HOME' '' "\${DIR}"'/file name'`, 'NOW="$(date +%s)"', ""].join("\n"));
  });

  test("fails on a line break in a word or comment, a bad variable name, an empty command", () => {
    expect(() => renderShellScript("t", [{ argv: ["echo", "a\nrm -rf /"] }])).toThrow(/word "a\\nrm -rf \/"; expected no line break or NUL/);
    expect(() => renderShellScript("t", [{ comment: "a\nb", argv: ["true"] }])).toThrow(/comment "a\\nb"; expected a single line/);
    expect(() => renderShellScript("t\nx", [])).toThrow(/expected a single line/);
    expect(() => renderShellScript("t", [{ argv: ["date"], captureTo: "now" }])).toThrow(/captureTo: received "now"; expected an upper-case variable name/);
    expect(() => renderShellScript("t", [{ argv: [] }])).toThrow(/a step without command/);
    expect(() => renderShellScript("t", [{ argv: [[]] }])).toThrow(/an empty word/);
    expect(() => ShellVar.of("x; rm")).toThrow(/ShellVar.of: name: received "x; rm"; expected an upper-case variable name/);
  });

  test("cron expressions Nomad accepts", () => {
    for (const ok of ["0 2 * * *", "*/15 * * * *", "0 0 3 * * MON-FRI", "0 30 2 * * * 2027", "@daily"]) expect(isCronExpression(ok)).toBe(true);
    for (const bad of ["", "0 2 * *", "every day", "0 2 * * * * * *", "@sometimes", " 0 2 * * *", "0 2 * * *; rm"]) expect(isCronExpression(bad)).toBe(false);
  });
});

describe("backups", () => {
  const specs = Backups.specs(allBackups());
  const byName = new Map(specs.map((s) => [s.name, s]));
  const get = (name: string) => byName.get(name)!;

  test("one periodic workload per target, nightly and staggered, one task each running the rendered script", () => {
    expect(specs.map((s) => [s.name, s.kind, s.schedule, `${s.image}:${s.version}`])).toEqual([
      ["backup-consul", WorkloadKind.PERIODIC, "0 2 * * *", "hashicorp/consul:1.22.2"],
      ["backup-nomad", WorkloadKind.PERIODIC, "10 2 * * *", "hashicorp/consul:1.22.2"],
      ["backup-postgres", WorkloadKind.PERIODIC, "20 2 * * *", "registry.example.org/pg-backup:17.8-1"],
      ["backup-mariadb", WorkloadKind.PERIODIC, "30 2 * * *", "registry.example.org/mariadb-backup:11.4.13-1"],
      ["backup-influxdb", WorkloadKind.PERIODIC, "40 2 * * *", `influxdb:${InfluxDb.DEFAULT_VERSION}`],
    ]);
    for (const s of specs) {
      expect(s).toMatchObject({ command: "/bin/sh", args: ["/local/backup.sh"], nodeClass: "production" });
      expect(s.port).toBeUndefined();
      expect(file(s, "local/backup.sh").startsWith("#!/bin/sh\n")).toBe(true);
    }
  });

  test("databases are reached through their upstream; the agents' snapshots are not", () => {
    expect(get("backup-postgres").dependsOn).toEqual([{ service: "postgres", localPort: 15432 }]);
    expect(get("backup-mariadb").dependsOn).toEqual([{ service: "mariadb", localPort: 13306 }]);
    expect(get("backup-influxdb").dependsOn).toEqual([{ service: "influxdb", localPort: 18086 }]);
    expect(get("backup-consul").dependsOn).toBeUndefined();
    expect(get("backup-nomad").dependsOn).toBeUndefined();
    expect(validateWorkloads([...dataServices(), ...specs], "test:")).toEqual([]);
  });

  test("uploads: signed S3 PUTs to the other site, keyed by job and time stamp, credentials from a curl config file", () => {
    const script = file(get("backup-postgres"), "local/backup.sh");
    expect(script).toContain('STAMP="$(date -u +%Y%m%dT%H%M%SZ)"\n');
    expect(script).toContain(
      `curl --fail --silent --show-error --retry 3 --config "\${NOMAD_SECRETS_DIR}"/s3.curlrc --aws-sigv4 aws:amz:us-east-1:s3 --header 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --upload-file "\${NOMAD_TASK_DIR}"/postgres.sql.gz https://s3.backup.example.org/platform-backups/primary/backup-postgres/"\${STAMP}"/postgres.sql.gz\n`,
    );
    expect(file(get("backup-postgres"), "secrets/s3.curlrc")).toBe('{{ with nomadVar "nomad/jobs/backup-postgres" }}user = "{{ .backup_s3_access_key_id }}:{{ .backup_s3_secret_access_key }}"\n{{ end }}');
    // The script reads no secret itself: no template action, no key of a variable.
    for (const s of specs) expect(file(s, "local/backup.sh")).not.toMatch(/\{\{|_password|_token|access_key/);
  });

  test("Consul: `consul snapshot save` against the local agent's HTTPS API, checked against the cluster CA, token from the variable", () => {
    const s = get("backup-consul");
    expect(file(s, "local/backup.sh")).toContain('consul snapshot save "${NOMAD_TASK_DIR}"/consul.snap\n');
    expect(file(s, "local/agent.env")).toBe('CONSUL_HTTP_ADDR=https://{{ env "attr.unique.network.ip-address" }}:8501\nCONSUL_CACERT=/local/ca.pem\nCONSUL_TLS_SERVER_NAME=localhost\n');
    expect(s.files?.find((f) => f.destination === "local/agent.env")?.env).toBe(true);
    expect(file(s, "secrets/token.env")).toBe('{{ with nomadVar "nomad/jobs/backup-consul" }}\nCONSUL_HTTP_TOKEN={{ .consul_snapshot_token }}\n{{ end }}\n');
    expect(file(s, "local/ca.pem")).toBe(CA_PEM);
  });

  test("Nomad: the snapshot API of the local agent, token in a header file, archive checked", () => {
    const s = get("backup-nomad");
    const script = file(s, "local/backup.sh");
    expect(script).toContain(
      'curl --fail --silent --show-error --cacert /local/ca.pem --resolve localhost:4646:"${AGENT_IP}" --header @"${NOMAD_SECRETS_DIR}"/nomad.headers --output "${NOMAD_TASK_DIR}"/nomad.snap https://localhost:4646/v1/operator/snapshot\n',
    );
    expect(script).toContain('gzip -t "${NOMAD_TASK_DIR}"/nomad.snap\n');
    expect(file(s, "local/agent.env")).toBe('AGENT_IP={{ env "attr.unique.network.ip-address" }}\n');
    expect(file(s, "secrets/nomad.headers")).toBe('{{ with nomadVar "nomad/jobs/backup-nomad" }}X-Nomad-Token: {{ .nomad_snapshot_token }}\n{{ end }}');
  });

  test("PostgreSQL: pg_dumpall through the upstream by default; per database (custom format) plus the roles when listed", () => {
    expect(file(get("backup-postgres"), "local/backup.sh")).toContain('pg_dumpall --host=127.0.0.1 --port=15432 --username=postgres --no-password --file="${NOMAD_TASK_DIR}"/postgres.sql\ngzip -f "${NOMAD_TASK_DIR}"/postgres.sql\n');
    expect(file(get("backup-postgres"), "secrets/db.env")).toBe('{{ with nomadVar "nomad/jobs/backup-postgres" }}\nPGPASSWORD={{ .postgres_password }}\n{{ end }}\n');
    const [each] = Backups.specs({ destination, targets: [BackupTarget.postgres({ image: pgImage, databases: ["fleet", "staff"], service: "fleet-db", localPort: 15433, user: "backup" })] });
    const script = file(each, "local/backup.sh");
    expect(each.name).toBe("backup-fleet-db");
    expect(each.dependsOn).toEqual([{ service: "fleet-db", localPort: 15433 }]);
    expect(script).toContain('pg_dumpall --host=127.0.0.1 --port=15433 --username=backup --no-password --globals-only --file="${NOMAD_TASK_DIR}"/globals.sql\n');
    expect(script).toContain('pg_dump --host=127.0.0.1 --port=15433 --username=backup --no-password --format=custom --dbname=staff --file="${NOMAD_TASK_DIR}"/staff.dump\n');
    expect(linesOf(script, "curl").map((l) => l.split("/").pop())).toEqual(["globals.sql.gz", "fleet.dump", "staff.dump"]);
  });

  test("MariaDB and InfluxDB: their dump tools through the upstream, credentials in the environment", () => {
    expect(file(get("backup-mariadb"), "local/backup.sh")).toContain(
      'mariadb-dump --host=127.0.0.1 --port=13306 --user=root --all-databases --single-transaction --routines --events --triggers --result-file="${NOMAD_TASK_DIR}"/mariadb.sql\n',
    );
    expect(file(get("backup-mariadb"), "secrets/db.env")).toContain("MYSQL_PWD={{ .mariadb_root_password }}");
    const influx = file(get("backup-influxdb"), "local/backup.sh");
    expect(influx).toContain('influx backup "${NOMAD_TASK_DIR}"/influxdb --host http://127.0.0.1:18086\n');
    expect(influx).toContain('tar -czf "${NOMAD_TASK_DIR}"/influxdb.tar.gz -C "${NOMAD_TASK_DIR}"/influxdb .\n');
    expect(file(get("backup-influxdb"), "secrets/db.env")).toContain("INFLUX_TOKEN={{ .influxdb_admin_token }}");
  });

  test("the Nomad variables the backups need: S3 credentials everywhere, plus each source's credential (same key names as the services')", () => {
    expect(nomadVariablesFor(specs)).toEqual([
      expect.objectContaining({ workload: "backup-consul", path: "nomad/jobs/backup-consul", keys: ["backup_s3_access_key_id", "backup_s3_secret_access_key", "consul_snapshot_token"] }),
      expect.objectContaining({ workload: "backup-influxdb", path: "nomad/jobs/backup-influxdb", keys: ["backup_s3_access_key_id", "backup_s3_secret_access_key", "influxdb_admin_token"] }),
      expect.objectContaining({ workload: "backup-mariadb", path: "nomad/jobs/backup-mariadb", keys: ["backup_s3_access_key_id", "backup_s3_secret_access_key", "mariadb_root_password"] }),
      expect.objectContaining({ workload: "backup-nomad", path: "nomad/jobs/backup-nomad", keys: ["backup_s3_access_key_id", "backup_s3_secret_access_key", "nomad_snapshot_token"] }),
      expect.objectContaining({ workload: "backup-postgres", path: "nomad/jobs/backup-postgres", keys: ["backup_s3_access_key_id", "backup_s3_secret_access_key", "postgres_password"] }),
    ]);
  });

  test("schedules, resources, images and class are props; the CA may be a token", () => {
    const [s] = Backups.specs({
      destination: { ...destination, prefix: undefined },
      clusterCaPem: "${TfToken[TOKEN.1]}",
      nodeClass: "utility",
      targets: [BackupTarget.consul({ schedule: "@hourly", resources: { cpuMhz: 100, memoryMb: 64 }, image: { image: "hashicorp/consul", version: "1.22.3" } })],
    });
    expect(s).toMatchObject({ schedule: "@hourly", resources: { cpuMhz: 100, memoryMb: 64 }, version: "1.22.3", nodeClass: "utility" });
    expect(file(s, "local/backup.sh")).toContain("/platform-backups/platform/backup-consul/");
  });

  test("every backup builds a valid periodic batch job through the Nomad model", () => {
    for (const s of specs) {
      const job = (workloadJob(s, ["dc1"]).toJson() as any).Job;
      expect(job).toMatchObject({ ID: s.name, Type: "batch", Periodic: { Enabled: true, SpecType: "cron", Specs: [s.schedule], ProhibitOverlap: true } });
      expect(job.TaskGroups[0].Tasks[0].Config).toMatchObject({ command: "/bin/sh", args: ["/local/backup.sh"] });
    }
  });
});

describe("backup validation", () => {
  const fails = (props: BackupsProps, message: RegExp) => {
    expect(() => Backups.specs(props)).toThrow(ProblemsError);
    expect(() => Backups.specs(props)).toThrow(message);
  };

  test("fails on an endpoint that is not an https:// URL of a host", () => {
    for (const endpoint of ["http://s3.example.org", "https://s3.example.org/", "https://s3.example.org/bucket", "s3.example.org", "https://s3 .example.org"]) {
      fails(allBackups({ destination: { ...destination, endpoint } }), /backups: destination.endpoint: received .*; expected an https:\/\/ URL with a host and optional port, without path or trailing slash/);
    }
    expect(() => Backups.specs(allBackups({ destination: { ...destination, endpoint: "https://10.1.0.5:9000" } }))).not.toThrow();
  });

  test("fails on a bad bucket, region or prefix", () => {
    fails(allBackups({ destination: { ...destination, bucket: "My_Bucket" } }), /destination.bucket: received "My_Bucket"; expected an S3 bucket name/);
    fails(allBackups({ destination: { ...destination, region: "" } }), /destination.region: received ""; expected a region name/);
    fails(allBackups({ destination: { ...destination, prefix: "/primary/" } }), /destination.prefix: received "\/primary\/"; expected segments/);
    fails(allBackups({ destination: { ...destination, prefix: "a/../b" } }), /destination.prefix: received "a\/..\/b"/);
  });

  test("fails without targets, and on two targets with the same job", () => {
    fails(allBackups({ targets: [] }), /targets: received \[\]; expected at least one target/);
    fails(allBackups({ targets: [BackupTarget.consul(), BackupTarget.consul({ schedule: "@daily" })] }), /targets\[1\] \(consul\): job backup-consul is also targets\[0\]'s; expected one target per source and service/);
  });

  test("fails on Consul or Nomad snapshots without the cluster CA, or with something else", () => {
    fails(allBackups({ clusterCaPem: undefined }), /clusterCaPem: received nothing; expected the cluster CA certificate \(PEM\)/);
    fails(allBackups({ clusterCaPem: "not a certificate" }), /clusterCaPem: received "not a certificate"/);
    fails(allBackups({ clusterCaPem: "-----BEGIN CERTIFICATE-----\n{{ x }}\n-----END CERTIFICATE-----" }), /clusterCaPem: contains "\{\{"/);
    expect(() => Backups.specs({ destination, targets: [BackupTarget.postgres({ image: pgImage })] })).not.toThrow();
  });

  test("fails on a bad schedule", () => {
    fails(allBackups({ targets: [BackupTarget.nomad({ schedule: "nightly" })] }), /targets\[0\] \(nomad\): schedule: received "nightly"; expected a cron expression of 5 to 7 fields/);
  });

  test("fails on a missing or floating image (PostgreSQL and MariaDB have no default)", () => {
    fails(allBackups({ targets: [BackupTarget.postgres({} as PostgresBackupProps)] }), /targets\[0\] \(postgres\): image: received nothing; expected an image with sh, curl and the postgres client/);
    fails(allBackups({ targets: [BackupTarget.influxdb({ image: { image: "influxdb", version: "latest" } })] }), /image.version: received "latest"; expected a pinned tag/);
    fails(allBackups({ targets: [BackupTarget.mariadb({ image: { image: "Maria DB", version: "1" } })] }), /image.image: received "Maria DB"; expected an image reference without tag/);
  });

  test("fails on bad resources, local port, service, user, databases or node class", () => {
    fails(allBackups({ targets: [BackupTarget.consul({ resources: { cpuMhz: 0, memoryMb: 64 } })] }), /targets\[0\] \(consul\): resources: received .*; expected whole numbers/);
    fails(allBackups({ targets: [BackupTarget.influxdb({ localPort: 21000 })] }), /targets\[0\] \(influxdb\): localPort: received 21000; expected a port in 1024-65535 outside Nomad's dynamic range 20000-32000/);
    fails(allBackups({ targets: [BackupTarget.mariadb({ image: mariaImage, service: "Maria" })] }), /targets\[0\] \(mariadb\): service: received "Maria"; expected a Consul service name/);
    fails(allBackups({ targets: [BackupTarget.postgres({ image: pgImage, user: "Robert'); DROP" })] }), /user: received "Robert'\); DROP"; expected a PostgreSQL role name/);
    fails(allBackups({ targets: [BackupTarget.postgres({ image: pgImage, databases: [] })] }), /databases: received \[\]; expected at least one database/);
    fails(allBackups({ targets: [BackupTarget.postgres({ image: pgImage, databases: ["a b"] })] }), /databases: received "a b"; expected a database name/);
    fails(allBackups({ nodeClass: "a b" }), /backups: nodeClass: received "a b"; expected a Nomad node class/);
  });

  test("lists every problem at once", () => {
    try {
      Backups.specs({ destination: { endpoint: "ftp://x", bucket: "B", region: "R" }, targets: [BackupTarget.consul({ schedule: "x" })] });
      throw new Error("no error");
    } catch (e) {
      expect((e as ProblemsError).problems).toHaveLength(5);
    }
  });

  test("the sources", () => {
    expect(Object.values(BackupSource)).toEqual(["consul", "nomad", "postgres", "mariadb", "influxdb"]);
  });
});
