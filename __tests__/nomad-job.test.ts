/**
 * Unit tests of the typed Nomad job model (constructs/nomad): serialization of every block to the
 * Nomad HTTP API JSON format, the safe defaults, resource totals, the NomadJob construct, and one
 * `fails ...` test per validation error.
 */
import { TerraformVariable, Testing } from "cdktf";
import "cdktf/lib/testing/adapters/jest";
import { Job } from "@cdktf/provider-nomad/lib/job";
import { NomadProvider } from "@cdktf/provider-nomad/lib/provider";
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
  NomadJob,
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
  ServiceProps,
  ServiceProvider,
  Spread,
  Task,
  TaskGroup,
  TaskGroupProps,
  TaskProps,
  Template,
  UpdateStrategy,
  Volume,
  WorkloadIdentity,
} from "../constructs/nomad";
import { ProblemsError } from "../constructs/problems";

Testing.setupJest();

// ---------------------------------------------------------------------------------------------
// Fixtures: a valid service job ("web": one group, an http port, a checked service, a docker task)
// that each test changes in one place.

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function task(props: Partial<TaskProps> = {}): Task {
  return new Task({
    name: "app",
    driver: Driver.docker({ image: "nginx:1.27", ports: ["http"] }),
    resources: { cpuMhz: 100, memoryMb: 64 },
    ...props,
  });
}

function service(props: Partial<ServiceProps> = {}): Service {
  return new Service({ name: "web", port: "http", checks: [Check.http({ path: "/health" })], ...props });
}

function group(props: Partial<TaskGroupProps> = {}): TaskGroup {
  return new TaskGroup({
    name: "web",
    network: new Network({ ports: [Port.dynamic("http", { to: 8080 })] }),
    services: [service()],
    tasks: [task()],
    ...props,
  });
}

/** A group in the service mesh: bridge network, a Connect service on port 8080. */
function meshGroup(props: Partial<TaskGroupProps> = {}, svc: Partial<ServiceProps> = {}): TaskGroup {
  return group({
    network: new Network({ mode: NetworkMode.BRIDGE, ports: [Port.dynamic("http", { to: 8080 })] }),
    services: [
      service({
        port: 8080,
        connect: ConnectSidecar.upstreams([{ destinationName: "db", localBindPort: 5432 }]),
        checks: [Check.http({ path: "/health", expose: true })],
        ...svc,
      }),
    ],
    ...props,
  });
}

function spec(props: Partial<NomadJobSpecProps> = {}): NomadJobSpec {
  return new NomadJobSpec({ id: "web", datacenters: ["dc1"], groups: [group()], ...props });
}

function jobOf(s: NomadJobSpec): Json {
  return s.toJson().Job;
}

function groupOf(s: NomadJobSpec, index = 0): Json {
  return jobOf(s).TaskGroups[index];
}

function taskOf(s: NomadJobSpec, taskIndex = 0, groupIndex = 0): Json {
  return groupOf(s, groupIndex).Tasks[taskIndex];
}

/** A spec with one group and one task built from the given props. */
function specWithTask(props: Partial<TaskProps>, groupProps: Partial<TaskGroupProps> = {}, jobProps: Partial<NomadJobSpecProps> = {}): NomadJobSpec {
  return spec({ groups: [group({ tasks: [task(props)], ...groupProps })], ...jobProps });
}

/** A batch job with one group and no service. */
function batchSpec(props: Partial<NomadJobSpecProps> = {}, groupProps: Partial<TaskGroupProps> = {}): NomadJobSpec {
  return spec({
    id: "backup",
    type: JobType.BATCH,
    groups: [group({ name: "backup", network: undefined, services: [], tasks: [task({ driver: Driver.docker({ image: "backup:1.0" }) })], ...groupProps })],
    ...props,
  });
}

/** A system job with one group. */
function systemSpec(props: Partial<NomadJobSpecProps> = {}, groupProps: Partial<TaskGroupProps> = {}): NomadJobSpec {
  return spec({ id: "node-exporter", type: JobType.SYSTEM, groups: [group({ name: "exporter", ...groupProps })], ...props });
}

// ---------------------------------------------------------------------------------------------

describe("Duration", () => {
  test("converts to nanoseconds, the unit of the Nomad API", () => {
    expect(Duration.millis(250).toNanoseconds()).toBe(250_000_000);
    expect(Duration.seconds(30).toNanoseconds()).toBe(30_000_000_000);
    expect(Duration.minutes(5).toNanoseconds()).toBe(300_000_000_000);
    expect(Duration.hours(1).toNanoseconds()).toBe(3_600_000_000_000);
    expect(Duration.days(1).toNanoseconds()).toBe(86_400_000_000_000);
    expect(Duration.seconds(1.5).toMilliseconds()).toBe(1500);
    expect(Duration.minutes(2).toSeconds()).toBe(120);
  });

  test("renders Go duration strings", () => {
    expect(Duration.seconds(0).toGoString()).toBe("0s");
    expect(Duration.seconds(90).toGoString()).toBe("1m30s");
    expect(Duration.hours(1).toGoString()).toBe("1h");
    expect(Duration.millis(1500).toString()).toBe("1s500ms");
  });

  test.each([
    ["a negative amount", () => Duration.seconds(-1), /Duration\.seconds: amount: received -1; expected a finite number >= 0/],
    ["a NaN amount", () => Duration.minutes(NaN), /Duration\.minutes: amount: received NaN; expected a finite number >= 0/],
    ["an amount too large for nanoseconds", () => Duration.days(1e9), /Duration\.days: amount: received 1000000000; expected at most \d+ days/],
  ])("fails on %s", (_name, build, message) => {
    expect(build).toThrow(message);
  });
});

describe("NomadJobSpec serializes to the Nomad API JSON job", () => {
  test("job: top-level fields under Job", () => {
    // GIVEN a job with every top-level field set
    const s = spec({
      id: "web",
      name: "Web front",
      region: "eu",
      namespace: "apps",
      nodePool: "edge",
      priority: 70,
      datacenters: ["dc1", "dc2"],
      meta: { team: "platform" },
    });
    // WHEN rendered
    const doc = s.toJson();
    // THEN the API field names carry the values
    expect(Object.keys(doc)).toEqual(["Job"]);
    expect(doc.Job).toMatchObject({
      ID: "web",
      Name: "Web front",
      Type: "service",
      Region: "eu",
      Namespace: "apps",
      NodePool: "edge",
      Priority: 70,
      Datacenters: ["dc1", "dc2"],
      Meta: { team: "platform" },
    });
    expect(s.id).toBe("web");
    expect(s.name).toBe("Web front");
  });

  test("job: name defaults to the id, type to service, datacenters to every datacenter; unset fields are omitted", () => {
    const job = jobOf(new NomadJobSpec({ id: "api", groups: [group()] }));
    expect(job.Name).toBe("api");
    expect(job.Type).toBe("service");
    expect(job.Datacenters).toEqual(["*"]);
    for (const key of ["Region", "Namespace", "NodePool", "Priority", "Meta", "Constraints", "Spreads", "Periodic"]) {
      expect(job).not.toHaveProperty(key);
    }
  });

  test("group: name, count, meta, shutdown delay and tasks", () => {
    const g = groupOf(spec({ groups: [group({ count: 1, meta: { tier: "front" }, shutdownDelay: Duration.seconds(5) })] }));
    expect(g).toMatchObject({ Name: "web", Count: 1, Meta: { tier: "front" }, ShutdownDelay: 5_000_000_000 });
    expect(g.Tasks.map((t: Json) => t.Name)).toEqual(["app"]);
  });

  test("network: mode, dynamic ports with To, reserved ports with Value, host network, hostname, DNS", () => {
    // GIVEN a bridge network with a dynamic and a static port
    const s = spec({
      groups: [
        group({
          network: new Network({
            mode: NetworkMode.BRIDGE,
            hostname: "web-${NOMAD_ALLOC_INDEX}",
            dns: { servers: ["10.0.0.2"], searches: ["service.consul"] },
            ports: [Port.dynamic("http", { to: 8080 }), Port.static("dns", 53, { hostNetwork: "public" })],
          }),
        }),
      ],
    });
    // THEN they land in Networks[0]
    expect(groupOf(s).Networks).toEqual([
      {
        Mode: "bridge",
        Hostname: "web-${NOMAD_ALLOC_INDEX}",
        DynamicPorts: [{ Label: "http", To: 8080 }],
        ReservedPorts: [{ Label: "dns", Value: 53, HostNetwork: "public" }],
        DNS: { Servers: ["10.0.0.2"], Searches: ["service.consul"] },
      },
    ]);
  });

  test("network: host mode by default, CNI mode by name", () => {
    expect(groupOf(spec()).Networks[0].Mode).toBe("host");
    expect(new Network().mode).toBe(NetworkMode.HOST);
    const s = spec({ groups: [group({ network: new Network({ mode: NetworkMode.cni("overlay"), ports: [Port.dynamic("http")] }) })] });
    expect(groupOf(s).Networks[0]).toEqual({ Mode: "cni/overlay", DynamicPorts: [{ Label: "http" }] });
    expect(NetworkMode.cni("overlay").isolatesNamespace).toBe(true);
    expect(NetworkMode.NONE.value).toBe("none");
  });

  test("driver: docker config in the driver's own keys", () => {
    const http = Port.dynamic("http", { to: 8080 });
    const s = specWithTask(
      {
        driver: Driver.docker({
          image: "registry.example.org/web:1.2.3",
          command: "/bin/web",
          args: ["--port", "${NOMAD_PORT_http}"],
          entrypoint: ["/tini", "--"],
          ports: [http],
          forcePull: true,
          labels: { app: "web" },
          volumes: ["local/conf:/etc/web"],
          workDir: "/srv",
        }),
      },
      { network: new Network({ ports: [http] }) },
    );
    expect(taskOf(s)).toMatchObject({
      Driver: "docker",
      Config: {
        image: "registry.example.org/web:1.2.3",
        command: "/bin/web",
        args: ["--port", "${NOMAD_PORT_http}"],
        entrypoint: ["/tini", "--"],
        ports: ["http"],
        force_pull: true,
        labels: { app: "web" },
        volumes: ["local/conf:/etc/web"],
        work_dir: "/srv",
      },
    });
  });

  test("resources: CPU in MHz and MemoryMB, MemoryMaxMB when set", () => {
    expect(taskOf(specWithTask({ resources: { cpuMhz: 500, memoryMb: 256 } })).Resources).toEqual({ CPU: 500, MemoryMB: 256 });
    expect(taskOf(specWithTask({ resources: { cpuMhz: 500, memoryMb: 256, memoryMaxMb: 512 } })).Resources).toEqual({ CPU: 500, MemoryMB: 256, MemoryMaxMB: 512 });
  });

  test("task: env, meta, user, leader, kill timeout and signal", () => {
    const t = taskOf(
      specWithTask({ env: { LOG_LEVEL: "info" }, meta: { owner: "web" }, user: "nobody", leader: true, killTimeout: Duration.seconds(20), killSignal: "SIGTERM" }),
    );
    expect(t).toMatchObject({ Env: { LOG_LEVEL: "info" }, Meta: { owner: "web" }, User: "nobody", Leader: true, KillTimeout: 20_000_000_000, KillSignal: "SIGTERM" });
  });

  test("service: name, provider, port label, tags, canary tags, meta, address mode, checks", () => {
    const s = spec({
      groups: [
        group({
          services: [
            service({
              name: "web",
              tags: ["traefik.enable=true"],
              canaryTags: ["canary"],
              meta: { version: "1" },
              addressMode: AddressMode.HOST,
              provider: ServiceProvider.NOMAD,
              checks: [Check.http({ name: "alive", path: "/health" })],
            }),
          ],
        }),
      ],
    });
    expect(groupOf(s).Services).toEqual([
      {
        Name: "web",
        Provider: "nomad",
        PortLabel: "http",
        AddressMode: "host",
        Tags: ["traefik.enable=true"],
        CanaryTags: ["canary"],
        Meta: { version: "1" },
        Checks: [{ Name: "alive", Type: "http", Path: "/health", Interval: 10_000_000_000, Timeout: 2_000_000_000 }],
      },
    ]);
  });

  test("service: the consul provider is the default", () => {
    expect(groupOf(spec()).Services[0].Provider).toBe("consul");
    expect(service().provider).toBe(ServiceProvider.CONSUL);
  });

  test("check: http with every option, durations in nanoseconds, check_restart", () => {
    const http = Port.dynamic("http");
    const admin = Port.dynamic("admin");
    const check = Check.http({
      name: "ready",
      path: "/ready",
      port: admin,
      method: "POST",
      protocol: CheckProtocol.HTTPS,
      headers: { Host: ["web.local"] },
      tlsSkipVerify: true,
      interval: Duration.seconds(15),
      timeout: Duration.seconds(3),
      restart: { limit: 3, grace: Duration.seconds(30), ignoreWarnings: true },
    });
    const s = spec({ groups: [group({ network: new Network({ ports: [http, admin] }), services: [service({ port: http, checks: [check] })] })] });
    expect(groupOf(s).Services[0].Checks[0]).toEqual({
      Name: "ready",
      Type: "http",
      PortLabel: "admin",
      Path: "/ready",
      Method: "POST",
      Protocol: "https",
      Header: { Host: ["web.local"] },
      TLSSkipVerify: true,
      Interval: 15_000_000_000,
      Timeout: 3_000_000_000,
      CheckRestart: { Limit: 3, Grace: 30_000_000_000, IgnoreWarnings: true },
    });
  });

  test("check: tcp and script checks", () => {
    const s = spec({
      groups: [
        group({
          services: [
            service({
              checks: [
                Check.tcp({ name: "tcp", port: "http" }),
                Check.script({ name: "script", command: "/bin/check", args: ["--quick"], task: "app" }),
              ],
            }),
          ],
        }),
      ],
    });
    const [tcp, script] = groupOf(s).Services[0].Checks;
    expect(tcp).toEqual({ Name: "tcp", Type: "tcp", PortLabel: "http", Interval: 10_000_000_000, Timeout: 2_000_000_000 });
    expect(script).toEqual({ Name: "script", Type: "script", Command: "/bin/check", Args: ["--quick"], TaskName: "app", Interval: 10_000_000_000, Timeout: 2_000_000_000 });
  });

  test("connect: sidecar service with upstreams, in Nomad's Connect.SidecarService.Proxy.Upstreams", () => {
    // GIVEN a mesh service with two upstreams
    const s = spec({
      groups: [
        meshGroup({}, {
          connect: ConnectSidecar.upstreams([
            { destinationName: "db", localBindPort: 5432 },
            { destinationName: "cache", localBindPort: 6379, datacenter: "dc2", localBindAddress: "127.0.0.2" },
          ]),
        }),
      ],
    });
    // THEN the Connect block uses the API field names; the service port is the port in the namespace
    const svc = groupOf(s).Services[0];
    expect(svc.PortLabel).toBe("8080");
    expect(svc.Connect).toEqual({
      SidecarService: {
        Proxy: {
          Upstreams: [
            { DestinationName: "db", LocalBindPort: 5432 },
            { DestinationName: "cache", LocalBindPort: 6379, Datacenter: "dc2", LocalBindAddress: "127.0.0.2" },
          ],
        },
      },
    });
    expect(svc.Checks[0]).toMatchObject({ Type: "http", Path: "/health", Expose: true });
  });

  test("connect: inbound-only sidecar with tags and sidecar task resources", () => {
    const s = spec({ groups: [meshGroup({}, { connect: ConnectSidecar.inbound({ tags: ["mesh"], resources: { cpuMhz: 100, memoryMb: 64 } }) })] });
    expect(groupOf(s).Services[0].Connect).toEqual({
      SidecarService: { Tags: ["mesh"], Proxy: {} },
      SidecarTask: { Resources: { CPU: 100, MemoryMB: 64 } },
    });
  });

  test("task services are rendered on the task", () => {
    const s = specWithTask({ services: [service({ name: "app-metrics", checks: [Check.tcp()] })] }, { services: [] });
    expect(taskOf(s).Services).toEqual([
      { Name: "app-metrics", Provider: "consul", PortLabel: "http", Checks: [{ Type: "tcp", Interval: 10_000_000_000, Timeout: 2_000_000_000 }] },
    ]);
    expect(groupOf(s)).not.toHaveProperty("Services");
  });

  test("update: a given strategy on the job and on a group", () => {
    // GIVEN a job update and a group override
    const s = spec({
      update: new UpdateStrategy({ maxParallel: 2, canary: 0, autoRevert: false, healthCheck: HealthCheckMode.TASK_STATES, minHealthyTime: Duration.seconds(5), healthyDeadline: Duration.minutes(2), progressDeadline: Duration.minutes(4), stagger: Duration.seconds(10) }),
      groups: [group({ update: new UpdateStrategy({ canary: 2 }) })],
    });
    // THEN both are rendered with the API names and nanoseconds
    expect(jobOf(s).Update).toEqual({
      MaxParallel: 2,
      Canary: 0,
      AutoRevert: false,
      AutoPromote: false,
      HealthCheck: "task_states",
      MinHealthyTime: 5_000_000_000,
      HealthyDeadline: 120_000_000_000,
      ProgressDeadline: 240_000_000_000,
      Stagger: 10_000_000_000,
    });
    expect(groupOf(s).Update).toMatchObject({ Canary: 2, AutoPromote: true, MaxParallel: 1 });
  });

  test("restart: on the group and on a task", () => {
    const restart = new RestartPolicy({ attempts: 3, interval: Duration.minutes(10), delay: Duration.seconds(20), mode: RestartMode.DELAY, renderTemplates: true });
    const s = specWithTask({ restart: new RestartPolicy({ attempts: 0, interval: Duration.minutes(1), delay: Duration.seconds(1) }) }, { restart });
    expect(groupOf(s).RestartPolicy).toEqual({ Attempts: 3, Interval: 600_000_000_000, Delay: 20_000_000_000, Mode: "delay", RenderTemplates: true });
    expect(taskOf(s).RestartPolicy).toEqual({ Attempts: 0, Interval: 60_000_000_000, Delay: 1_000_000_000, Mode: "fail", RenderTemplates: false });
  });

  test("reschedule: limited on the job, disabled on a group", () => {
    const s = spec({
      reschedule: ReschedulePolicy.limited({ attempts: 3, interval: Duration.hours(1), delay: Duration.seconds(10), delayFunction: DelayFunction.CONSTANT }),
      groups: [group({ reschedule: ReschedulePolicy.disabled() })],
    });
    expect(jobOf(s).Reschedule).toEqual({ Attempts: 3, Interval: 3_600_000_000_000, Delay: 10_000_000_000, DelayFunction: "constant", MaxDelay: 3_600_000_000_000, Unlimited: false });
    expect(groupOf(s).ReschedulePolicy).toMatchObject({ Attempts: 0, Unlimited: false });
  });

  test("constraint and spread on job, group and task", () => {
    // GIVEN placement rules at every level
    const s = spec({
      constraints: [Constraint.attribute("${attr.kernel.name}", "linux")],
      spreads: [Spread.attribute("${node.datacenter}", { weight: 100, targets: [{ value: "dc1", percent: 70 }, { value: "dc2", percent: 30 }] })],
      groups: [
        group({
          constraints: [Constraint.distinctHosts(), Constraint.distinctProperty("${meta.rack}", 2), Constraint.isSet("${attr.driver.docker}")],
          spreads: [Spread.attribute("${meta.rack}")],
          tasks: [task({ constraints: [Constraint.attribute("${attr.cpu.arch}", "amd64|arm64", ConstraintOperator.REGEXP)] })],
        }),
      ],
    });
    // THEN they use LTarget / RTarget / Operand and Attribute / Weight / SpreadTarget
    const job = jobOf(s);
    expect(job.Constraints).toEqual([{ LTarget: "${attr.kernel.name}", RTarget: "linux", Operand: "=" }]);
    expect(job.Spreads).toEqual([{ Attribute: "${node.datacenter}", Weight: 100, SpreadTarget: [{ Value: "dc1", Percent: 70 }, { Value: "dc2", Percent: 30 }] }]);
    const g = groupOf(s);
    expect(g.Constraints).toEqual([
      { Operand: "distinct_hosts" },
      { LTarget: "${meta.rack}", RTarget: "2", Operand: "distinct_property" },
      { LTarget: "${attr.driver.docker}", Operand: "is_set" },
    ]);
    expect(g.Spreads).toEqual([{ Attribute: "${meta.rack}", Weight: 50 }]);
    expect(taskOf(s).Constraints).toEqual([{ LTarget: "${attr.cpu.arch}", RTarget: "amd64|arm64", Operand: "regexp" }]);
    expect(Constraint.isNotSet("${meta.x}").operator).toBe("is_not_set");
  });

  test("volume and volume_mount: host volumes keyed by name, mounts by volume name", () => {
    // GIVEN a writable and a read-only host volume mounted into the task
    const data = Volume.host("data", { source: "pg-data", accessMode: HostVolumeAccessMode.SINGLE_NODE_WRITER, sticky: true });
    const certs = Volume.host("certs", { source: "certs", readOnly: true });
    const s = specWithTask(
      { volumeMounts: [{ volume: data, destination: "/var/lib/postgresql" }, { volume: certs, destination: "/certs", propagationMode: PropagationMode.PRIVATE }] },
      { volumes: [data, certs] },
    );
    // THEN Volumes is a map by name and VolumeMounts refer to the names
    expect(groupOf(s).Volumes).toEqual({
      data: { Name: "data", Type: "host", Source: "pg-data", ReadOnly: false, AccessMode: "single-node-writer", Sticky: true },
      certs: { Name: "certs", Type: "host", Source: "certs", ReadOnly: true },
    });
    expect(taskOf(s).VolumeMounts).toEqual([
      { Volume: "data", Destination: "/var/lib/postgresql", ReadOnly: false },
      { Volume: "certs", Destination: "/certs", ReadOnly: true, PropagationMode: "private" },
    ]);
  });

  test("template: inline data, source file, change modes", () => {
    const s = specWithTask({
      templates: [
        new Template({ destination: "local/app.env", data: "DB={{ key \"db\" }}\n", env: true, changeMode: ChangeMode.signal("SIGHUP"), perms: "0640", splay: Duration.seconds(3) }),
        new Template({ destination: "local/nginx.conf", source: "local/nginx.conf.tpl", changeMode: ChangeMode.script({ command: "/bin/reload", args: ["-q"], timeout: Duration.seconds(10), failOnError: true }), leftDelimiter: "[[", rightDelimiter: "]]" }),
        new Template({ destination: "local/static.txt", data: "x", changeMode: ChangeMode.noop() }),
        new Template({ destination: "local/default.txt", data: "y" }),
      ],
    });
    expect(taskOf(s).Templates).toEqual([
      { DestPath: "local/app.env", EmbeddedTmpl: "DB={{ key \"db\" }}\n", ChangeMode: "signal", ChangeSignal: "SIGHUP", Envvars: true, Perms: "0640", Splay: 3_000_000_000 },
      { DestPath: "local/nginx.conf", SourcePath: "local/nginx.conf.tpl", ChangeMode: "script", ChangeScript: { Command: "/bin/reload", Args: ["-q"], Timeout: 10_000_000_000, FailOnError: true }, LeftDelim: "[[", RightDelim: "]]" },
      { DestPath: "local/static.txt", EmbeddedTmpl: "x", ChangeMode: "noop" },
      { DestPath: "local/default.txt", EmbeddedTmpl: "y", ChangeMode: "restart" },
    ]);
  });

  test("identity: default identity in Identity, named ones in Identities with Audience, Env, File, TTL", () => {
    const s = specWithTask({
      identity: WorkloadIdentity.default({ env: true, file: true }),
      identities: [
        WorkloadIdentity.named("vault_default", { audience: ["vault.io"], file: true, ttl: Duration.hours(1), changeMode: ChangeMode.signal("SIGHUP") }),
        WorkloadIdentity.named("aws", { audience: ["sts.amazonaws.com"], env: true, changeMode: ChangeMode.restart() }),
      ],
    });
    expect(taskOf(s).Identity).toEqual({ Name: "default", Env: true, File: true });
    expect(taskOf(s).Identities).toEqual([
      { Name: "vault_default", Audience: ["vault.io"], File: true, TTL: 3_600_000_000_000, ChangeMode: "signal", ChangeSignal: "SIGHUP" },
      { Name: "aws", Audience: ["sts.amazonaws.com"], Env: true, ChangeMode: "restart" },
    ]);
  });

  test("scaling: Scaling {Min, Max, Enabled, Policy} with the Autoscaler policy as the Autoscaler reads it", () => {
    // GIVEN a group with a Prometheus target-value policy
    const s = spec({
      groups: [
        group({
          count: 2,
          scaling: new ScalingPolicy({
            min: 2,
            max: 10,
            policy: new AutoscalerPolicy({
              evaluationInterval: Duration.seconds(10),
              cooldown: Duration.minutes(1),
              checks: [ScalingCheck.prometheus("cpu", { query: "avg(cpu)", queryWindow: Duration.minutes(5), strategy: ScalingStrategy.targetValue(70) })],
            }),
          }),
        }),
      ],
    });
    // THEN the policy is the HCL-decoded shape: blocks as lists of single-key maps
    expect(groupOf(s).Scaling).toEqual({
      Type: "horizontal",
      Min: 2,
      Max: 10,
      Enabled: true,
      Policy: {
        evaluation_interval: "10s",
        cooldown: "1m",
        check: [{ cpu: [{ source: "prometheus", query: "avg(cpu)", query_window: "5m", strategy: [{ "target-value": [{ target: 70 }] }] }] }],
      },
    });
  });

  test("scaling: bounds only, other strategies and sources", () => {
    const bounds = groupOf(spec({ groups: [group({ count: 3, scaling: new ScalingPolicy({ max: 5, enabled: false }) })] })).Scaling;
    expect(bounds).toEqual({ Type: "horizontal", Min: 3, Max: 5, Enabled: false });
    const policy = new AutoscalerPolicy({
      checks: [
        ScalingCheck.nomadApm("mem", { query: "avg_memory", strategy: ScalingStrategy.passThrough() }),
        new ScalingCheck({ name: "fixed", source: "datadog", query: "q", strategy: ScalingStrategy.fixedValue(3) }),
        new ScalingCheck({ name: "custom", source: "prometheus", query: "q", strategy: ScalingStrategy.custom("threshold", { upper_bound: 80, within_bounds_trigger: 1, enabled: true }) }),
      ],
    });
    const rendered = groupOf(spec({ groups: [group({ count: 1, scaling: new ScalingPolicy({ min: 1, max: 4, policy }) })] })).Scaling.Policy;
    expect(rendered).toEqual({
      check: [
        { mem: [{ source: "nomad-apm", query: "avg_memory", strategy: [{ "pass-through": [{}] }] }] },
        { fixed: [{ source: "datadog", query: "q", strategy: [{ "fixed-value": [{ value: 3 }] }] }] },
        { custom: [{ source: "prometheus", query: "q", strategy: [{ threshold: [{ upper_bound: 80, within_bounds_trigger: 1, enabled: true }] }] }] },
      ],
    });
  });

  test("periodic: cron specs, overlap, time zone", () => {
    const s = batchSpec({ periodic: Periodic.cron("0 3 * * *", { prohibitOverlap: true, timeZone: "Europe/Paris" }) });
    expect(jobOf(s).Periodic).toEqual({ Enabled: true, SpecType: "cron", Specs: ["0 3 * * *"], ProhibitOverlap: true, TimeZone: "Europe/Paris" });
    const several = batchSpec({ periodic: Periodic.crons(["0 3 * * *", "@weekly"], { prohibitOverlap: false, enabled: false }) });
    expect(jobOf(several).Periodic).toEqual({ Enabled: false, SpecType: "cron", Specs: ["0 3 * * *", "@weekly"], ProhibitOverlap: false, TimeZone: "UTC" });
  });

  test("job types: batch, system and sysbatch", () => {
    expect(jobOf(batchSpec()).Type).toBe("batch");
    expect(jobOf(systemSpec()).Type).toBe("system");
    expect(jobOf(spec({ type: JobType.SYSBATCH, groups: [group({ services: [] })] })).Type).toBe("sysbatch");
  });

  test("toJson is plain JSON: it survives a JSON round trip unchanged", () => {
    const doc = spec({ groups: [meshGroup({ count: 2 })] }).toJson();
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe("safe defaults", () => {
  test("a service job gets a canary rolling update with auto-promote and auto-revert", () => {
    // GIVEN a service job that says nothing about updates
    const job = jobOf(spec());
    // THEN it gets the safe rolling update
    expect(job.Update).toEqual({
      MaxParallel: 1,
      Canary: 1,
      AutoRevert: true,
      AutoPromote: true,
      HealthCheck: "checks",
      MinHealthyTime: 10_000_000_000,
      HealthyDeadline: 300_000_000_000,
      ProgressDeadline: 600_000_000_000,
      Stagger: 30_000_000_000,
    });
    expect(spec().update).toBe(UpdateStrategy.DEFAULT);
  });

  test("service and batch jobs get unlimited exponential rescheduling from 30s to 1h", () => {
    const expected = { Attempts: 0, Interval: 0, Delay: 30_000_000_000, DelayFunction: "exponential", MaxDelay: 3_600_000_000_000, Unlimited: true };
    expect(jobOf(spec()).Reschedule).toEqual(expected);
    expect(jobOf(batchSpec()).Reschedule).toEqual(expected);
  });

  test("batch jobs get no update block; system and sysbatch jobs get neither update nor reschedule", () => {
    expect(jobOf(batchSpec())).not.toHaveProperty("Update");
    const system = jobOf(systemSpec());
    expect(system).not.toHaveProperty("Update");
    expect(system).not.toHaveProperty("Reschedule");
    const sysbatch = jobOf(spec({ type: JobType.SYSBATCH, groups: [group({ services: [] })] }));
    expect(sysbatch).not.toHaveProperty("Update");
    expect(sysbatch).not.toHaveProperty("Reschedule");
  });

  test("a group with count > 1 is spread over nodes", () => {
    expect(groupOf(spec({ groups: [group({ count: 3 })] })).Spreads).toEqual([{ Attribute: "${node.unique.id}", Weight: 50 }]);
  });

  test("a group with count 1 but a scaling max > 1 is spread over nodes", () => {
    expect(groupOf(spec({ groups: [group({ count: 1, scaling: new ScalingPolicy({ min: 1, max: 3 }) })] })).Spreads).toEqual([{ Attribute: "${node.unique.id}", Weight: 50 }]);
  });

  test("no default spread for a single allocation, for system jobs, with job spreads, or with spreads: []", () => {
    expect(groupOf(spec())).not.toHaveProperty("Spreads");
    expect(groupOf(systemSpec({}, { count: 1 }))).not.toHaveProperty("Spreads");
    expect(groupOf(spec({ spreads: [Spread.attribute("${node.datacenter}")], groups: [group({ count: 3 })] }))).not.toHaveProperty("Spreads");
    expect(groupOf(spec({ groups: [group({ count: 3, spreads: [] })] }))).not.toHaveProperty("Spreads");
  });

  test("count defaults to 1, or to scaling.min", () => {
    expect(groupOf(spec()).Count).toBe(1);
    expect(groupOf(spec({ groups: [group({ scaling: new ScalingPolicy({ min: 2, max: 4 }) })] })).Count).toBe(2);
  });

  test("checks default to a 10s interval and a 2s timeout", () => {
    const check = Check.tcp();
    expect(check.interval).toBe(Check.DEFAULT_INTERVAL);
    expect(check.timeout.toGoString()).toBe("2s");
  });

  test("an update strategy with no canary does not auto-promote", () => {
    expect(new UpdateStrategy({ canary: 0 }).autoPromote).toBe(false);
  });
});

describe("resourceTotals", () => {
  test("sums count x asks over groups", () => {
    // GIVEN two groups: 3 x (100 MHz + 200 MHz, 64 MB + 128 MB) and 1 x (50 MHz, 32 MB)
    const s = spec({
      groups: [
        group({ count: 3, tasks: [task(), task({ name: "sidecar", driver: Driver.docker({ image: "sidecar:1.0" }), resources: { cpuMhz: 200, memoryMb: 128 } })] }),
        group({ name: "worker", network: undefined, services: [], tasks: [task({ driver: Driver.docker({ image: "worker:1.0" }), resources: { cpuMhz: 50, memoryMb: 32 } })] }),
      ],
    });
    // THEN the totals are 3 x 300 + 50 and 3 x 192 + 32
    expect(s.resourceTotals()).toEqual({ cpuMhz: 950, memoryMb: 608 });
  });

  test("uses scaling.max instead of count when the group has a scaling block", () => {
    const s = spec({ groups: [group({ count: 2, scaling: new ScalingPolicy({ min: 1, max: 5 }) })] });
    expect(s.resourceTotals()).toEqual({ cpuMhz: 500, memoryMb: 320 });
  });

  test("counts the Connect sidecar tasks Nomad injects", () => {
    const defaults = spec({ groups: [meshGroup({ count: 2 })] });
    expect(defaults.resourceTotals()).toEqual({ cpuMhz: 2 * (100 + 250), memoryMb: 2 * (64 + 128) });
    const sized = spec({ groups: [meshGroup({ count: 1 }, { connect: ConnectSidecar.inbound({ resources: { cpuMhz: 50, memoryMb: 32 } }) })] });
    expect(sized.resourceTotals()).toEqual({ cpuMhz: 150, memoryMb: 96 });
  });
});

describe("NomadJob construct", () => {
  test("creates a nomad_job resource with the JSON jobspec and json = true", () => {
    // GIVEN a spec
    const s = spec();
    // WHEN the construct is synthesized
    const synth = Testing.synthScope((scope) => {
      new NomadJob(scope, "web", { spec: s });
    });
    // THEN the resource carries the API JSON and the defaults
    expect(synth).toHaveResourceWithProperties(Job, { jobspec: JSON.stringify(s.toJson()), json: true, purge_on_destroy: false, detach: true });
  });

  test("passes purgeOnDestroy, detach and the provider", () => {
    const synth = Testing.synthScope((scope) => {
      const provider = new NomadProvider(scope, "nomad", { address: "http://127.0.0.1:4646", alias: "site" });
      new NomadJob(scope, "web", { spec: spec(), provider, purgeOnDestroy: true, detach: false });
    });
    expect(synth).toHaveResourceWithProperties(Job, { purge_on_destroy: true, detach: false, provider: "nomad.site" });
  });

  test("escapes Nomad's ${...} interpolation so Terraform passes it through", () => {
    // GIVEN a spec with Nomad interpolation (the default node spread, an env var)
    const s = specWithTask({ env: { PORT: "${NOMAD_PORT_http}", TPL: "%{ literal }" } }, { count: 2 });
    const json = JSON.stringify(s.toJson());
    expect(json).toContain("${node.unique.id}");
    // WHEN synthesized
    const synth = JSON.parse(Testing.synthScope((scope) => new NomadJob(scope, "web", { spec: s })));
    const jobspec: string = Object.values(synth.resource.nomad_job as Record<string, { jobspec: string }>)[0].jobspec;
    // THEN ${ and %{ are doubled, and undoing the escape gives back the exact JSON
    expect(jobspec).toContain("$${node.unique.id}");
    expect(jobspec).toContain("$${NOMAD_PORT_http}");
    expect(jobspec).toContain("%%{ literal }");
    expect(jobspec.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{")).toBe(json);
  });

  test("exposes the spec, the job ID and the raw resource", () => {
    const s = spec();
    Testing.synthScope((scope) => {
      const job = new NomadJob(scope, "web", { spec: s });
      expect(job.spec).toBe(s);
      expect(job.jobId).toBe("web");
      expect(job.resource).toBeInstanceOf(Job);
      expect(job.resource.jsonInput).toBe(true);
    });
  });

  test("fails when spec is not a NomadJobSpec", () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new NomadJob(scope, "web", { spec: { id: "web" } as unknown as NomadJobSpec });
      }),
    ).toThrow(/NomadJob "web": spec: received .*; expected a NomadJobSpec/);
  });
});

describe("snapshot", () => {
  test("a realistic web job renders to the same JSON", () => {
    const http = Port.dynamic("http", { to: 8080 });
    const s = new NomadJobSpec({
      id: "shop-web",
      datacenters: ["primary-dc1"],
      namespace: "shop",
      meta: { owner: "shop-team" },
      groups: [
        new TaskGroup({
          name: "web",
          count: 2,
          network: new Network({ mode: NetworkMode.BRIDGE, ports: [http] }),
          services: [
            new Service({
              name: "shop-web",
              port: 8080,
              tags: ["http"],
              connect: ConnectSidecar.upstreams([{ destinationName: "shop-api", localBindPort: 9000 }]),
              checks: [Check.http({ name: "health", path: "/healthz", expose: true })],
            }),
          ],
          scaling: new ScalingPolicy({
            min: 2,
            max: 6,
            policy: new AutoscalerPolicy({
              cooldown: Duration.minutes(2),
              checks: [ScalingCheck.prometheus("rps", { query: "sum(rate(http_requests_total{job=\"shop-web\"}[1m]))", strategy: ScalingStrategy.targetValue(100) })],
            }),
          }),
          tasks: [
            new Task({
              name: "web",
              driver: Driver.docker({ image: "registry.example.org/shop/web:1.4.2", ports: [http] }),
              resources: { cpuMhz: 300, memoryMb: 256 },
              env: { API_URL: "http://127.0.0.1:9000" },
              templates: [new Template({ destination: "secrets/app.env", data: "{{ with nomadVar \"nomad/jobs/shop-web\" }}TOKEN={{ .token }}{{ end }}\n", env: true })],
              identity: WorkloadIdentity.default({ file: true }),
            }),
          ],
        }),
      ],
    });
    expect(s.toJson()).toMatchSnapshot();
  });
});

// ---------------------------------------------------------------------------------------------
// Validation: one `fails ...` test per error path. Each message names the path, the field, the
// value received and what is expected.

type FailCase = readonly [string, () => unknown, RegExp];

function expectFailure(build: () => unknown, message: RegExp): void {
  expect(build).toThrow(ProblemsError);
  expect(build).toThrow(message);
}

const J = 'job "web"';
const G = `${J} > group "web"`;
const T = `${G} > task "app"`;
const S = `${G} > service "web"`;

/** Escapes a literal for a RegExp, so messages can be matched piece by piece. */
function lit(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A RegExp matching `<path>: <field>: received <value>; expected <expectation...>`. */
function problem(path: string, field: string, received: string, expected: string): RegExp {
  return new RegExp(`${lit(path)}: ${lit(field)}: received ${lit(received)}; expected ${lit(expected)}`);
}

function checkIn(check: Check, svc: Partial<ServiceProps> = {}, grp: Partial<TaskGroupProps> = {}): NomadJobSpec {
  return spec({ groups: [group({ services: [service({ checks: [check], ...svc })], ...grp })] });
}

const bad = <T>(value: unknown): T => value as T;

describe("validation errors", () => {
  test("the error lists every problem, one line each, and validate() returns them", () => {
    let error: ProblemsError | undefined;
    try {
      spec({ groups: [group({ count: -1, tasks: [task({ resources: { cpuMhz: 0, memoryMb: 64 } })] })] });
    } catch (e) {
      error = e as ProblemsError;
    }
    expect(error).toBeInstanceOf(ProblemsError);
    expect(error?.problems).toEqual([
      `${G}: count: received -1; expected an integer >= 0`,
      `${T}: resources.cpuMhz: received 0; expected an integer number of MHz >= 1`,
    ]);
    expect(error?.message.split("\n")).toHaveLength(2);
    expect(spec().validate()).toEqual([]);
  });

  const jobCases: FailCase[] = [
    ["the job id is empty", () => spec({ id: "" }), problem('job ""', "id", '""', "a non-empty job ID")],
    ["the job id has whitespace", () => spec({ id: "my web" }), problem('job "my web"', "id", '"my web"', "a job ID without whitespace")],
    ["the job name is empty", () => spec({ name: " " }), problem(J, "name", '" "', "a non-empty name")],
    ["the job type is unknown", () => spec({ type: bad("daemon") }), problem(J, "type", '"daemon"', "a JobType: service, batch, system or sysbatch")],
    ["the datacenters are empty", () => spec({ datacenters: [] }), problem(J, "datacenters", "[]", 'at least one datacenter (or "*")')],
    ["a datacenter is empty", () => spec({ datacenters: ["dc1", ""] }), problem(J, "datacenters[1]", '""', "a non-empty datacenter name")],
    ["the region is empty", () => spec({ region: "" }), problem(J, "region", '""', "a non-empty region")],
    ["the namespace is empty", () => spec({ namespace: "" }), problem(J, "namespace", '""', "a non-empty namespace")],
    ["the node pool is empty", () => spec({ nodePool: "" }), problem(J, "nodePool", '""', "a non-empty node pool")],
    ["the priority is out of range", () => spec({ priority: 101 }), problem(J, "priority", "101", "an integer from 1 to 100")],
    ["the priority is not an integer", () => spec({ priority: 50.5 }), problem(J, "priority", "50.5", "an integer from 1 to 100")],
    ["a meta value is not a string", () => spec({ meta: bad({ n: 1 }) }), problem(J, "meta.n", "1", "a string value")],
    ["a meta key is empty", () => spec({ meta: { "": "x" } }), problem(J, "meta key", '""', "a non-empty key")],
    ["meta is not an object", () => spec({ meta: bad(["x"]) }), problem(J, "meta", '["x"]', "an object of string keys to string values")],
    ["a job constraint is not a Constraint", () => spec({ constraints: [bad({})] }), problem(J, "constraints[0]", "{}", "a Constraint")],
    ["a system job has spreads", () => systemSpec({ id: "web", spreads: [Spread.attribute("${node.datacenter}")] }), problem(J, "spreads", '"1 spreads"', "no spread on a system job")],
    ["a job spread is not a Spread", () => spec({ spreads: [bad({})] }), problem(J, "spreads[0]", "{}", "a Spread")],
    ["a batch job has an update strategy", () => batchSpec({ id: "web", update: new UpdateStrategy() }), problem(J, "update", '"an update strategy"', "no update strategy on a batch job")],
    ["the job update is not an UpdateStrategy", () => spec({ update: bad({ canary: 1 }) }), problem(J, "update", '{"canary":1}', "an UpdateStrategy")],
    ["a system job has a reschedule policy", () => systemSpec({ id: "web", reschedule: ReschedulePolicy.DEFAULT }), problem(J, "reschedule", '"a reschedule policy"', "no reschedule policy on a system job")],
    ["the job reschedule is not a ReschedulePolicy", () => spec({ reschedule: bad({}) }), problem(J, "reschedule", "{}", "a ReschedulePolicy")],
    ["a service job is periodic", () => spec({ periodic: Periodic.cron("0 3 * * *") }), problem(J, "periodic", '"a periodic schedule"', "a batch or sysbatch job type for a periodic job (type is service)")],
    ["periodic is not a Periodic", () => batchSpec({ id: "web", periodic: bad("0 3 * * *") }), problem(J, "periodic", '"0 3 * * *"', "a Periodic")],
    ["the job has no group", () => spec({ groups: [] }), problem(J, "groups", "[]", "at least one TaskGroup")],
    ["a group is not a TaskGroup", () => spec({ groups: [bad({ name: "web" })] }), problem(J, "groups[0]", '{"name":"web"}', "a TaskGroup")],
    ["two groups share a name", () => spec({ groups: [group(), group()] }), problem(J, "groups[1].name", '"web"', "a group name unique within the job")],
  ];
  test.each(jobCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const groupCases: FailCase[] = [
    ["the group name is empty", () => spec({ groups: [group({ name: "" })] }), problem(`${J} > group ""`, "name", '""', "a non-empty group name")],
    ["the count is negative", () => spec({ groups: [group({ count: -2 })] }), problem(G, "count", "-2", "an integer >= 0")],
    ["the count is not an integer", () => spec({ groups: [group({ count: 1.5 })] }), problem(G, "count", "1.5", "an integer >= 0")],
    ["a system group has count > 1", () => systemSpec({ id: "web" }, { name: "web", count: 2 }), problem(G, "count", "2", "0 or 1 for a system job")],
    ["the network is not a Network", () => spec({ groups: [group({ network: bad({ mode: "bridge" }) })] }), problem(G, "network", '{"mode":"bridge"}', "a Network")],
    ["a volume is not a Volume", () => spec({ groups: [group({ volumes: [bad({ name: "data" })] })] }), problem(G, "volumes[0]", '{"name":"data"}', "a Volume made with Volume.host()")],
    ["two volumes share a name", () => spec({ groups: [group({ volumes: [Volume.host("data", { source: "a" }), Volume.host("data", { source: "b" })] })] }), problem(G, "volumes[1].name", '"data"', "a volume name unique within the group")],
    ["the group has no task", () => spec({ groups: [group({ tasks: [] })] }), problem(G, "tasks", "[]", "at least one task")],
    ["a task is not a Task", () => spec({ groups: [group({ tasks: [bad({ name: "app" })] })] }), problem(G, "tasks[0]", '{"name":"app"}', "a Task")],
    ["two tasks share a name", () => spec({ groups: [group({ tasks: [task(), task()] })] }), problem(G, "tasks[1].name", '"app"', "a task name unique within the group")],
    ["two tasks are leaders", () => spec({ groups: [group({ tasks: [task({ leader: true }), task({ name: "b", leader: true })] })] }), problem(G, "tasks", '"2 leader tasks"', "at most one task with leader: true")],
    ["a group service is not a Service", () => spec({ groups: [group({ services: [bad({ name: "web" })] })] }), problem(G, "services[0]", '{"name":"web"}', "a Service")],
    [
      "group services mix providers",
      () => spec({ groups: [group({ services: [service(), service({ name: "web2", provider: ServiceProvider.NOMAD })] })] }),
      problem(G, "services provider", '["consul","nomad"]', "a single provider for all services of a group"),
    ],
    ["two services share a name and a port", () => spec({ groups: [group({ services: [service(), service()] })] }), problem(G, 'service "web"', '{"name":"web","port":"http"}', "a name and port pair unique within the group")],
    [
      "two upstreams bind the same local port",
      () =>
        spec({
          groups: [
            meshGroup({}, { connect: ConnectSidecar.upstreams([{ destinationName: "db", localBindPort: 5432 }, { destinationName: "db-replica", localBindPort: 5432 }]) }),
          ],
        }),
      problem(G, 'service "web" upstream "db-replica" localBindPort', "5432", 'a local port not already used by upstream "db" in the group'),
    ],
    ["the group restart is not a RestartPolicy", () => spec({ groups: [group({ restart: bad({ attempts: 1 }) })] }), problem(G, "restart", '{"attempts":1}', "a RestartPolicy")],
    ["a system group has a reschedule policy", () => systemSpec({ id: "web" }, { name: "web", reschedule: ReschedulePolicy.DEFAULT }), problem(G, "reschedule", '"a reschedule policy"', "no reschedule policy on a system job")],
    ["the group reschedule is not a ReschedulePolicy", () => spec({ groups: [group({ reschedule: bad({}) })] }), problem(G, "reschedule", "{}", "a ReschedulePolicy")],
    ["a batch group has an update strategy", () => batchSpec({ id: "web" }, { name: "web", update: new UpdateStrategy() }), problem(G, "update", '"an update strategy"', "no update strategy on a batch job")],
    ["the group update is not an UpdateStrategy", () => spec({ groups: [group({ update: bad({}) })] }), problem(G, "update", "{}", "an UpdateStrategy")],
    ["scaling is not a ScalingPolicy", () => spec({ groups: [group({ scaling: bad({ max: 3 }) })] }), problem(G, "scaling", '{"max":3}', "a ScalingPolicy")],
    ["a group constraint is not a Constraint", () => spec({ groups: [group({ constraints: [bad("x")] })] }), problem(G, "constraints[0]", '"x"', "a Constraint")],
    ["a system group has spreads", () => systemSpec({ id: "web" }, { name: "web", spreads: [Spread.attribute("${node.datacenter}")] }), problem(G, "spreads", '"1 spreads"', "no spread on a system job")],
    ["a group spread is not a Spread", () => spec({ groups: [group({ spreads: [bad({})] })] }), problem(G, "spreads[0]", "{}", "a Spread")],
    ["a group meta value is not a string", () => spec({ groups: [group({ meta: bad({ a: true }) })] }), problem(G, "meta.a", "true", "a string value")],
    ["the shutdown delay is not a Duration", () => spec({ groups: [group({ shutdownDelay: bad(5) })] }), problem(G, "shutdownDelay", "5", "a Duration")],
  ];
  test.each(groupCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const networkCases: FailCase[] = [
    [
      "two ports share a label",
      () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http"), Port.static("http", 80)] }) })] }),
      problem(`${G} > network`, "ports[1].label", '"http"', "a label not already used by ports[0] (port labels must be unique within a group)"),
    ],
    ["a port label has invalid characters", () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http"), Port.dynamic("my port")] }) })] }), problem(`${G} > network > port "my port"`, "label", '"my port"', "a non-empty label of letters, digits, '_' or '-'")],
    ["a static port is out of range", () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http"), Port.static("big", 70000)] }) })] }), problem(`${G} > network > port "big"`, "value", "70000", "an integer port number from 1 to 65535")],
    ["a port maps to a negative port", () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http", { to: -1 })] }) })] }), problem(`${G} > network > port "http"`, "to", "-1", "an integer port number from 1 to 65535")],
    ["a port host network is empty", () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http", { hostNetwork: "" })] }) })] }), problem(`${G} > network > port "http"`, "hostNetwork", '""', "a non-empty host network name")],
    [
      "two static ports reserve the same number",
      () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http"), Port.static("a", 8000), Port.static("b", 8000)] }) })] }),
      problem(`${G} > network`, 'port "b" value', "8000", 'a static port not already reserved by port "a"'),
    ],
    ["a port is not a Port", () => spec({ groups: [group({ network: new Network({ ports: [Port.dynamic("http"), bad({ label: "x" })] }) })] }), problem(`${G} > network`, "ports[1]", '{"label":"x"}', "a Port made with Port.dynamic() or Port.static()")],
    ["the network mode is not a NetworkMode", () => spec({ groups: [group({ network: new Network({ mode: bad("bridge"), ports: [Port.dynamic("http")] }) })] }), problem(`${G} > network`, "mode", '"bridge"', "a NetworkMode such as NetworkMode.BRIDGE")],
    ["the CNI network name is empty", () => spec({ groups: [group({ network: new Network({ mode: NetworkMode.cni(""), ports: [Port.dynamic("http")] }) })] }), problem(`${G} > network`, "mode", '"cni/"', "a CNI network name after 'cni/'")],
    ["a hostname is set in host mode", () => spec({ groups: [group({ network: new Network({ hostname: "web", ports: [Port.dynamic("http")] }) })] }), problem(`${G} > network`, "hostname", '"web"', "no hostname unless the mode is bridge or cni/*")],
    ["DNS has no server", () => spec({ groups: [group({ network: new Network({ dns: { servers: [] }, ports: [Port.dynamic("http")] }) })] }), problem(`${G} > network`, "dns.servers", "[]", "at least one DNS server address")],
  ];
  test.each(networkCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const taskCases: FailCase[] = [
    ["the task name is empty", () => specWithTask({ name: "" }), problem(`${G} > task ""`, "name", '""', "a non-empty task name")],
    ["the task is named alloc", () => specWithTask({ name: "alloc" }), problem(`${G} > task "alloc"`, "name", '"alloc"', 'a name other than "alloc", without \'/\' or NUL')],
    ["the driver is not a Driver", () => specWithTask({ driver: bad({ name: "docker" }) }), problem(T, "driver", '{"name":"docker"}', "a Driver such as Driver.docker({ image })")],
    ["the docker image is empty", () => specWithTask({ driver: Driver.docker({ image: "" }) }), problem(T, "driver.image", '""', "a non-empty Docker image reference")],
    ["the docker image is missing", () => specWithTask({ driver: Driver.docker(bad({})) }), problem(T, "driver.image", "nothing", "a non-empty Docker image reference")],
    ["the docker image has whitespace", () => specWithTask({ driver: Driver.docker({ image: "nginx latest" }) }), problem(T, "driver.image", '"nginx latest"', "an image reference without whitespace")],
    ["the docker props are missing", () => specWithTask({ driver: Driver.docker(bad(null)) }), problem(T, "driver docker props", "null", "an object")],
    ["the driver uses an undeclared port", () => specWithTask({ driver: Driver.docker({ image: "nginx", ports: ["admin"] }) }), problem(T, "driver.ports[0]", '"admin"', "a port label declared in the group network (declared: http)")],
    ["the resources are missing", () => specWithTask({ resources: bad(undefined) }), problem(T, "resources", "nothing", "CPU and memory asks, e.g. { cpuMhz: 100, memoryMb: 128 }")],
    ["the CPU ask is missing", () => specWithTask({ resources: bad({ memoryMb: 64 }) }), problem(T, "resources.cpuMhz", "nothing", "an integer number of MHz >= 1")],
    ["the CPU ask is zero", () => specWithTask({ resources: { cpuMhz: 0, memoryMb: 64 } }), problem(T, "resources.cpuMhz", "0", "an integer number of MHz >= 1")],
    ["the memory ask is negative", () => specWithTask({ resources: { cpuMhz: 100, memoryMb: -64 } }), problem(T, "resources.memoryMb", "-64", "an integer number of MB >= 10")],
    ["the memory ask is missing", () => specWithTask({ resources: bad({ cpuMhz: 100 }) }), problem(T, "resources.memoryMb", "nothing", "an integer number of MB >= 10")],
    ["the memory max is below the memory ask", () => specWithTask({ resources: { cpuMhz: 100, memoryMb: 256, memoryMaxMb: 128 } }), problem(T, "resources.memoryMaxMb", "128", "an integer >= memoryMb (256)")],
    ["an env value is not a string", () => specWithTask({ env: bad({ PORT: 80 }) }), problem(T, "env.PORT", "80", "a string value")],
    ["a task meta key is empty", () => specWithTask({ meta: { " ": "x" } }), problem(T, "meta key", '" "', "a non-empty key")],
    ["a template is not a Template", () => specWithTask({ templates: [bad({ destination: "x" })] }), problem(T, "templates[0]", '{"destination":"x"}', "a Template")],
    [
      "two templates share a destination",
      () => specWithTask({ templates: [new Template({ destination: "local/a", data: "a" }), new Template({ destination: "local/a", data: "b" })] }),
      problem(T, "templates[1].destination", '"local/a"', "a destination not already used by templates[0]"),
    ],
    ["a task service is not a Service", () => specWithTask({ services: [bad({})] }), problem(T, "services[0]", "{}", "a Service")],
    ["identity is a named identity", () => specWithTask({ identity: WorkloadIdentity.named("vault", { audience: ["vault.io"] }) }), problem(T, "identity", '"vault"', "WorkloadIdentity.default(...) (named identities go in identities)")],
    ["identities holds the default identity", () => specWithTask({ identities: [WorkloadIdentity.default()] }), problem(T, "identities[0]", '"default"', 'WorkloadIdentity.named(...) with a name other than "default"')],
    [
      "two identities share a name",
      () => specWithTask({ identities: [WorkloadIdentity.named("vault", { audience: ["a"] }), WorkloadIdentity.named("vault", { audience: ["b"] })] }),
      problem(T, "identities[1].name", '"vault"', "an identity name unique within the task"),
    ],
    ["the task restart is not a RestartPolicy", () => specWithTask({ restart: bad({}) }), problem(T, "restart", "{}", "a RestartPolicy")],
    ["a task constraint is not a Constraint", () => specWithTask({ constraints: [bad(1)] }), problem(T, "constraints[0]", "1", "a Constraint")],
    ["a task has distinct_hosts", () => specWithTask({ constraints: [Constraint.distinctHosts()] }), problem(T, "constraints[0].operator", '"distinct_hosts"', "a constraint other than distinct_hosts / distinct_property on a task")],
    ["the kill timeout is not a Duration", () => specWithTask({ killTimeout: bad("5s") }), problem(T, "killTimeout", '"5s"', "a Duration")],
    ["the kill signal is not a signal name", () => specWithTask({ killSignal: "term" }), problem(T, "killSignal", '"term"', 'a signal name such as "SIGTERM"')],
  ];
  test.each(taskCases)("fails when %s", (_name, build, message) => expectFailure(build, message));
});

describe("validation errors of services and checks", () => {
  const serviceCases: FailCase[] = [
    ["a service has no check", () => spec({ groups: [group({ services: [service({ checks: [] })] })] }), problem(S, "checks", "[]", "at least one health check (Check.http, Check.tcp or Check.script)")],
    ["a service has checks undefined", () => spec({ groups: [group({ services: [service({ checks: bad(undefined) })] })] }), problem(S, "checks", "[]", "at least one health check")],
    ["a task service has no check", () => specWithTask({ services: [service({ name: "metrics", checks: [] })] }), problem(`${T} > service "metrics"`, "checks", "[]", "at least one health check")],
    ["a check is not a Check", () => spec({ groups: [group({ services: [service({ checks: [bad({ type: "http" })] })] })] }), problem(S, "checks[0]", '{"type":"http"}', "a Check made with Check.http(), Check.tcp() or Check.script()")],
    ["two checks share a name", () => checkIn(Check.http({ name: "a", path: "/" }), { checks: [Check.http({ name: "a", path: "/" }), Check.tcp({ name: "a" })] }), problem(S, "checks[1].name", '"a"', "a check name unique within the service")],
    ["several checks have no name", () => checkIn(Check.tcp(), { checks: [Check.tcp(), Check.http({ path: "/" })] }), problem(S, "checks", '"2 checks without a name"', "a name on every check when a service has several")],
    ["the service name is empty", () => spec({ groups: [group({ services: [service({ name: "" })] })] }), problem(`${G} > service ""`, "name", '""', "a non-empty service name")],
    ["the service name is not RFC 1123", () => spec({ groups: [group({ services: [service({ name: "web_api" })] })] }), problem(`${G} > service "web_api"`, "name", '"web_api"', "letters, digits and dashes, not starting or ending with a dash, at most 63 characters (RFC 1123)")],
    ["the service provider is unknown", () => spec({ groups: [group({ services: [service({ provider: bad("etcd") })] })] }), problem(S, "provider", '"etcd"', "ServiceProvider.CONSUL or ServiceProvider.NOMAD")],
    ["the address mode is unknown", () => spec({ groups: [group({ services: [service({ addressMode: bad("public") })] })] }), problem(S, "addressMode", '"public"', "an AddressMode")],
    ["a group service uses the driver address mode", () => spec({ groups: [group({ services: [service({ addressMode: AddressMode.DRIVER })] })] }), problem(S, "addressMode", '"driver"', "AUTO, HOST or ALLOC on a group service")],
    ["a service meta value is not a string", () => spec({ groups: [group({ services: [service({ meta: bad({ v: 2 }) })] })] }), problem(S, "meta.v", "2", "a string value")],
    ["a service is on an undeclared port label", () => spec({ groups: [group({ services: [service({ port: "admin" })] })] }), problem(S, "port", '"admin"', "a port label declared in the group network (declared: http)")],
    ["a service is on a port of another group's network", () => spec({ groups: [group({ services: [service({ port: Port.dynamic("metrics") })] })] }), problem(S, "port", '"metrics"', "a port label declared in the group network")],
    ["a service port number is out of range", () => spec({ groups: [meshGroup({}, { port: 0 })] }), problem(S, "port", "0", "an integer port number from 1 to 65535")],
    ["a service port number is used without Connect", () => spec({ groups: [group({ services: [service({ port: 8080 })] })] }), problem(S, "port", "8080", "a port declared in the group network (a port number is only valid with Connect or the driver / alloc address mode)")],
    ["a task service names a task", () => specWithTask({ services: [service({ name: "metrics", task: "app" })] }), problem(`${T} > service "metrics"`, "task", '"app"', "no task on a task service")],
    ["a group service names an unknown task", () => spec({ groups: [group({ services: [service({ task: "worker" })] })] }), problem(S, "task", '"worker"', "the name of a task of the group (app)")],
    ["connect is not a ConnectSidecar", () => spec({ groups: [meshGroup({}, { connect: bad({ upstreams: [] }) })] }), problem(S, "connect", '{"upstreams":[]}', "a ConnectSidecar")],
    [
      "a task service uses Connect",
      () => specWithTask({ services: [service({ name: "metrics", port: 9000, connect: ConnectSidecar.inbound(), checks: [Check.http({ path: "/", port: "http" })] })] }),
      problem(`${T} > service "metrics"`, "connect", '"sidecar"', "Connect only on group services"),
    ],
    [
      "a Connect service uses the nomad provider",
      () => spec({ groups: [meshGroup({}, { provider: ServiceProvider.NOMAD, checks: [Check.http({ path: "/health", port: "http" })] })] }),
      problem(S, "provider", '"nomad"', "ServiceProvider.CONSUL on a Connect service"),
    ],
    [
      "a Connect service is in a host-mode group",
      () => spec({ groups: [group({ services: [service({ port: 8080, connect: ConnectSidecar.inbound(), checks: [Check.http({ path: "/", port: "http" })] })] })] }),
      problem(S, "connect", '"sidecar"', 'a group network in bridge or cni/* mode (group "web" has none or host mode)'),
    ],
    ["a Connect service name has upper case", () => spec({ groups: [meshGroup({}, { name: "Web" })] }), problem(`${G} > service "Web"`, "name", '"Web"', "a lower-case name on a Connect service")],
    ["a Connect group name has upper case", () => spec({ groups: [meshGroup({ name: "Web" })] }), problem(`${J} > group "Web" > service "web"`, "group name", '"Web"', "a lower-case group name for a Connect service")],
    ["an upstream has no destination", () => spec({ groups: [meshGroup({}, { connect: ConnectSidecar.upstreams([{ destinationName: "", localBindPort: 5432 }]) })] }), problem(`${S} > connect`, "upstreams[0].destinationName", '""', "a non-empty Consul service name")],
    ["an upstream local port is out of range", () => spec({ groups: [meshGroup({}, { connect: ConnectSidecar.upstreams([{ destinationName: "db", localBindPort: 70000 }]) })] }), problem(`${S} > connect`, "upstreams[0].localBindPort", "70000", "an integer port number from 1 to 65535")],
    ["the upstreams are not an array", () => spec({ groups: [meshGroup({}, { connect: ConnectSidecar.upstreams(bad("db")) })] }), problem(`${S} > connect`, "upstreams", '"db"', "an array of upstreams")],
    ["the sidecar CPU is zero", () => spec({ groups: [meshGroup({}, { connect: ConnectSidecar.inbound({ resources: { cpuMhz: 0, memoryMb: 64 } }) })] }), problem(`${S} > connect`, "resources.cpuMhz", "0", "an integer number of MHz >= 1")],
    ["the sidecar memory is too small", () => spec({ groups: [meshGroup({}, { connect: ConnectSidecar.inbound({ resources: { cpuMhz: 50, memoryMb: 5 } }) })] }), problem(`${S} > connect`, "resources.memoryMb", "5", "an integer number of MB >= 10")],
  ];
  test.each(serviceCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const HC = `${S} > http check`;
  const checkCases: FailCase[] = [
    ["a check is on an undeclared port label", () => checkIn(Check.http({ path: "/health", port: "admin" })), problem(HC, "port", '"admin"', "a port label declared in the group network (declared: http)")],
    ["an http check has no port anywhere", () => checkIn(Check.http({ path: "/health" }), { port: undefined }), problem(HC, "port", "nothing", "a port on the check or on its service (http checks need one)")],
    ["a tcp check has no port anywhere", () => checkIn(Check.tcp(), { port: undefined }), problem(`${S} > tcp check`, "port", "nothing", "a port on the check or on its service (tcp checks need one)")],
    ["the check name is empty", () => checkIn(Check.http({ name: "", path: "/" })), problem(`${S} > check ""`, "name", '""', "a non-empty check name")],
    ["the check interval is below 1s", () => checkIn(Check.http({ path: "/", interval: Duration.millis(500) })), problem(HC, "interval", '"500ms"', "a Duration of at least 1s")],
    ["the check interval is not a Duration", () => checkIn(Check.http({ path: "/", interval: bad(10) })), problem(HC, "interval", "10", "a Duration of at least 1s")],
    ["the check timeout is below 1s", () => checkIn(Check.http({ path: "/", timeout: Duration.millis(10) })), problem(HC, "timeout", '"10ms"', "a Duration of at least 1s")],
    ["the check restart limit is negative", () => checkIn(Check.http({ path: "/", restart: { limit: -1 } })), problem(HC, "restart.limit", "-1", "an integer >= 0")],
    [
      "a nomad-provider check ignores warnings",
      () => checkIn(Check.http({ path: "/", restart: { limit: 3, ignoreWarnings: true } }), { provider: ServiceProvider.NOMAD }),
      problem(HC, "restart.ignoreWarnings", "true", "false for services with the nomad provider (they have no warning state)"),
    ],
    ["the http path is empty", () => checkIn(Check.http({ path: "" })), problem(HC, "path", '""', "a relative HTTP path starting with '/'")],
    ["the http path is absolute", () => checkIn(Check.http({ path: "http://x/health" })), problem(HC, "path", '"http://x/health"', "a relative HTTP path starting with '/'")],
    ["the http method is not upper case", () => checkIn(Check.http({ path: "/", method: "get" })), problem(HC, "method", '"get"', "an upper-case HTTP method such as GET")],
    ["the http protocol is unknown", () => checkIn(Check.http({ path: "/", protocol: bad("ftp") })), problem(HC, "protocol", '"ftp"', "CheckProtocol.HTTP or CheckProtocol.HTTPS")],
    ["a script check has no command", () => checkIn(Check.script({ command: "", task: "app" })), problem(`${S} > script check`, "command", '""', "a non-empty command")],
    ["a group script check names no task", () => checkIn(Check.script({ command: "/bin/check" })), problem(`${S} > script check`, "task", "nothing", "the name of the task the script runs in (script checks on group services must name a task)")],
    ["a group script check names an unknown task", () => checkIn(Check.script({ command: "/bin/check", task: "worker" })), problem(`${S} > script check`, "task", '"worker"', "the name of a task of the group (app)")],
    [
      "a task script check names a task",
      () => specWithTask({ services: [service({ name: "metrics", checks: [Check.script({ command: "/bin/check", task: "app" })] })] }, { services: [] }),
      problem(`${T} > service "metrics" > script check`, "task", '"app"', "no task on a check of a task service"),
    ],
    ["a nomad-provider service has a script check", () => checkIn(Check.script({ command: "/bin/check", task: "app" }), { provider: ServiceProvider.NOMAD }), problem(`${S} > script check`, "type", '"script"', "an http or tcp check: services with the nomad provider support only those")],
    ["a Connect service has a tcp check", () => spec({ groups: [meshGroup({}, { checks: [Check.tcp({ port: "http" })] })] }), problem(`${S} > tcp check`, "type", '"tcp"', "an http check: tcp checks do not work on Connect services")],
    ["a check is exposed without a sidecar", () => checkIn(Check.http({ path: "/health", expose: true })), problem(HC, "expose", "true", "expose only on checks of a group service with a Connect sidecar")],
  ];
  test.each(checkCases)("fails when %s", (_name, build, message) => expectFailure(build, message));
});

describe("validation errors of placement, policies and scheduling", () => {
  const placementCases: FailCase[] = [
    ["a constraint has no attribute", () => spec({ constraints: [Constraint.attribute("", "linux")] }), problem(J, "constraints[0].attribute", '""', 'a non-empty attribute such as "${attr.kernel.name}"')],
    ["a constraint value is not a string", () => spec({ constraints: [Constraint.attribute("${attr.x}", bad(1))] }), problem(J, "constraints[0].value", "1", "a string value")],
    ["a constraint operator is unknown", () => spec({ constraints: [Constraint.attribute("${attr.x}", "y", bad("~"))] }), problem(J, "constraints[0].operator", '"~"', "a ConstraintOperator")],
    ["a regexp constraint is not a regular expression", () => spec({ constraints: [Constraint.attribute("${attr.x}", "(", ConstraintOperator.REGEXP)] }), problem(J, "constraints[0].value", '"("', "a valid regular expression")],
    ["a distinct_property limit is zero", () => spec({ groups: [group({ constraints: [Constraint.distinctProperty("${meta.rack}", 0)] })] }), problem(G, "constraints[0].limit", "0", "an integer >= 1")],
    ["a spread has no attribute", () => spec({ spreads: [Spread.attribute("")] }), problem(J, "spreads[0].attribute", '""', "a non-empty attribute")],
    ["a spread weight is zero", () => spec({ spreads: [Spread.attribute("${node.datacenter}", { weight: 0 })] }), problem(J, "spreads[0].weight", "0", "an integer from 1 to 100")],
    ["a spread target has no value", () => spec({ spreads: [Spread.attribute("${node.datacenter}", { targets: [{ value: "", percent: 10 }] })] }), problem(J, "spreads[0].targets[0].value", '""', "a non-empty attribute value")],
    [
      "a spread targets a value twice",
      () => spec({ spreads: [Spread.attribute("${node.datacenter}", { targets: [{ value: "dc1", percent: 10 }, { value: "dc1", percent: 20 }] })] }),
      problem(J, "spreads[0].targets[1].value", '"dc1"', "a value not already targeted"),
    ],
    ["a spread target percent is out of range", () => spec({ spreads: [Spread.attribute("${node.datacenter}", { targets: [{ value: "dc1", percent: 120 }] })] }), problem(J, "spreads[0].targets[0].percent", "120", "an integer from 0 to 100")],
    [
      "spread target percents add up to more than 100",
      () => spec({ spreads: [Spread.attribute("${node.datacenter}", { targets: [{ value: "dc1", percent: 70 }, { value: "dc2", percent: 40 }] })] }),
      problem(J, "spreads[0].targets", '"percentages adding up to 110"', "percentages adding up to at most 100"),
    ],
  ];
  test.each(placementCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const U = `${J} > update`;
  const updateCases: FailCase[] = [
    ["max parallel is negative", () => spec({ update: new UpdateStrategy({ maxParallel: -1 }) }), problem(U, "maxParallel", "-1", "an integer >= 0")],
    ["canary is not an integer", () => spec({ update: new UpdateStrategy({ canary: 0.5 }) }), problem(U, "canary", "0.5", "an integer >= 0")],
    ["auto-promote is set without canaries", () => spec({ update: new UpdateStrategy({ canary: 0, autoPromote: true }) }), problem(U, "autoPromote", "true", "false when canary is 0 (there is nothing to promote)")],
    ["the health check mode is unknown", () => spec({ update: new UpdateStrategy({ healthCheck: bad("http") }) }), problem(U, "healthCheck", '"http"', "a HealthCheckMode")],
    [
      "min healthy time is not below the healthy deadline",
      () => spec({ update: new UpdateStrategy({ minHealthyTime: Duration.minutes(5), healthyDeadline: Duration.minutes(5) }) }),
      problem(U, "minHealthyTime", '"5m"', "a duration shorter than healthyDeadline (5m)"),
    ],
    ["the healthy deadline is zero", () => spec({ update: new UpdateStrategy({ minHealthyTime: Duration.seconds(0), healthyDeadline: Duration.seconds(0) }) }), problem(U, "healthyDeadline", '"0s"', "a duration > 0")],
    [
      "the healthy deadline is not below the progress deadline",
      () => spec({ update: new UpdateStrategy({ healthyDeadline: Duration.minutes(10), progressDeadline: Duration.minutes(10) }) }),
      problem(U, "healthyDeadline", '"10m"', "a duration shorter than progressDeadline (10m), or progressDeadline 0"),
    ],
    ["stagger is zero", () => spec({ update: new UpdateStrategy({ stagger: Duration.seconds(0) }) }), problem(U, "stagger", '"0s"', "a duration > 0")],
  ];
  test.each(updateCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const R = `${G} > restart`;
  const restartWith = (props: Partial<ConstructorParameters<typeof RestartPolicy>[0]>) =>
    spec({ groups: [group({ restart: new RestartPolicy({ attempts: 2, interval: Duration.minutes(5), delay: Duration.seconds(15), ...props }) })] });
  const restartCases: FailCase[] = [
    ["restart attempts are negative", () => restartWith({ attempts: -1 }), problem(R, "attempts", "-1", "an integer >= 0")],
    ["the restart mode is unknown", () => restartWith({ mode: bad("retry") }), problem(R, "mode", '"retry"', "a RestartMode")],
    ["zero restart attempts use the delay mode", () => restartWith({ attempts: 0, mode: RestartMode.DELAY }), problem(R, "mode", '"delay"', "RestartMode.FAIL when attempts is 0")],
    ["the restart interval is below 5s", () => restartWith({ interval: Duration.seconds(2), delay: Duration.seconds(1) }), problem(R, "interval", '"2s"', "a Duration of at least 5s")],
    ["the restart delay is not a Duration", () => restartWith({ delay: bad(15) }), problem(R, "delay", "15", "a Duration")],
    ["restart attempts times delay exceed the interval", () => restartWith({ attempts: 10, interval: Duration.minutes(1), delay: Duration.seconds(15) }), problem(R, "interval", '"1m"', "at least attempts × delay (10 × 15s)")],
  ];
  test.each(restartCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const RS = `${J} > reschedule`;
  const rescheduleCases: FailCase[] = [
    ["reschedule attempts are negative", () => spec({ reschedule: ReschedulePolicy.limited({ attempts: -1, interval: Duration.hours(1) }) }), problem(RS, "attempts", "-1", "an integer >= 1")],
    ["the delay function is unknown", () => spec({ reschedule: ReschedulePolicy.unlimited({ delayFunction: bad("linear") }) }), problem(RS, "delayFunction", '"linear"', "a DelayFunction")],
    ["the reschedule delay is below 5s", () => spec({ reschedule: ReschedulePolicy.unlimited({ delay: Duration.seconds(1) }) }), problem(RS, "delay", '"1s"', "a Duration of at least 5s")],
    ["the max delay is below the delay", () => spec({ reschedule: ReschedulePolicy.unlimited({ delay: Duration.minutes(5), maxDelay: Duration.minutes(1) }) }), problem(RS, "maxDelay", '"1m"', "a Duration of at least delay (5m)")],
    ["a limited reschedule interval is below 15s", () => spec({ reschedule: ReschedulePolicy.limited({ attempts: 2, interval: Duration.seconds(10) }) }), problem(RS, "interval", '"10s"', "a Duration of at least 15s")],
  ];
  test.each(rescheduleCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const P = 'job "backup" > periodic';
  const periodicCases: FailCase[] = [
    ["a cron expression has the wrong field count", () => batchSpec({ periodic: Periodic.cron("0 3 * *") }), problem(P, "cron", '"0 3 * *"', "5 space-separated fields (minute hour day-of-month month day-of-week), or 6-7 with seconds / year; got 4")],
    ["a cron expression has too many fields", () => batchSpec({ periodic: Periodic.cron("0 0 3 * * * 2030 x") }), problem(P, "cron", '"0 0 3 * * * 2030 x"', "5 space-separated fields")],
    ["a cron field has invalid characters", () => batchSpec({ periodic: Periodic.cron("0 3 * * $") }), problem(P, "cron", '"0 3 * * $"', "fields made of digits, names")],
    ["a cron macro is unknown", () => batchSpec({ periodic: Periodic.cron("@sometimes") }), problem(P, "cron", '"@sometimes"', "a cron expression or one of @yearly")],
    ["there is no cron expression", () => batchSpec({ periodic: Periodic.crons([]) }), problem(P, "cron", "[]", "at least one cron expression")],
    ["one of several cron expressions is wrong", () => batchSpec({ periodic: Periodic.crons(["@daily", "5 4"]) }), problem(P, "crons[1]", '"5 4"', "5 space-separated fields")],
    ["a cron expression is not a string", () => batchSpec({ periodic: Periodic.cron(bad(3)) }), problem(P, "cron", "3", "a cron expression string")],
    ["the time zone is unknown", () => batchSpec({ periodic: Periodic.cron("0 3 * * *", { timeZone: "Mars/Olympus" }) }), problem(P, "timeZone", '"Mars/Olympus"', 'an IANA time zone such as "UTC" or "Europe/Paris"')],
  ];
  test.each(periodicCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const scaled = (scaling: ScalingPolicy, count?: number) => spec({ groups: [group({ count, scaling })] });
  const policyWith = (checks: ScalingCheck[]) => new ScalingPolicy({ min: 1, max: 3, policy: new AutoscalerPolicy({ checks }) });
  const cpu = (strategy: ScalingStrategy) => ScalingCheck.prometheus("cpu", { query: "avg(cpu)", strategy });
  const scalingCases: FailCase[] = [
    ["scaling min is greater than max", () => scaled(new ScalingPolicy({ min: 5, max: 2 }), 2), problem(G, "scaling.min", "5", "at most scaling.max (2)")],
    ["the count is above scaling max", () => scaled(new ScalingPolicy({ min: 1, max: 3 }), 4), problem(G, "count", "4", "a count within scaling bounds [1, 3]")],
    ["the count is below scaling min", () => scaled(new ScalingPolicy({ min: 2, max: 3 }), 1), problem(G, "count", "1", "a count within scaling bounds [2, 3]")],
    ["scaling min is negative", () => scaled(new ScalingPolicy({ min: -1, max: 3 }), 1), problem(G, "scaling.min", "-1", "an integer >= 0")],
    ["scaling max is not an integer", () => scaled(new ScalingPolicy({ min: 1, max: 2.5 }), 1), problem(G, "scaling.max", "2.5", "an integer >= 0")],
    ["the scaling policy is not an AutoscalerPolicy", () => scaled(new ScalingPolicy({ min: 1, max: 3, policy: bad({ check: {} }) })), problem(G, "scaling.policy", '{"check":{}}', "an AutoscalerPolicy")],
    ["the scaling policy has no check", () => scaled(policyWith([])), problem(G, "scaling.policy.checks", "[]", "at least one ScalingCheck")],
    ["a scaling check is not a ScalingCheck", () => scaled(policyWith([bad({ name: "cpu" })])), problem(G, "scaling.policy.checks[0]", '{"name":"cpu"}', "a ScalingCheck")],
    ["two scaling checks share a name", () => scaled(policyWith([cpu(ScalingStrategy.targetValue(70)), cpu(ScalingStrategy.targetValue(60))])), problem(G, "scaling.policy.checks[1].name", '"cpu"', "a check name unique within the policy")],
    ["a scaling check has no name", () => scaled(policyWith([ScalingCheck.prometheus("", { query: "q", strategy: ScalingStrategy.passThrough() })])), problem(G, "scaling.policy.check name", '""', "a non-empty check name")],
    ["a scaling check has no source", () => scaled(policyWith([new ScalingCheck({ name: "cpu", source: "", query: "q", strategy: ScalingStrategy.passThrough() })])), problem(G, 'scaling.policy.check "cpu".source', '""', 'a non-empty APM plugin name such as "prometheus"')],
    ["a scaling check has no query", () => scaled(policyWith([ScalingCheck.prometheus("cpu", { query: "", strategy: ScalingStrategy.passThrough() })])), problem(G, 'scaling.policy.check "cpu".query', '""', "a non-empty query")],
    ["a scaling strategy is not a ScalingStrategy", () => scaled(policyWith([ScalingCheck.prometheus("cpu", { query: "q", strategy: bad({ name: "target-value" }) })])), problem(G, 'scaling.policy.check "cpu".strategy', '{"name":"target-value"}', "a ScalingStrategy such as ScalingStrategy.targetValue(70)")],
    ["a target-value target is not positive", () => scaled(policyWith([cpu(ScalingStrategy.targetValue(0))])), problem(G, 'scaling.policy.check "cpu".strategy.target', "0", "a number > 0")],
    ["a strategy has no name", () => scaled(policyWith([cpu(ScalingStrategy.custom("", { x: 1 }))])), problem(G, 'scaling.policy.check "cpu".strategy.name', '""', "a non-empty strategy plugin name")],
    ["a strategy config number is not finite", () => scaled(policyWith([cpu(ScalingStrategy.custom("threshold", { upper_bound: Infinity }))])), problem(G, 'scaling.policy.check "cpu".strategy.upper_bound', "Infinity", "a finite number")],
  ];
  test.each(scalingCases)("fails when %s", (_name, build, message) => expectFailure(build, message));
});

describe("validation errors of volumes, templates and identities", () => {
  const withVolume = (volume: Volume, mounts: TaskProps["volumeMounts"] = [], count?: number) =>
    specWithTask({ volumeMounts: mounts }, { volumes: [volume], count, update: new UpdateStrategy({ canary: 0 }) });
  const data = () => Volume.host("data", { source: "pg-data" });
  const V = `${G} > volume "data"`;
  const readOnly = Volume.host("data", { source: "x", readOnly: true });
  const volumeCases: FailCase[] = [
    ["a volume name has invalid characters", () => withVolume(Volume.host("my data", { source: "x" })), problem(`${G} > volume "my data"`, "name", '"my data"', "a non-empty name of letters, digits, '.', '_' or '-'")],
    ["a host volume has no source", () => withVolume(Volume.host("data", { source: "" })), problem(V, "source", '""', "a non-empty volume source")],
    ["a host volume access mode is unknown", () => withVolume(Volume.host("data", { source: "x", accessMode: bad("rw") })), problem(V, "accessMode", '"rw"', "a HostVolumeAccessMode")],
    [
      "a reader-only host volume is writable",
      () => withVolume(Volume.host("data", { source: "x", accessMode: HostVolumeAccessMode.SINGLE_NODE_READER_ONLY })),
      problem(V, "readOnly", "false", "true with the single-node-reader-only access mode"),
    ],
    ["a mount's volume is not a Volume", () => withVolume(data(), [{ volume: bad("data"), destination: "/data" }]), problem(T, "volumeMounts[0].volume", '"data"', "a Volume declared in the group's volumes")],
    ["a mount's volume is not declared in the group", () => withVolume(data(), [{ volume: Volume.host("logs", { source: "logs" }), destination: "/logs" }]), problem(T, "volumeMounts[0].volume", '"logs"', "a volume declared in the group's volumes (declared: data)")],
    [
      "a read-only volume is mounted read-write",
      () => withVolume(readOnly, [{ volume: readOnly, destination: "/data", readOnly: false }]),
      problem(T, "volumeMounts[0].readOnly", "false", 'true or unset, since volume "data" is read-only'),
    ],
    ["a mount has no destination", () => withVolume(data(), [{ volume: bad(undefined), destination: "" }]), problem(T, "volumeMounts[0].destination", '""', "a non-empty path in the task")],
    ["a mount propagation mode is unknown", () => withVolume(data(), [{ volume: bad(undefined), destination: "/d", propagationMode: bad("shared") }]), problem(T, "volumeMounts[0].propagationMode", '"shared"', "a PropagationMode")],
  ];
  test.each(volumeCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const tpl = (props: Partial<ConstructorParameters<typeof Template>[0]>) => specWithTask({ templates: [new Template({ destination: "local/a.conf", data: "x", ...props })] });
  const templateCases: FailCase[] = [
    ["a template has no destination", () => tpl({ destination: "" }), problem(T, "templates[0].destination", '""', "a non-empty path relative to the task directory")],
    ["a template has neither data nor source", () => tpl({ data: undefined }), problem(T, "templates[0].data/source", '"neither"', "exactly one of data (inline template) and source (template file)")],
    ["a template has both data and source", () => tpl({ source: "local/a.tpl" }), problem(T, "templates[0].data/source", '"both"', "exactly one of data (inline template) and source (template file)")],
    ["a template change mode is not a ChangeMode", () => tpl({ changeMode: bad("restart") }), problem(T, "templates[0].changeMode", '"restart"', "a ChangeMode such as ChangeMode.restart()")],
    ["a template change signal is not a signal", () => tpl({ changeMode: ChangeMode.signal("hup") }), problem(T, "templates[0].changeMode.signal", '"hup"', 'a signal name such as "SIGHUP"')],
    ["a template change script has no command", () => tpl({ changeMode: ChangeMode.script({ command: "" }) }), problem(T, "templates[0].changeMode.script.command", '""', "a non-empty command")],
    ["template permissions are not octal", () => tpl({ perms: "0999" }), problem(T, "templates[0].perms", '"0999"', 'octal permissions such as "0640"')],
  ];
  test.each(templateCases)("fails when %s", (_name, build, message) => expectFailure(build, message));

  const identityCases: FailCase[] = [
    ["an identity name has invalid characters", () => specWithTask({ identities: [WorkloadIdentity.named("vault.io", { audience: ["vault.io"] })] }), problem(T, "identities[0].name", '"vault.io"', "1 to 128 letters, digits, '_' or '-'")],
    ["a named identity has no audience", () => specWithTask({ identities: [WorkloadIdentity.named("vault", { audience: [] })] }), problem(T, "identities[0].audience", "[]", "at least one audience")],
    ["an identity audience is empty", () => specWithTask({ identities: [WorkloadIdentity.named("vault", { audience: ["vault.io", ""] })] }), problem(T, "identities[0].audience[1]", '""', "a non-empty audience")],
    ["an identity TTL is not a Duration", () => specWithTask({ identities: [WorkloadIdentity.named("vault", { audience: ["vault.io"], ttl: bad("1h") })] }), problem(T, "identities[0].ttl", '"1h"', "a Duration")],
    [
      "an identity change mode is a script",
      () => specWithTask({ identities: [WorkloadIdentity.named("vault", { audience: ["vault.io"], changeMode: ChangeMode.script({ command: "/bin/x" }) })] }),
      problem(T, "identities[0].changeMode", '"script"', "ChangeMode.restart(), ChangeMode.noop() or ChangeMode.signal(...)"),
    ],
    [
      "an identity change signal is not a signal",
      () => specWithTask({ identities: [WorkloadIdentity.named("vault", { audience: ["vault.io"], changeMode: ChangeMode.signal("USR1") })] }),
      problem(T, "identities[0].changeMode.signal", '"USR1"', 'a signal name such as "SIGHUP"'),
    ],
  ];
  test.each(identityCases)("fails when %s", (_name, build, message) => expectFailure(build, message));
});

describe("values that are only known at apply time", () => {
  test("skips format checks on unresolved cdktf tokens and keeps them resolvable", () => {
    const synth = Testing.synthScope((scope) => {
      // GIVEN an image that comes from a Terraform variable (a token with a space once resolved)
      const image = new TerraformVariable(scope, "image", { type: "string" });
      const s = spec({ groups: [group({ tasks: [task({ driver: Driver.docker({ image: `${image.stringValue} ` }) })] })] });
      new NomadJob(scope, "web", { spec: s });
    });
    // THEN the model accepted it and the jobspec refers to the variable, unescaped
    const jobspec: string = Object.values(JSON.parse(synth).resource.nomad_job as Record<string, { jobspec: string }>)[0].jobspec;
    expect(jobspec).toContain('"image":"${var.image} "');
  });
});
