/**
 * Real tier of the Nomad job model: jobs built with constructs/nomad are checked by a real Nomad
 * agent (dev mode, loopback only, random ports, temporary data dir).
 *
 * - `nomad job validate -json FILE` and `POST /v1/validate/job` accept the realistic jobs;
 * - they reject a hand-broken job, and every job the model rejects that Nomad also has a rule for
 *   (built with validation bypassed), so these tests can fail;
 * - `nomad job run -json -detach` registers the jobs, and `GET /v1/job/<id>` gives back the groups,
 *   tasks, services, checks, update and scaling blocks exactly as declared (placement may fail: there
 *   is no Docker engine here; registration is what is checked).
 *
 * Runs only with REAL_TESTS=1. A missing `nomad` binary fails the suite, it never skips it.
 */
import {
  AddressMode,
  AutoscalerPolicy,
  ChangeMode,
  Check,
  CheckProtocol,
  ConnectSidecar,
  Constraint,
  ConstraintOperator,
  DelayFunction,
  Driver,
  Duration,
  HealthCheckMode,
  HostVolumeAccessMode,
  JobType,
  Network,
  NetworkMode,
  NomadJobSpec,
  NomadJobSpecProps,
  Periodic,
  Port,
  PropagationMode,
  ReschedulePolicy,
  RestartMode,
  RestartPolicy,
  ScalingCheck,
  ScalingPolicy,
  ScalingStrategy,
  Service,
  ServiceProvider,
  Spread,
  Task,
  TaskGroup,
  Template,
  UpdateStrategy,
  Volume,
  WorkloadIdentity,
} from "../../constructs/nomad";
import { describeRun, makeTempDir, removeDir, run, RunResult, writeFile, NomadDevAgent, startNomadDevAgent } from "./real-helpers";

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---------------------------------------------------------------------------------------------
// Realistic jobs, built with the model.

/** A web service: docker, Connect sidecar with upstreams, checks, canary update, scaling; plus a cache group. */
function webJob(): NomadJobSpec {
  const http = Port.dynamic("http", { to: 8080 });
  const redis = Port.static("redis", 6379);
  const data = Volume.host("cache-data", { source: "cache-data" });
  return new NomadJobSpec({
    id: "shop-web",
    datacenters: ["dc1"],
    priority: 60,
    meta: { owner: "shop-team" },
    constraints: [Constraint.attribute("${attr.kernel.name}", "linux")],
    groups: [
      new TaskGroup({
        name: "web",
        count: 2,
        network: new Network({ mode: NetworkMode.BRIDGE, ports: [http] }),
        services: [
          new Service({
            name: "shop-web",
            port: 8080,
            tags: ["http", "traefik.enable=true"],
            connect: ConnectSidecar.upstreams([
              { destinationName: "shop-api", localBindPort: 9000 },
              { destinationName: "shop-cache", localBindPort: 6379 },
            ]),
            checks: [Check.http({ name: "health", path: "/healthz", expose: true, interval: Duration.seconds(5), timeout: Duration.seconds(2), restart: { limit: 3, grace: Duration.seconds(30) } })],
          }),
        ],
        scaling: new ScalingPolicy({
          min: 2,
          max: 6,
          policy: new AutoscalerPolicy({
            evaluationInterval: Duration.seconds(10),
            cooldown: Duration.minutes(1),
            checks: [
              ScalingCheck.prometheus("rps", {
                query: 'sum(rate(http_requests_total{job="shop-web"}[1m]))',
                queryWindow: Duration.minutes(1),
                strategy: ScalingStrategy.targetValue(100),
              }),
            ],
          }),
        }),
        restart: new RestartPolicy({ attempts: 2, interval: Duration.minutes(5), delay: Duration.seconds(15) }),
        tasks: [
          new Task({
            name: "web",
            driver: Driver.docker({ image: "registry.example.org/shop/web:1.4.2", ports: [http], args: ["--listen", ":8080"] }),
            resources: { cpuMhz: 300, memoryMb: 256 },
            env: { API_URL: "http://127.0.0.1:9000", PORT: "${NOMAD_PORT_http}" },
            templates: [
              new Template({ destination: "secrets/app.env", data: '{{ with nomadVar "nomad/jobs/shop-web" }}TOKEN={{ .token }}{{ end }}\n', env: true, changeMode: ChangeMode.restart() }),
              new Template({ destination: "local/feature-flags.json", data: "{}", changeMode: ChangeMode.signal("SIGHUP") }),
            ],
            identity: WorkloadIdentity.default({ env: true }),
            identities: [WorkloadIdentity.named("aws", { audience: ["sts.amazonaws.com"], file: true, ttl: Duration.hours(1) })],
            killTimeout: Duration.seconds(20),
          }),
        ],
      }),
      new TaskGroup({
        name: "cache",
        network: new Network({ ports: [redis] }),
        volumes: [data],
        services: [new Service({ name: "shop-cache", port: redis, provider: ServiceProvider.NOMAD, checks: [Check.tcp({ interval: Duration.seconds(10) })] })],
        tasks: [
          new Task({
            name: "redis",
            driver: Driver.docker({ image: "redis:7.4", ports: [redis] }),
            resources: { cpuMhz: 200, memoryMb: 256 },
            volumeMounts: [{ volume: data, destination: "/data" }],
          }),
        ],
      }),
    ],
  });
}

/** A periodic batch job with a task and a template. */
function backupJob(): NomadJobSpec {
  return new NomadJobSpec({
    id: "pg-backup",
    type: JobType.BATCH,
    datacenters: ["dc1"],
    periodic: Periodic.cron("0 3 * * *", { prohibitOverlap: true, timeZone: "Europe/Paris" }),
    groups: [
      new TaskGroup({
        name: "backup",
        restart: new RestartPolicy({ attempts: 1, interval: Duration.hours(1), delay: Duration.seconds(30) }),
        tasks: [
          new Task({
            name: "dump",
            driver: Driver.docker({ image: "postgres:16", command: "/usr/bin/pg_dumpall", args: ["--file", "${NOMAD_ALLOC_DIR}/dump.sql"] }),
            resources: { cpuMhz: 500, memoryMb: 256 },
            templates: [new Template({ destination: "secrets/pg.env", data: "PGHOST=db.service.consul\n", env: true })],
          }),
        ],
      }),
    ],
  });
}

/** A system job: one exporter per node, registered in Nomad's service discovery. */
function exporterJob(): NomadJobSpec {
  const metrics = Port.static("metrics", 9100);
  return new NomadJobSpec({
    id: "node-exporter",
    type: JobType.SYSTEM,
    update: new UpdateStrategy({ canary: 0, maxParallel: 2 }),
    groups: [
      new TaskGroup({
        name: "exporter",
        network: new Network({ ports: [metrics] }),
        services: [new Service({ name: "node-exporter", port: metrics, provider: ServiceProvider.NOMAD, checks: [Check.http({ path: "/metrics" })] })],
        tasks: [
          new Task({
            name: "exporter",
            driver: Driver.docker({ image: "prom/node-exporter:v1.8.2", ports: [metrics], args: ["--path.rootfs=/host"] }),
            resources: { cpuMhz: 100, memoryMb: 64 },
          }),
        ],
      }),
    ],
  });
}

/**
 * A service job that sets every other field the model can emit, so the read-back below checks
 * every JSON field name against what Nomad stores.
 */
function everyFieldJob(): NomadJobSpec {
  const grpc = Port.dynamic("grpc", { to: 9090 });
  const admin = Port.static("admin", 19000, { to: 9000, hostNetwork: "private" });
  const certs = Volume.host("certs", { source: "certs", readOnly: true });
  const scratch = Volume.host("scratch", { source: "scratch", accessMode: HostVolumeAccessMode.SINGLE_NODE_WRITER, sticky: true });
  return new NomadJobSpec({
    id: "every-field",
    name: "Every field",
    region: "global",
    namespace: "default",
    nodePool: "default",
    datacenters: ["dc1", "dc*"],
    priority: 40,
    constraints: [Constraint.attribute("${attr.cpu.arch}", "amd64|arm64", ConstraintOperator.REGEXP), Constraint.distinctHosts()],
    spreads: [Spread.attribute("${node.datacenter}", { weight: 70, targets: [{ value: "dc1", percent: 60 }, { value: "dc2", percent: 40 }] })],
    update: new UpdateStrategy({ maxParallel: 2, canary: 1, healthCheck: HealthCheckMode.CHECKS, minHealthyTime: Duration.seconds(15), healthyDeadline: Duration.minutes(3), progressDeadline: Duration.minutes(8), stagger: Duration.seconds(20) }),
    reschedule: ReschedulePolicy.limited({ attempts: 3, interval: Duration.hours(1), delay: Duration.seconds(10), delayFunction: DelayFunction.FIBONACCI, maxDelay: Duration.minutes(10) }),
    groups: [
      new TaskGroup({
        name: "api",
        count: 3,
        meta: { tier: "backend" },
        shutdownDelay: Duration.seconds(5),
        network: new Network({ mode: NetworkMode.BRIDGE, hostname: "api-${NOMAD_ALLOC_INDEX}", dns: { servers: ["10.0.0.2"], searches: ["service.consul"], options: ["ndots:2"] }, ports: [grpc, admin] }),
        volumes: [certs, scratch],
        constraints: [Constraint.distinctProperty("${meta.rack}", 2), Constraint.isSet("${meta.rack}")],
        spreads: [Spread.attribute("${meta.rack}", { weight: 30 })],
        restart: new RestartPolicy({ attempts: 3, interval: Duration.minutes(10), delay: Duration.seconds(20), mode: RestartMode.DELAY, renderTemplates: true }),
        reschedule: ReschedulePolicy.unlimited({ delay: Duration.seconds(15), delayFunction: DelayFunction.EXPONENTIAL, maxDelay: Duration.minutes(30) }),
        update: new UpdateStrategy({ canary: 2, autoRevert: false }),
        scaling: new ScalingPolicy({ min: 1, max: 5, enabled: false }),
        services: [
          new Service({
            name: "api",
            port: 9090,
            tags: ["grpc"],
            canaryTags: ["canary"],
            meta: { proto: "grpc" },
            addressMode: AddressMode.ALLOC,
            connect: ConnectSidecar.inbound({ tags: ["mesh"], resources: { cpuMhz: 100, memoryMb: 96 } }),
            checks: [Check.http({ name: "api-health", path: "/health", expose: true, interval: Duration.seconds(10), timeout: Duration.seconds(3) })],
          }),
          new Service({
            name: "api-admin",
            port: admin,
            addressMode: AddressMode.HOST,
            checks: [
              Check.http({ name: "admin-ready", path: "/ready", method: "POST", protocol: CheckProtocol.HTTPS, headers: { "X-Probe": ["nomad"] }, tlsSkipVerify: true }),
              Check.script({ name: "admin-script", command: "/bin/check", args: ["--admin"], task: "api", restart: { limit: 2, grace: Duration.seconds(20), ignoreWarnings: true } }),
            ],
          }),
        ],
        tasks: [
          new Task({
            name: "api",
            user: "nobody",
            leader: true,
            killSignal: "SIGTERM",
            killTimeout: Duration.seconds(30),
            driver: Driver.docker({
              image: "registry.example.org/api:2.0.0",
              command: "/bin/api",
              args: ["serve"],
              entrypoint: ["/tini", "--"],
              ports: [grpc, admin],
              forcePull: true,
              labels: { app: "api" },
              volumes: ["local/conf:/etc/api"],
              workDir: "/srv",
            }),
            resources: { cpuMhz: 400, memoryMb: 512 },
            env: { GRPC_PORT: "9090" },
            meta: { owner: "api-team" },
            volumeMounts: [
              { volume: certs, destination: "/certs", readOnly: true, propagationMode: PropagationMode.PRIVATE },
              { volume: scratch, destination: "/scratch" },
            ],
            templates: [
              new Template({ destination: "local/api.hcl", source: "local/api.hcl.tpl", changeMode: ChangeMode.signal("SIGHUP"), perms: "0640", splay: Duration.seconds(3), leftDelimiter: "[[", rightDelimiter: "]]" }),
              new Template({ destination: "local/reload.env", data: "X=1\n", env: true, changeMode: ChangeMode.script({ command: "/bin/reload", args: ["-q"], timeout: Duration.seconds(10), failOnError: true }) }),
              new Template({ destination: "local/static.txt", data: "static", changeMode: ChangeMode.noop() }),
            ],
            identity: WorkloadIdentity.default({ env: true, file: true }),
            identities: [WorkloadIdentity.named("db", { audience: ["db.example.org"], file: true, ttl: Duration.minutes(30), changeMode: ChangeMode.signal("SIGUSR1") })],
            restart: new RestartPolicy({ attempts: 1, interval: Duration.minutes(5), delay: Duration.seconds(10) }),
            constraints: [Constraint.attribute("${attr.kernel.name}", "linux")],
          }),
          new Task({ name: "log-shipper", driver: Driver.docker({ image: "timberio/vector:0.39.0-alpine", args: ["--config", "local/vector.toml"] }), resources: { cpuMhz: 50, memoryMb: 64, memoryMaxMb: 64 } }),
        ],
      }),
    ],
  });
}

/** A sysbatch job on several cron schedules, paused. */
function sysbatchJob(): NomadJobSpec {
  return new NomadJobSpec({
    id: "node-cleanup",
    type: JobType.SYSBATCH,
    periodic: Periodic.crons(["0 4 * * *", "@weekly"], { prohibitOverlap: false, enabled: false }),
    groups: [
      new TaskGroup({
        name: "cleanup",
        tasks: [new Task({ name: "prune", driver: Driver.docker({ image: "alpine:3.20", command: "/bin/true" }), resources: { cpuMhz: 50, memoryMb: 32 } })],
      }),
    ],
  });
}

const REALISTIC: ReadonlyArray<readonly [string, () => NomadJobSpec]> = [
  ["web service with Connect, checks, canary update and scaling", webJob],
  ["periodic batch job", backupJob],
  ["system job", exporterJob],
  ["service job setting every other field", everyFieldJob],
  ["periodic sysbatch job", sysbatchJob],
];

// Jobs the model rejects for a rule Nomad also enforces, built with validation bypassed, with the
// message Nomad 1.11 gives for that rule.
function baseGroup(extra: Partial<ConstructorParameters<typeof TaskGroup>[0]> = {}): TaskGroup {
  return new TaskGroup({
    name: "g",
    tasks: [new Task({ name: "t", driver: Driver.docker({ image: "nginx:1.27" }), resources: { cpuMhz: 100, memoryMb: 64 } })],
    ...extra,
  });
}
function unvalidated(props: Partial<NomadJobSpecProps>): NomadJobSpec {
  return NomadJobSpec._unvalidated({ id: "broken", datacenters: ["dc1"], groups: [baseGroup()], ...props });
}
const meshNetwork = () => new Network({ mode: NetworkMode.BRIDGE, ports: [Port.dynamic("http", { to: 8080 })] });

const REJECTED: ReadonlyArray<readonly [string, () => NomadJobSpec, RegExp]> = [
  ["a negative count", () => unvalidated({ groups: [baseGroup({ count: -1 })] }), /Task group count can't be negative/],
  ["two ports with the same label", () => unvalidated({ groups: [baseGroup({ network: new Network({ ports: [Port.dynamic("http"), Port.static("http", 8081)] }) })] }), /Port label http already in use/],
  ["resources below Nomad's minimum", () => unvalidated({ groups: [baseGroup({ tasks: [new Task({ name: "t", driver: Driver.docker({ image: "nginx" }), resources: { cpuMhz: 100, memoryMb: 5 } })] })] }), /minimum MemoryMB value is 10; got 5/],
  ["two groups with the same name", () => unvalidated({ groups: [baseGroup(), baseGroup()] }), /Job task group 2 redefines 'g' from group 1/],
  ["a periodic service job", () => unvalidated({ periodic: Periodic.cron("0 3 * * *") }), /Periodic can only be used with "batch" or "sysbatch" scheduler/],
  ["an update block on a batch job", () => unvalidated({ type: JobType.BATCH, update: new UpdateStrategy() }), /Job type "batch" does not allow update block/],
  ["a reschedule policy on a system job", () => unvalidated({ type: JobType.SYSTEM, reschedule: ReschedulePolicy.DEFAULT }), /System or sysbatch jobs should not have a reschedule policy/],
  ["a spread on a system job", () => unvalidated({ type: JobType.SYSTEM, spreads: [Spread.attribute("${node.datacenter}")] }), /System jobs may not have a spread block/],
  ["a system group with count 2", () => unvalidated({ type: JobType.SYSTEM, groups: [baseGroup({ count: 2 })] }), /Count cannot exceed 1 with system scheduler/],
  ["a count above scaling max", () => unvalidated({ groups: [baseGroup({ count: 5, scaling: new ScalingPolicy({ min: 1, max: 3 }) })] }), /task group count must not be greater than maximum count in scaling policy/],
  ["scaling min above max", () => unvalidated({ groups: [baseGroup({ count: 2, scaling: new ScalingPolicy({ min: 4, max: 2 }) })] }), /maximum count must not be less than minimum count/],
  ["auto-promote without canaries", () => unvalidated({ update: new UpdateStrategy({ canary: 0, autoPromote: true }) }), /Auto Promote requires a Canary count greater than zero/],
  ["min healthy time not below the healthy deadline", () => unvalidated({ update: new UpdateStrategy({ minHealthyTime: Duration.minutes(6) }) }), /Minimum healthy time must be less than healthy deadline/],
  ["a restart policy that cannot fit its attempts", () => unvalidated({ groups: [baseGroup({ restart: new RestartPolicy({ attempts: 10, interval: Duration.minutes(1), delay: Duration.seconds(15) }) })] }), /Nomad can't restart the TaskGroup 10 times in an interval of 1m0s with a delay of 15s/],
  ["a check interval below 1s", () => unvalidated({ groups: [baseGroup({ network: meshNetwork(), services: [new Service({ name: "s", port: "http", checks: [Check.http({ path: "/", interval: Duration.millis(100) })] })] })] }), /interval \(100ms\) cannot be lower than 1s/],
  ["an http check without a path", () => unvalidated({ groups: [baseGroup({ network: meshNetwork(), services: [new Service({ name: "s", port: "http", checks: [Check.http({ path: "" })] })] })] }), /http type must have http path/],
  ["a script check on a nomad-provider service", () => unvalidated({ groups: [baseGroup({ network: meshNetwork(), services: [new Service({ name: "s", port: "http", provider: ServiceProvider.NOMAD, checks: [Check.script({ command: "/bin/true", task: "t" })] })] })] }), /invalid check type \("script"\), must be one of tcp, http/],
  ["a tcp check on a Connect service", () => unvalidated({ groups: [baseGroup({ network: meshNetwork(), services: [new Service({ name: "s", port: 8080, connect: ConnectSidecar.inbound(), checks: [Check.tcp({ port: "http" })] })] })] }), /tcp checks are not valid for Connect enabled services/],
  ["a Connect service in host network mode", () => unvalidated({ groups: [baseGroup({ network: new Network({ ports: [Port.dynamic("http")] }), services: [new Service({ name: "s", port: 8080, connect: ConnectSidecar.inbound(), checks: [Check.http({ path: "/", port: "http" })] })] })] }), /invalid network mode for Consul Connect: group "g" uses network mode "host"/],
  ["a cron expression with the wrong field count", () => unvalidated({ type: JobType.BATCH, periodic: Periodic.cron("0 3 * *") }), /Invalid cron spec "0 3 \* \*": missing field\(s\)/],
];

// ---------------------------------------------------------------------------------------------
// Helpers


/**
 * Differences between `actual` and what `expected` declares: every key of an expected object must
 * match; arrays of named objects (Name, Label, DestinationName, DestPath, Attribute) are matched by
 * name, other arrays of objects by position (Nomad may append its own elements, e.g. the injected
 * Connect sidecar task or implicit constraints); arrays of scalars must be equal.
 */
function differences(actual: Json, expected: Json, at: string): string[] {
  if (expected === null || typeof expected !== "object") {
    return actual === expected ? [] : [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected an array, got ${JSON.stringify(actual)}`];
    if (expected.every((e) => e === null || typeof e !== "object")) {
      return JSON.stringify(actual) === JSON.stringify(expected) ? [] : [`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
    }
    const key = ["Name", "Label", "DestinationName", "DestPath", "Attribute"].find((k) => expected.every((e) => e && typeof e === "object" && k in e));
    return expected.flatMap((e, i) => {
      if (key) {
        const match = actual.find((a: Json) => a && a[key] === e[key]);
        return match === undefined ? [`${at}: no element with ${key} ${JSON.stringify(e[key])}`] : differences(match, e, `${at}[${key}=${e[key]}]`);
      }
      return i < actual.length ? differences(actual[i], e, `${at}[${i}]`) : [`${at}[${i}]: missing`];
    });
  }
  if (actual === null || typeof actual !== "object") return [`${at}: expected an object, got ${JSON.stringify(actual)}`];
  return Object.keys(expected).flatMap((k) => differences(actual[k], expected[k], `${at}.${k}`));
}

// ---------------------------------------------------------------------------------------------

d("Nomad job model against a real Nomad agent", () => {
  let dir: string | undefined;
  let nomadAgent: NomadDevAgent | undefined;
  let addr = "";

  /** Runs the nomad CLI against the test agent. */
  function nomad(args: readonly string[]): RunResult {
    return run("nomad", args, { env: { NOMAD_ADDR: addr }, timeoutMs: 60_000 });
  }

  async function api(method: "GET" | "POST" | "PUT", route: string, body?: unknown): Promise<{ status: number; json: Json; text: string }> {
    const res = await fetch(`${addr}${route}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: Json = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON: error text */
    }
    return { status: res.status, json, text };
  }

  function writeJob(spec: NomadJobSpec, name = spec.id): string {
    return writeFile(dir as string, `jobs/${name}.json`, `${JSON.stringify(spec.toJson(), null, 2)}\n`);
  }

  beforeAll(async () => {
    dir = makeTempDir("nomad-real");
    nomadAgent = await startNomadDevAgent(dir, "agent");
    addr = nomadAgent.addr;

    // memoryMaxMb is only honoured (and accepted without a warning) with memory oversubscription on,
    // as on the platform's clusters.
    const current = await api("GET", "/v1/operator/scheduler/configuration");
    const updated = await api("PUT", "/v1/operator/scheduler/configuration", { ...current.json.SchedulerConfig, MemoryOversubscriptionEnabled: true });
    if (updated.status !== 200) throw new Error(`enabling memory oversubscription failed: ${updated.status} ${updated.text}`);
  }, 120_000);

  afterAll(async () => {
    await nomadAgent?.stop();
    removeDir(dir);
  }, 30_000);

  test("the agent is the pinned Nomad 1.11", () => {
    const r = nomad(["version"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Nomad v1\.11\./);
  });

  test.each(REALISTIC)("nomad job validate -json accepts the %s", (_name, build) => {
    // GIVEN a job built with the model, written as the API JSON
    const file = writeJob(build());
    // WHEN the CLI validates it against the agent
    const r = nomad(["job", "validate", "-json", file]);
    // THEN it passes, without warnings
    expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: expect.stringContaining("Job validation successful") });
    expect(r.output).not.toMatch(/warning/i);
  });

  test.each(REALISTIC)("POST /v1/validate/job accepts the %s", async (_name, build) => {
    const res = await api("POST", "/v1/validate/job", build().toJson());
    expect(res.status).toBe(200);
    expect({ errors: res.json.ValidationErrors ?? [], error: res.json.Error ?? "", warnings: res.json.Warnings ?? "" }).toEqual({ errors: [], error: "", warnings: "" });
  });

  test("a hand-broken job fails nomad job validate and the validate API", async () => {
    // GIVEN the web job with a negative count and a task without memory, edited in its JSON form
    const doc: Json = JSON.parse(JSON.stringify(webJob().toJson()));
    doc.Job.TaskGroups[1].Count = -1;
    doc.Job.TaskGroups[1].Tasks[0].Resources.MemoryMB = 1;
    const file = writeFile(dir as string, "jobs/broken.json", JSON.stringify(doc));
    // WHEN validated
    const cli = nomad(["job", "validate", "-json", file]);
    const res = await api("POST", "/v1/validate/job", doc);
    // THEN both reject it, naming the problems
    expect(cli.status).not.toBe(0);
    expect(cli.output).toMatch(/count can't be negative/i);
    expect(cli.output).toMatch(/minimum MemoryMB value is 10; got 1/);
    expect(res.json.ValidationErrors.join("\n")).toMatch(/count can't be negative/i);
  });

  test.each(REJECTED)("Nomad, like the model, rejects %s", async (_name, build, nomadMessage) => {
    // GIVEN a job the model rejects, built with validation bypassed
    const spec = build();
    expect(spec.validate()).not.toEqual([]);
    // WHEN Nomad validates it
    const res = await api("POST", "/v1/validate/job", spec.toJson());
    const errors = [...(res.json?.ValidationErrors ?? []), res.json?.Error ?? "", res.status === 200 ? "" : res.text].filter((x) => x);
    // THEN Nomad rejects it too, for that rule
    expect(errors).not.toEqual([]);
    expect(errors.join("\n")).toMatch(nomadMessage);
  });

  test.each(REALISTIC)("nomad job run -json registers the %s and the API returns it as declared", async (_name, build) => {
    // GIVEN a job built with the model
    const spec = build();
    const declared: Json = spec.toJson().Job;
    // WHEN it is registered with the CLI
    const r = nomad(["job", "run", "-json", "-detach", writeJob(spec)]);
    expect({ status: r.status, run: r.status === 0 ? "" : describeRun(r) }).toEqual({ status: 0, run: "" });
    // THEN the registered job has every declared field
    const res = await api("GET", `/v1/job/${encodeURIComponent(spec.id)}`);
    expect(res.status).toBe(200);
    const actual = res.json;
    // The job-level update and reschedule blocks are merged into every group by Nomad.
    const { Update: jobUpdate, Reschedule: jobReschedule, ...jobRest } = declared;
    const expectedJob = {
      ...jobRest,
      TaskGroups: declared.TaskGroups.map((g: Json) => ({
        ...g,
        ...(jobUpdate || g.Update ? { Update: { ...(jobUpdate ?? {}), ...(g.Update ?? {}) } } : {}),
        ...(jobReschedule || g.ReschedulePolicy ? { ReschedulePolicy: { ...(jobReschedule ?? {}), ...(g.ReschedulePolicy ?? {}) } } : {}),
      })),
    };
    expect(differences(actual, expectedJob, "Job")).toEqual([]);
    expect(actual.TaskGroups).toHaveLength(declared.TaskGroups.length);
  });

  test("the registered web job has the declared services, checks, canary update, Connect upstreams and scaling", async () => {
    const job = (await api("GET", "/v1/job/shop-web")).json;
    const web = job.TaskGroups.find((g: Json) => g.Name === "web");
    expect(web.Count).toBe(2);
    expect(web.Update).toMatchObject({ Canary: 1, AutoPromote: true, AutoRevert: true, MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10e9, HealthyDeadline: 300e9, ProgressDeadline: 600e9 });
    expect(web.ReschedulePolicy).toMatchObject({ Unlimited: true, DelayFunction: "exponential", Delay: 30e9, MaxDelay: 3600e9 });
    expect(web.Spreads).toEqual([expect.objectContaining({ Attribute: "${node.unique.id}", Weight: 50 })]);
    expect(web.Scaling).toMatchObject({ Min: 2, Max: 6, Enabled: true, Type: "horizontal", Target: { Job: "shop-web", Group: "web" } });
    expect(web.Scaling.Policy.check[0].rps[0].strategy[0]["target-value"][0].target).toBe(100);
    const svc = web.Services.find((s: Json) => s.Name === "shop-web");
    expect(svc.Connect.SidecarService.Proxy.Upstreams).toEqual([
      expect.objectContaining({ DestinationName: "shop-api", LocalBindPort: 9000 }),
      expect.objectContaining({ DestinationName: "shop-cache", LocalBindPort: 6379 }),
    ]);
    expect(svc.Checks).toEqual([expect.objectContaining({ Name: "health", Type: "http", Path: "/healthz", Expose: true, Interval: 5e9, Timeout: 2e9 })]);
    // Nomad injected the sidecar task next to the declared one.
    expect(web.Tasks.map((t: Json) => t.Name).sort()).toEqual(["connect-proxy-shop-web", "web"]);
    const task = web.Tasks.find((t: Json) => t.Name === "web");
    expect(task.Resources).toMatchObject({ CPU: 300, MemoryMB: 256 });
    expect(task.Identities).toEqual([expect.objectContaining({ Name: "aws", Audience: ["sts.amazonaws.com"], File: true, TTL: 3600e9 })]);
  });

  test("the registered periodic job keeps its schedule", async () => {
    const job = (await api("GET", "/v1/job/pg-backup")).json;
    expect(job.Type).toBe("batch");
    expect(job.Periodic).toMatchObject({ Enabled: true, SpecType: "cron", Specs: ["0 3 * * *"], ProhibitOverlap: true, TimeZone: "Europe/Paris" });
    expect(job.TaskGroups[0].Update).toBeNull();
  });
});
