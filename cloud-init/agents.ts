/**
 * Consul and Nomad agent configurations, as objects serialized to JSON files on the VMs.
 * Pure functions of typed inputs: the same objects are checked by the real `consul validate`
 * and `nomad config validate` in the real test tier.
 */
import { AgentVersions } from "../config/versions";

/** Where agent files live on the VMs. */
export const PATHS = {
  consulConfigDir: "/etc/consul.d",
  consulDataDir: "/opt/consul",
  nomadConfigDir: "/etc/nomad.d",
  nomadDataDir: "/opt/nomad",
  /** The agent's CA, certificate and key, shared by its Consul and Nomad agents. */
  tlsDir: "/etc/platform/tls",
  cniPath: "/usr/lib/cni",
  hostVolumeDir: "/srv/nomad",
} as const;

/** Consul's and Nomad's ports, in one place for the firewall and the agents. */
export const CLUSTER_PORTS = {
  consulServerRpc: 8300,
  consulSerfLan: 8301,
  consulSerfWan: 8302,
  consulHttps: 8501,
  consulGrpcTls: 8503,
  consulDns: 8600,
  nomadHttp: 4646,
  nomadRpc: 4647,
  nomadSerf: 4648,
  /** Nomad's default dynamic port range for allocations. */
  dynamicMin: 20000,
  dynamicMax: 32000,
  /** Envoy sidecars' public listeners (Nomad's default Connect range). */
  nodeExporter: 9100,
} as const;

/** PEM material of one agent. */
export interface AgentTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** What every agent of a cluster shares. */
export interface ClusterSettings {
  /** Consul datacenter, also the Nomad datacenter. */
  readonly datacenter: string;
  /** Nomad region. */
  readonly region: string;
  /** Fixed private addresses of the servers (known at plan time). */
  readonly serverAddresses: readonly string[];
  /** Consul gossip key (32 bytes, base64). */
  readonly consulGossipKey: string;
  /** Nomad gossip key (32 bytes, base64). */
  readonly nomadGossipKey: string;
  /** Consul servers of the federated datacenter, joined over the WAN (site-to-site VPN). @default - not federated */
  readonly wanJoin?: readonly string[];
  /** Nomad servers of the federated region. @default - not federated */
  readonly nomadFederation?: readonly string[];
  /** The federated Nomad region, whose servers are `nomadFederation`. @default - not federated */
  readonly federationRegion?: string;
  /** Consul's ACL primary datacenter. @default the datacenter itself */
  readonly primaryDatacenter?: string;
  /** Nomad's authoritative region (ACLs). @default the region itself */
  readonly authoritativeRegion?: string;
  /** Token the servers replicate Consul ACLs with, in a secondary datacenter. @default - none */
  readonly replicationToken?: string;
  /** Token the servers replicate Nomad ACLs with, in a non-authoritative region. @default - none */
  readonly nomadReplicationToken?: string;
  /** Consul and Nomad versions installed (their packages). @default - TESTED_AGENT_VERSIONS */
  readonly agentVersions?: AgentVersions;
}

/** One agent. */
export interface AgentSettings {
  readonly nodeName: string;
  /** Address to bind and advertise: a fixed address, or a go-sockaddr template. */
  readonly address: string;
  readonly server: boolean;
  /** One certificate for the agent's Consul and Nomad (it names both). */
  readonly tls: AgentTls;
  /** Consul token of the agent itself (node registration). */
  readonly consulAgentToken: string;
  /** Consul token Nomad uses to register services. */
  readonly nomadConsulToken: string;
  /** Consul's initial management token; servers only. */
  readonly consulManagementToken?: string;
  /** Nomad node class (clients). @default - none */
  readonly nodeClass?: string;
  /** Nomad host volumes on the client: name to path. @default - none */
  readonly hostVolumes?: Readonly<Record<string, string>>;
  /** Nomad host volumes declared read-only: name to path. @default - none */
  readonly readOnlyHostVolumes?: Readonly<Record<string, string>>;
  /**
   * Folder of the agents' data dirs (`consul/`, `nomad/`): a server's persistent volume, so that
   * a replaced server keeps its Raft data and node identity. @default - /opt/consul and /opt/nomad
   */
  readonly dataRoot?: string;
}

/** The Consul and Nomad data dirs of an agent. */
export function dataDirs(agent: AgentSettings): { consul: string; nomad: string } {
  return agent.dataRoot ? { consul: `${agent.dataRoot}/consul`, nomad: `${agent.dataRoot}/nomad` } : { consul: PATHS.consulDataDir, nomad: PATHS.nomadDataDir };
}

/** The address sockaddr template every agent uses when its address is not fixed. */
export const PRIVATE_IP_TEMPLATE = "{{ GetPrivateIP }}";

function tlsFiles(dir: string): { ca_file: string; cert_file: string; key_file: string } {
  return { ca_file: `${dir}/ca.pem`, cert_file: `${dir}/agent.pem`, key_file: `${dir}/agent-key.pem` };
}

/**
 * Autopilot of the servers, the same for Consul and Nomad: dead servers are cleaned up, but never
 * below the site's server count (`min_quorum`), so a server being replaced (or down for a while)
 * keeps its place among the voters and rejoins as itself. Read when the cluster bootstraps.
 */
export function serverAutopilot(cluster: ClusterSettings): Record<string, unknown> {
  return { cleanup_dead_servers: true, min_quorum: cluster.serverAddresses.length, last_contact_threshold: "200ms", max_trailing_logs: 250, server_stabilization_time: "10s" };
}

/** The Consul agent configuration (consul.json). */
export function consulConfig(cluster: ClusterSettings, agent: AgentSettings): Record<string, unknown> {
  const tls = tlsFiles(PATHS.tlsDir);
  return {
    datacenter: cluster.datacenter,
    primary_datacenter: cluster.primaryDatacenter ?? cluster.datacenter,
    node_name: agent.nodeName,
    data_dir: dataDirs(agent).consul,
    bind_addr: agent.address,
    advertise_addr: agent.address,
    // The API listens on every interface; the security groups limit it to members and the VPN.
    client_addr: "0.0.0.0",
    server: agent.server,
    ...(agent.server
      ? {
          bootstrap_expect: cluster.serverAddresses.length,
          ui_config: { enabled: true },
          autopilot: serverAutopilot(cluster),
          ...(cluster.wanJoin && cluster.wanJoin.length > 0 ? { retry_join_wan: [...cluster.wanJoin] } : {}),
        }
      : {}),
    retry_join: [...cluster.serverAddresses],
    encrypt: cluster.consulGossipKey,
    encrypt_verify_incoming: true,
    encrypt_verify_outgoing: true,
    tls: {
      defaults: { ...tls, verify_incoming: true, verify_outgoing: true },
      internal_rpc: { verify_server_hostname: true },
      https: { verify_incoming: false },
      // Envoy sidecars fetch their configuration over gRPC with no client certificate.
      grpc: { verify_incoming: false },
    },
    ports: { http: -1, https: CLUSTER_PORTS.consulHttps, grpc: -1, grpc_tls: CLUSTER_PORTS.consulGrpcTls, dns: CLUSTER_PORTS.consulDns },
    connect: { enabled: true },
    acl: {
      enabled: true,
      default_policy: "deny",
      down_policy: "extend-cache",
      enable_token_persistence: true,
      // In a secondary datacenter, tokens replicate from the primary.
      ...(cluster.replicationToken ? { enable_token_replication: true } : {}),
      tokens: {
        agent: agent.consulAgentToken,
        // Services and checks from config files (node-exporter) register with this token, not
        // with `agent` (the rehearsal showed them blocked as "anonymous token" without it).
        config_file_service_registration: agent.consulAgentToken,
        ...(agent.server && agent.consulManagementToken && !cluster.primaryDatacenter ? { initial_management: agent.consulManagementToken } : {}),
        ...(agent.server && cluster.replicationToken ? { replication: cluster.replicationToken } : {}),
      },
    },
    telemetry: { prometheus_retention_time: "60s", disable_hostname: true },
    leave_on_terminate: !agent.server,
    // The VMs reach no vendor service: no checkpoint calls (the rehearsal saw them try).
    disable_update_check: true,
  };
}

/** The Nomad agent configuration (nomad.json). */
export function nomadConfig(cluster: ClusterSettings, agent: AgentSettings): Record<string, unknown> {
  const tls = tlsFiles(PATHS.tlsDir);
  return {
    region: cluster.region,
    datacenter: cluster.datacenter,
    name: agent.nodeName,
    data_dir: dataDirs(agent).nomad,
    bind_addr: "0.0.0.0",
    advertise: { http: agent.address, rpc: agent.address, serf: agent.address },
    ports: { http: CLUSTER_PORTS.nomadHttp, rpc: CLUSTER_PORTS.nomadRpc, serf: CLUSTER_PORTS.nomadSerf },
    ...(agent.server
      ? {
          server: {
            enabled: true,
            bootstrap_expect: cluster.serverAddresses.length,
            encrypt: cluster.nomadGossipKey,
            ...(cluster.authoritativeRegion ? { authoritative_region: cluster.authoritativeRegion } : {}),
            server_join: { retry_join: [...cluster.serverAddresses, ...(cluster.nomadFederation ?? [])] },
          },
          autopilot: serverAutopilot(cluster),
        }
      : {
          client: {
            enabled: true,
            server_join: { retry_join: [...cluster.serverAddresses] },
            cni_path: PATHS.cniPath,
            ...(agent.nodeClass ? { node_class: agent.nodeClass } : {}),
            ...(Object.keys({ ...agent.hostVolumes, ...agent.readOnlyHostVolumes }).length > 0
              ? {
                  host_volume: [
                    ...Object.entries(agent.hostVolumes ?? {}).map(([name, path]) => ({ [name]: { path, read_only: false } })),
                    ...Object.entries(agent.readOnlyHostVolumes ?? {}).map(([name, path]) => ({ [name]: { path, read_only: true } })),
                  ],
                }
              : {}),
          },
          plugin: [{ docker: { config: { allow_privileged: false, volumes: { enabled: false } } } }],
        }),
    acl: { enabled: true, ...(agent.server && cluster.nomadReplicationToken ? { replication_token: cluster.nomadReplicationToken } : {}) },
    tls: { http: true, rpc: true, ...tls, verify_server_hostname: true, verify_https_client: false },
    consul: {
      // Workloads log in to Consul with their Nomad workload identity (auth method nomad-workloads).
      ...(agent.server
        ? { service_identity: { aud: ["consul.io"], ttl: "1h" }, task_identity: { aud: ["consul.io"], ttl: "1h" } }
        : {}),
      address: `127.0.0.1:${CLUSTER_PORTS.consulHttps}`,
      grpc_address: `127.0.0.1:${CLUSTER_PORTS.consulGrpcTls}`,
      ssl: true,
      ca_file: tls.ca_file,
      grpc_ca_file: tls.ca_file,
      token: agent.nomadConsulToken,
      // Clients join their site's servers by their fixed addresses (server_join), never through
      // Consul: its discovery also answers from the federated datacenter, and the rehearsal saw
      // clients of one site latch onto the other site's servers while their local lookup was
      // still refused (before the bootstrap had created Nomad's Consul token). Servers keep
      // Consul's discovery: it is what federates the regions once the tunnel is up (their
      // retry_join stops at the first server it reaches, the local ones).
      ...(agent.server ? {} : { client_auto_join: false }),
    },
    telemetry: { prometheus_metrics: true, publish_allocation_metrics: true, publish_node_metrics: true, disable_hostname: true },
    leave_on_terminate: !agent.server,
    disable_update_check: true,
  };
}
