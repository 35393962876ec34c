/** The library's public API: re-exports only. */
export * from "./openstack/network";
export * from "./openstack/security";
export * from "./openstack/vm";
export * from "./openstack/roles";
export * from "./openstack/vpn-gateway";
export * from "./cluster/cluster";
export * from "./cluster/secrets";
export * from "./policy/platform-policy";
/** The Nomad job model has its own namespace: its Port, Volume... are not the OpenStack ones. */
export * as nomad from "./nomad";
export * from "./consul/acl";
export * from "./consul/mesh";
export * from "./workloads/spec";
export * from "./workloads/workload";
export * from "./workloads/platform";
export * from "./workloads/capacity";
export * from "./workloads/hosts";
export * from "./workloads/ingress";
export * from "./workloads/data";
export * from "./workloads/backups";
export * from "./workloads/monitoring";
export * from "./workloads/logging";
export * from "./workloads/autoscaler";
export * from "./workloads/systems";
export * from "./problems";
export * from "./render";
