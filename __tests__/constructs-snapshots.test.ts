/**
 * Small per-construct snapshots: what one construct writes, readable in a review when it
 * changes (the whole-stack snapshots in stacks.test.ts show where it lands).
 */
import { Testing } from "cdktf";
import { FailoverQuery, ServiceDefaults, ServiceIntentions, ServiceProtocol } from "../constructs/consul/mesh";
import { Workload } from "../constructs/workloads/workload";
import { WorkloadSpec } from "../constructs/workloads/spec";

const api: WorkloadSpec = {
  name: "api",
  description: "the API",
  image: "example/api",
  version: "1.2.3",
  resources: { cpuMhz: 200, memoryMb: 128 },
  port: { containerPort: 8080, healthPath: "/health" },
  dependsOn: [{ service: "db", localPort: 5432 }],
};

describe("per-construct snapshots", () => {
  test("ServiceIntentions: allowed sources with their precedence", () => {
    expect(Testing.synthScope((s) => new ServiceIntentions(s, "db", { destination: "db", allow: ["api", "worker"] }))).toMatchSnapshot();
  });

  test("ServiceIntentions.denyAll: * -> * denied", () => {
    expect(Testing.synthScope((s) => ServiceIntentions.denyAll(s, "deny-all"))).toMatchSnapshot();
  });

  test("ServiceDefaults: the protocol and the defaults the provider reads back", () => {
    expect(Testing.synthScope((s) => new ServiceDefaults(s, "api", { service: "api", protocol: ServiceProtocol.HTTP }))).toMatchSnapshot();
  });

  test("FailoverQuery: healthy sidecars here, else in the other datacenter", () => {
    expect(Testing.synthScope((s) => new FailoverQuery(s, "api", { service: "api", failoverDatacenters: ["backup"] }))).toMatchSnapshot();
  });

  test("Workload: its job, its policy and role valid in two datacenters, its service-defaults", () => {
    expect(Testing.synthScope((s) => new Workload(s, "api", { spec: api, datacenters: ["primary"], datacenter: "primary", globalDatacenters: ["primary", "backup"] }))).toMatchSnapshot();
  });

  test("Workload in a secondary site: its job only, no federation-wide object", () => {
    expect(Testing.synthScope((s) => new Workload(s, "api", { spec: api, datacenters: ["backup"], datacenter: "backup", globalDatacenters: [] }))).toMatchSnapshot();
  });
});
