import { TerraformStack, Testing } from "cdktf";
import { Access, AclRules, ConsulPolicy, ConsulToken } from "../constructs/consul/acl";
import { AppSettings, FailoverQuery, ServiceIntentions, ServiceProtocol } from "../constructs/consul/mesh";
import { capacityProblems } from "../constructs/workloads/capacity";
import { planHostVolumes, hostPortsByNodeClass } from "../constructs/workloads/hosts";
import { Platform } from "../constructs/workloads/platform";
import { dependencyOn, WorkloadKind, WorkloadSpec, validateWorkloads } from "../constructs/workloads/spec";
import { workloadJob, workloadRules } from "../constructs/workloads/workload";
import { collectErrors } from "../stacks/synth";

const api: WorkloadSpec = {
  name: "api",
  description: "API",
  image: "registry.example.org/api",
  version: "1.2.3",
  resources: { cpuMhz: 300, memoryMb: 256 },
  count: 2,
  port: { containerPort: 8080, public: { host: "api.example.org" }, metricsPath: "/metrics" },
  dependsOn: [{ service: "db", localPort: 5432 }],
  scaling: { min: 2, max: 6 },
  settings: { page_size: "50" },
};
const db: WorkloadSpec = {
  name: "db",
  description: "database",
  image: "postgres",
  version: "17",
  resources: { cpuMhz: 500, memoryMb: 1024 },
  count: 1,
  port: { containerPort: 5432, protocol: ServiceProtocol.TCP, healthCommand: ["pg_isready", "-h", "127.0.0.1"] },
  volume: { source: "db", mountPath: "/var/lib/postgresql/data" },
};
const web: WorkloadSpec = { ...api, name: "web", port: { containerPort: 8080, public: { host: "www.example.org" } }, dependsOn: [{ service: "api", localPort: 9000 }], scaling: undefined, settings: undefined };

function platformJson(workloads: WorkloadSpec[], failover?: string[]): Record<string, any> {
  const stack = new TerraformStack(Testing.app(), "p");
  new Platform(stack, "platform", { workloads, datacenter: "dc1", nomadAddress: "https://10.0.1.10:4646", caPem: "CA", ...(failover ? { failoverDatacenters: failover } : {}) });
  return JSON.parse(Testing.synth(stack));
}

describe("a workload's one declaration", () => {
  test("GIVEN an API WHEN its job is built THEN a Connect service with the upstream, an exposed HTTP check, scaling on CPU and its node class", () => {
    const job = workloadJob(api, ["dc1"]).toJson() as any;
    const group = job.Job.TaskGroups[0];
    expect(job.Job).toMatchObject({ ID: "api", Type: "service", Datacenters: ["dc1"], Constraints: [{ LTarget: "${node.class}", RTarget: "production", Operand: "=" }] });
    expect(group.Networks[0].Mode).toBe("bridge");
    expect(group.Services[0]).toMatchObject({ Name: "api", PortLabel: "8080", Tags: ["http", "metrics", "public"], Connect: { SidecarService: { Proxy: { Upstreams: [{ DestinationName: "db", LocalBindPort: 5432 }] } } } });
    expect(group.Services[0].Checks[0]).toMatchObject({ Type: "http", Path: "/health", Expose: true });
    expect(group.Scaling).toMatchObject({ Min: 2, Max: 6, Enabled: true });
    expect(job.Job.Update ?? group.Update).toMatchObject({ Canary: 1, AutoRevert: true });
    expect(group.Tasks[0].Config.image).toBe("registry.example.org/api:1.2.3");
  });

  test("GIVEN a database WHEN its job is built THEN a check run in the task and its host volume", () => {
    const group = (workloadJob(db, ["dc1"]).toJson() as any).Job.TaskGroups[0];
    expect(group.Services[0].Checks[0]).toMatchObject({ Type: "script", Command: "pg_isready", Args: ["-h", "127.0.0.1"], TaskName: "db" });
    expect(group.Volumes).toEqual({ db: expect.objectContaining({ Type: "host", Source: "db" }) });
    expect(group.Tasks[0].VolumeMounts[0]).toMatchObject({ Volume: "db", Destination: "/var/lib/postgresql/data" });
  });

  test("GIVEN a periodic job that calls a service WHEN built THEN an upstream-only Connect service carries the calls", () => {
    const job = workloadJob({ ...db, name: "backup-db", kind: WorkloadKind.PERIODIC, schedule: "0 2 * * *", port: undefined, volume: undefined, dependsOn: [{ service: "db", localPort: 5432 }] }, ["dc1"]).toJson() as any;
    const group = job.Job.TaskGroups[0];
    expect(job.Job.Type).toBe("batch");
    expect(group.Networks[0].Mode).toBe("bridge");
    expect(group.Services).toEqual([expect.objectContaining({ Name: "backup-db", Checks: [], Connect: { SidecarService: { Proxy: { Upstreams: [{ DestinationName: "db", LocalBindPort: 5432 }] } } } })]);
  });

  test("host ports map to the port inside the allocation", () => {
    const group = (workloadJob({ ...api, dependsOn: [], hostPorts: [{ label: "https", port: 443, to: 8443, from: "anywhere" }] }, ["dc1"]).toJson() as any).Job.TaskGroups[0];
    expect(group.Networks[0].ReservedPorts).toEqual([{ Label: "https", Value: 443, To: 8443 }]);
  });

  test("its ACL rules: its settings and the services it calls, nothing else", () => {
    expect(workloadRules(api).toJson()).toEqual({ key_prefix: { "config/api/": { policy: "read" } }, service: { db: { policy: "read" } } });
  });

  test("fails on a dependency that is not deployed", () => {
    expect(validateWorkloads([api], "dc1:")).toContain('dc1: workload "api": depends on "db", which is not deployed here; expected one of api');
  });

  test("fails on two dependencies on one local port", () => {
    const bad = { ...api, dependsOn: [{ service: "db", localPort: 5432 }, { service: "web", localPort: 5432 }] };
    expect(validateWorkloads([bad, db, web], "dc1:").join("\n")).toMatch(/local port 5432 used for db and web; expected one local port per dependency/);
  });

  test("fails on a duplicate name, an empty image, a bad count and a count outside scaling", () => {
    const problems = validateWorkloads([api, { ...api, image: " ", count: 0 }, db, { ...web, count: 9, scaling: { min: 1, max: 3 } }], "dc1:").join("\n");
    expect(problems).toMatch(/workload "api": name used twice/);
    expect(problems).toMatch(/workload "api": image is empty; expected a container image/);
    expect(problems).toMatch(/count 0; expected a whole number >= 1/);
    expect(problems).toMatch(/workload "web": count 9 outside scaling \[1, 3\]/);
  });

  test("fails on two workloads on one public route", () => {
    expect(validateWorkloads([db, api, { ...web, port: { containerPort: 8080, public: { host: "api.example.org" } } }], "dc1:").join("\n")).toMatch(/public route api.example.org\/ is also api's/);
  });

  test("fails on a TCP service without a health command", () => {
    expect(validateWorkloads([{ ...db, port: { containerPort: 5432, protocol: ServiceProtocol.TCP } }], "dc1:")).toEqual(['dc1: workload "db": TCP service without healthCommand; expected a command that checks it from inside the task (e.g. ["pg_isready"])']);
  });

  test("fails on a public route on a TCP port, a periodic job without schedule, a dependency on itself", () => {
    const problems = validateWorkloads(
      [{ ...db, port: { containerPort: 5432, protocol: ServiceProtocol.TCP, public: { host: "db.example.org" } } }, { ...db, name: "backup", kind: WorkloadKind.PERIODIC, port: undefined, volume: undefined, dependsOn: [{ service: "backup", localPort: 1 }] }],
      "dc1:",
    ).join("\n");
    expect(problems).toMatch(/public route on a tcp port; expected an HTTP service behind the ingress/);
    expect(problems).toMatch(/periodic workload without schedule; expected a cron expression/);
    expect(problems).toMatch(/workload "backup": depends on itself/);
  });
});

describe("Platform", () => {
  test("GIVEN dependencies WHEN deployed THEN intentions allow exactly the declared callers, everything else denied", () => {
    const json = platformJson([db, api, web]);
    const intentions = json.resource.consul_config_entry_service_intentions;
    const byName = Object.fromEntries(Object.values(intentions).map((i: any) => [i.name, i.sources]));
    expect(byName["*"]).toEqual([expect.objectContaining({ name: "*", action: "deny" })]);
    expect(byName.db).toEqual([expect.objectContaining({ name: "api", action: "allow" })]);
    expect(byName.api).toEqual([expect.objectContaining({ name: "web", action: "allow" })]);
    expect(byName.web).toBeUndefined();
  });

  test("each workload has a policy, a role its tasks are bound to, service-defaults and its KV settings", () => {
    const json = platformJson([db, api, web]);
    expect(Object.values(json.resource.consul_acl_role).map((r: any) => r.name).sort()).toEqual(["workload-api", "workload-db", "workload-web"]);
    expect(Object.values(json.resource.consul_acl_binding_rule)).toEqual(
      expect.arrayContaining([expect.objectContaining({ bind_type: "role", bind_name: "workload-$${value.nomad_job_id}" }), expect.objectContaining({ bind_type: "service", bind_name: "$${value.nomad_service}" })]),
    );
    expect(Object.values(json.resource.consul_key_prefix)).toEqual([expect.objectContaining({ path_prefix: "config/api/", subkeys: { page_size: "50" } })]);
    expect(Object.values(json.resource.consul_config_entry_service_defaults).map((d: any) => [d.name, d.protocol]).sort()).toEqual([["api", "http"], ["db", "tcp"], ["web", "http"]]);
    expect(Object.keys(json.resource.nomad_job).length).toBe(3);
  });

  test("GIVEN a failover datacenter THEN a prepared query per service fails over to it", () => {
    const json = platformJson([db, api, web], ["backup"]);
    expect(Object.values(json.resource.consul_prepared_query)).toContainEqual(expect.objectContaining({ name: "api", only_passing: true, failover: { datacenters: ["backup"], nearest_n: 0 } }));
  });

  test("fails with every problem of the workloads at once, recorded for synth to print (not thrown)", () => {
    const stack = new TerraformStack(Testing.app(), "p");
    const broken = { ...api, name: "broken", dependsOn: [{ service: "nowhere", localPort: 9000 }] };
    new Platform(stack, "platform", { workloads: [api, api, broken], datacenter: "dc1", nomadAddress: "x", caPem: "x" });
    const errors = collectErrors(stack);
    expect(errors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^p\/platform: datacenter dc1: workload "api": name used twice/),
      expect.stringMatching(/^p\/platform: datacenter dc1: workload "broken": depends on "nowhere"/),
    ]));
    expect(errors.filter((e) => e.includes("\n"))).toEqual([]);
  });
});

describe("dependencyOn", () => {
  test("reaches a workload on its own port, or the one given", () => {
    expect([dependencyOn(api), dependencyOn(api, { localPort: 9100, datacenter: "backup" })]).toEqual([
      { service: api.name, localPort: api.port!.containerPort },
      { service: api.name, localPort: 9100, datacenter: "backup" },
    ]);
  });
  test("fails on a workload with no port of its own and no localPort, naming both", () => {
    const { port: _none, ...portless } = api; // eslint-disable-line @typescript-eslint/no-unused-vars
    expect(() => dependencyOn(portless)).toThrow(/^dependency on api: localPort: received nothing; expected a port, since api declares none of its own$/);
  });
});

describe("image references", () => {
  test("a tag pins image:tag; a digest pins image@sha256:... (by content)", () => {
    const image = (version: string) => (workloadJob({ ...api, version }, ["dc1"]).toJson() as any).Job.TaskGroups[0].Tasks[0].Config.image;
    const digest = `sha256:${"c".repeat(64)}`;
    expect([image("1.2.3"), image(digest)]).toEqual([`${api.image}:1.2.3`, `${api.image}@${digest}`]);
  });
});

describe("the hosts' side", () => {
  const clients = [
    { name: "client-1", nodeClass: "production", hasDataDisk: true },
    { name: "client-2", nodeClass: "production", hasDataDisk: true },
    { name: "ingress-1", nodeClass: "ingress", hasDataDisk: false },
  ];

  test("data volumes go round-robin to clients with a data disk; shared host folders to every client of the class", () => {
    const logs: WorkloadSpec = { ...db, name: "logs", kind: WorkloadKind.SYSTEM, volume: { source: "alloc-logs", mountPath: "/logs", readOnly: true, hostPath: "/opt/nomad/alloc" } };
    const plan = planHostVolumes("site a:", [db, { ...db, name: "db2", volume: { source: "db2", mountPath: "/d" } }, logs], clients, "/srv/nomad");
    expect(plan.problems).toEqual([]);
    expect(plan.volumes.get("client-1")).toEqual({ db: "/srv/nomad/db" });
    expect(plan.volumes.get("client-2")).toEqual({ db2: "/srv/nomad/db2" });
    expect(plan.readOnlyVolumes.get("client-1")).toEqual({ "alloc-logs": "/opt/nomad/alloc" });
    expect(plan.volumes.get("ingress-1")).toEqual({});
  });

  test("fails on a data volume pinned to a client of another class, or to one with no data disk", () => {
    expect(planHostVolumes("site a:", [db], clients, "/srv", { db: "ingress-1" }).problems).toEqual([
      'site a: platform.dataVolumes.db: ingress-1 is not of node class "production"; expected a client of class "production" with a data disk for workload "db": client-1, client-2',
    ]);
    const diskless = [...clients, { name: "client-3", nodeClass: "production", hasDataDisk: false }];
    expect(planHostVolumes("site a:", [db], diskless, "/srv", { db: "client-3" }).problems).toEqual([
      'site a: platform.dataVolumes.db: client-3 has no data disk; expected a client of class "production" with a data disk for workload "db": client-1, client-2',
    ]);
  });

  test("fails on a data volume with no client to hold it", () => {
    expect(planHostVolumes("site a:", [db], [clients[2]], "/srv").problems).toEqual(['site a: workload "db": needs data volume "db", but no client of node class "production" has a data disk; expected vms.client.volumeGb']);
  });

  test("host ports come from the declarations, by node class", () => {
    const lb: WorkloadSpec = { ...web, name: "lb", nodeClass: "ingress", hostPorts: [{ label: "http", port: 80, from: "anywhere" }] };
    expect(hostPortsByNodeClass([lb, api])).toEqual(new Map([["ingress", [{ label: "http", port: 80, from: "anywhere" }]]]));
  });
});

describe("the hosts' side follows the job model", () => {
  const clients = [
    { name: "client-1", nodeClass: "production", hasDataDisk: true },
    { name: "edge-1", nodeClass: "edge", hasDataDisk: true },
  ];
  test("a workload on another node class gets its volume on a client of that class, as its job's constraint says", () => {
    const plan = planHostVolumes("site a:", [{ ...db, nodeClass: "edge" }], clients, "/srv/nomad");
    expect([plan.problems, plan.volumes.get("edge-1"), plan.volumes.get("client-1")]).toEqual([[], { [db.volume!.source]: `/srv/nomad/${db.volume!.source}` }, {}]);
  });
  test("host ports are the job's reserved ports, on its node class, reachable from where the declaration says", () => {
    const edge: WorkloadSpec = { ...api, name: "edge", nodeClass: "edge", hostPorts: [{ label: "http", port: 80, to: 8080, from: "anywhere" }] };
    expect([...hostPortsByNodeClass([edge]).entries()]).toEqual([["edge", [{ label: "http", port: 80, to: 8080, from: "anywhere" }]]]);
  });
});

describe("capacity", () => {
  const opts = { cpuMhzPerVcpu: 2000, reservedPercent: 10 };
  test("GIVEN enough clients THEN no problem", () => {
    expect(capacityProblems("site a", [db, api, web], [{ nodeClass: "production", nodes: 3, vcpusPerNode: 4, ramMbPerNode: 8192 }], opts)).toEqual([]);
  });

  test("fails with the numbers when the asks (scaling maximums and sidecars included) exceed the clients", () => {
    const problems = capacityProblems("site a", [db, api, web], [{ nodeClass: "production", nodes: 1, vcpusPerNode: 2, ramMbPerNode: 2048 }], opts);
    expect(problems).toHaveLength(1);
    // api: 6 (scaling max) x (300 + 250 sidecar) = 3300 MHz; web: 2 x 550 = 1100; db: 500 + 250 = 750
    expect(problems[0]).toMatch(/^capacity: site a node class "production": the jobs ask CPU 5150 MHz > 3600 MHz and memory \d+ MB > 1843 MB the clients hold \(1 × \(2 vCPU × 2000 MHz, 2048 MB\), 10% reserved\); largest: api 3300 MHz/);
  });

  test("fails on a workload whose node class no client has", () => {
    expect(capacityProblems("site a", [{ ...api, nodeClass: "gpu", dependsOn: [] }], [{ nodeClass: "production", nodes: 1, vcpusPerNode: 8, ramMbPerNode: 8192 }], opts)[0]).toMatch(/runs on node class "gpu", which no client has/);
  });
});

describe("Consul constructs", () => {
  test("ACL rules serialize to Consul's JSON rule format, sorted", () => {
    expect(AclRules.none().service("b", Access.WRITE).service("a", Access.READ).operator(Access.READ).toJson()).toEqual({ service: { a: { policy: "read" }, b: { policy: "write" } }, operator: "read" });
  });

  test("fails on an empty policy, a token without policy, an empty service name, list on a scalar", () => {
    const stack = new TerraformStack(Testing.app(), "c");
    expect(() => new ConsulPolicy(stack, "p", { name: "p", description: "d", rules: AclRules.none() })).toThrow(/rules are empty; expected at least one rule/);
    expect(() => new ConsulToken(stack, "t", { description: "t", policies: [] })).toThrow(/policies is empty/);
    expect(() => AclRules.none().service("", Access.READ)).toThrow(/empty service name/);
    expect(() => AclRules.none().operator(Access.LIST)).toThrow(/"list" does not apply/);
  });

  test("fails on intentions that allow and deny the same source, or allow the service itself", () => {
    const stack = new TerraformStack(Testing.app(), "c");
    expect(() => new ServiceIntentions(stack, "i", { destination: "db", allow: ["api"], deny: ["api"] })).toThrow(/api both allowed and denied/);
    expect(() => new ServiceIntentions(stack, "j", { destination: "db", allow: ["db"] })).toThrow(/allows itself/);
    expect(() => new ServiceIntentions(stack, "k", { destination: "db", allow: [] })).toThrow(/no source/);
  });

  test("fails on a KV prefix without a trailing slash and a failover query without datacenters", () => {
    const stack = new TerraformStack(Testing.app(), "c");
    expect(() => new AppSettings(stack, "s", { prefix: "config/api", settings: {} })).toThrow(/prefix "config\/api" expected a relative path ending with "\/"/);
    expect(() => new FailoverQuery(stack, "q", { service: "api", failoverDatacenters: [] })).toThrow(/failoverDatacenters is empty/);
  });
});
