import { AgentVersions } from "../../config/versions";
import { Construct } from "constructs";
import { AgentSettings, CLUSTER_PORTS, ClusterSettings } from "../../cloud-init/agents";
import { IConnectable, Peer, Port, SecurityGroup } from "../openstack/security";
import { BootstrapInputs, MemberInputs } from "../../cloud-init/role-configs";
import { ClusterCa, ClusterCaProps, GossipKey, SecretToken } from "./secrets";

export interface ConsulNomadClusterProps {
  /** Consul datacenter (also the Nomad datacenter). */
  readonly datacenter: string;
  /** Nomad region. @default the datacenter */
  readonly region?: string;
  /** Fixed private addresses of the servers: their count is bootstrap_expect. */
  readonly serverAddresses: readonly string[];
  /** Consul servers of a federated datacenter, joined over the WAN. @default - none */
  readonly wanJoin?: readonly string[];
  /** Nomad servers of a federated region. @default - none */
  readonly nomadFederation?: readonly string[];
  /** The Nomad region of `nomadFederation`'s servers. @default - none */
  readonly federationRegion?: string;
  /**
   * The primary cluster this one federates with: its CA, gossip keys and ACL secrets are shared
   * (cross-stack references), its datacenter is the ACL primary and its region Nomad's
   * authoritative one; ACLs replicate from it, so this cluster does not bootstrap them.
   * @default - a cluster of its own
   */
  readonly federateWith?: ConsulNomadCluster;
  /** Consul and Nomad versions of the members (their packages). @default - the versions the library is tested with (TESTED_AGENT_VERSIONS) */
  readonly agentVersions?: AgentVersions;
  /** Lifetimes of the CA and the agents' certificates, and the agents' renewal (a federated cluster uses its primary's CA). @default - ClusterCa's defaults */
  readonly certificates?: Pick<ClusterCaProps, "validityHours" | "agentValidityHours" | "agentRenewBeforeHours">;
}

export interface MemberOptions {
  readonly nodeName: string;
  /** Fixed address, or a sockaddr template for DHCP VMs. */
  readonly address: string;
  readonly server: boolean;
  /** Addresses to put in the agent's certificate. @default - 127.0.0.1 only */
  readonly certificateIps?: readonly string[];
  readonly nodeClass?: string;
  readonly hostVolumes?: Readonly<Record<string, string>>;
  readonly readOnlyHostVolumes?: Readonly<Record<string, string>>;
  /** Folder of the agents' data dirs (a server's persistent volume). @default - /opt/consul and /opt/nomad */
  readonly dataRoot?: string;
}

/** Consul's ACL rules for the agents' own token: register their node and the node_exporter service. */
export const CONSUL_AGENT_POLICY: Readonly<Record<string, unknown>> = {
  node_prefix: { "": { policy: "write" } },
  agent_prefix: { "": { policy: "read" } },
  service_prefix: { "": { policy: "read" } },
  service: { "node-exporter": { policy: "write" } },
};

/** Consul's ACL rules for Nomad's token: register and discover services. */
export const CONSUL_NOMAD_POLICY: Readonly<Record<string, unknown>> = {
  agent_prefix: { "": { policy: "read" } },
  node_prefix: { "": { policy: "read" } },
  service_prefix: { "": { policy: "write" } },
};

/** Consul's ACL rules for the anonymous token: what Consul DNS answers without a token. */
export const CONSUL_DNS_POLICY: Readonly<Record<string, unknown>> = {
  node_prefix: { "": { policy: "read" } },
  service_prefix: { "": { policy: "read" } },
  query_prefix: { "": { policy: "read" } },
};

/**
 * The secrets and settings a Consul + Nomad cluster shares: the CA, gossip keys, the ACL
 * bootstrap secrets. VMs join through `member()`, which issues their certificates.
 */
export class ConsulNomadCluster extends Construct {
  readonly ca: ClusterCa;
  readonly settings: ClusterSettings;
  /** Consul's initial management token (sensitive). */
  readonly consulManagementToken: SecretToken;
  /** Nomad's bootstrap management token (sensitive). */
  readonly nomadManagementToken: SecretToken;
  /** The primary cluster, when this one is federated with it. */
  readonly primary?: ConsulNomadCluster;
  private readonly consulAgentToken: SecretToken;
  private readonly nomadConsulToken: SecretToken;
  private readonly certs: Construct;
  private readonly consulGossipKey: string;
  private readonly nomadGossipKey: string;

  constructor(scope: Construct, id: string, props: ConsulNomadClusterProps) {
    super(scope, id);
    const n = props.serverAddresses.length;
    if (n < 3 || n % 2 === 0) {
      throw new Error(`ConsulNomadCluster ${props.datacenter}: serverAddresses has ${n} servers; expected an odd number, at least 3, for a Raft quorum that survives the loss of a server`);
    }
    const primary = props.federateWith;
    this.primary = primary;
    if (primary) {
      // One CA, one pair of gossip keys, one set of ACL secrets for the federation.
      this.ca = primary.ca;
      this.consulGossipKey = primary.consulGossipKey;
      this.nomadGossipKey = primary.nomadGossipKey;
      this.consulManagementToken = primary.consulManagementToken;
      this.consulAgentToken = primary.consulAgentToken;
      this.nomadConsulToken = primary.nomadConsulToken;
      this.nomadManagementToken = primary.nomadManagementToken;
    } else {
      this.ca = new ClusterCa(this, "ca", { commonName: `${props.datacenter} cluster CA`, ...props.certificates });
      this.consulGossipKey = new GossipKey(this, "consul-gossip").base64;
      this.nomadGossipKey = new GossipKey(this, "nomad-gossip").base64;
      const tokens = new Construct(this, "tokens");
      this.consulManagementToken = new SecretToken(tokens, "consul-management");
      this.consulAgentToken = new SecretToken(tokens, "consul-agent");
      this.nomadConsulToken = new SecretToken(tokens, "nomad-consul");
      this.nomadManagementToken = new SecretToken(tokens, "nomad-management");
    }
    this.certs = new Construct(this, "agents");
    this.settings = {
      datacenter: props.datacenter,
      region: props.region ?? props.datacenter,
      serverAddresses: props.serverAddresses,
      consulGossipKey: this.consulGossipKey,
      nomadGossipKey: this.nomadGossipKey,
      ...(props.wanJoin ? { wanJoin: props.wanJoin } : {}),
      ...(props.nomadFederation ? { nomadFederation: props.nomadFederation } : {}),
      ...(props.federationRegion ? { federationRegion: props.federationRegion } : {}),
      ...(props.agentVersions ? { agentVersions: props.agentVersions } : {}),
      ...(primary
        ? { primaryDatacenter: primary.settings.datacenter, authoritativeRegion: primary.settings.region, replicationToken: this.consulManagementToken.value, nomadReplicationToken: this.nomadManagementToken.value }
        : {}),
    };
  }

  /** A VM's cluster membership: its agent settings and certificates. */
  member(opts: MemberOptions): MemberInputs {
    const kind = opts.server ? "server" : "client";
    const scope = new Construct(this.certs, opts.nodeName);
    const ips = opts.certificateIps ?? [];
    const agent: AgentSettings = {
      nodeName: opts.nodeName,
      address: opts.address,
      server: opts.server,
      tls: this.ca.issue(scope, "tls", { dnsNames: [`${kind}.${this.settings.datacenter}.consul`, `${kind}.${this.settings.region}.nomad`], ipAddresses: ips }),
      consulAgentToken: this.consulAgentToken.value,
      nomadConsulToken: this.nomadConsulToken.value,
      ...(opts.server ? { consulManagementToken: this.consulManagementToken.value } : {}),
      ...(opts.nodeClass ? { nodeClass: opts.nodeClass } : {}),
      ...(opts.hostVolumes ? { hostVolumes: opts.hostVolumes } : {}),
      ...(opts.readOnlyHostVolumes && Object.keys(opts.readOnlyHostVolumes).length > 0 ? { readOnlyHostVolumes: opts.readOnlyHostVolumes } : {}),
      ...(opts.dataRoot ? { dataRoot: opts.dataRoot } : {}),
    };
    return { cluster: this.settings, agent };
  }

  // -------------------------------------------------------------------------------------------
  // The cluster's firewall: its ports, declared here by intent, where the need is.

  /**
   * Every VM of `members` runs a Consul agent: LAN gossip between them. Call it once, with the
   * group every member VM is in.
   */
  static agentsOf(members: SecurityGroup): void {
    members.addIngressRule(members.asPeer(), Port.tcp(CLUSTER_PORTS.consulSerfLan), "Consul LAN gossip between members");
    members.addIngressRule(members.asPeer(), Port.udp(CLUSTER_PORTS.consulSerfLan), "Consul LAN gossip between members");
  }

  /**
   * The servers' side: Consul RPC from every member; the Consul API and DNS and the Nomad API
   * from the members and from each of `apiFrom` (e.g. the operators' VPN range, named `who`);
   * Nomad RPC from the clients; Raft and gossip between the servers.
   */
  static serversOf(servers: IConnectable, props: { readonly members: SecurityGroup; readonly clients: IConnectable; readonly apiFrom: readonly { readonly peer: Peer; readonly who: string }[] }): void {
    const members = props.members.asPeer();
    servers.connections.allowFrom(members, Port.tcp(CLUSTER_PORTS.consulServerRpc), "Consul RPC from members");
    for (const { peer, who } of [{ peer: members, who: "members" }, ...props.apiFrom]) ConsulNomadCluster.allowApi(servers, peer, who);
    servers.connections.allowFrom(props.clients, Port.tcp(CLUSTER_PORTS.nomadRpc), "Nomad RPC from clients");
    servers.connections.allowInternally(Port.tcp(CLUSTER_PORTS.nomadRpc), "Nomad RPC between servers");
    servers.connections.allowInternally(Port.tcp(CLUSTER_PORTS.nomadSerf), "Nomad serf between servers");
    servers.connections.allowInternally(Port.udp(CLUSTER_PORTS.nomadSerf), "Nomad serf between servers");
    servers.connections.allowInternally(Port.tcp(CLUSTER_PORTS.consulSerfWan), "Consul WAN gossip between servers");
    servers.connections.allowInternally(Port.udp(CLUSTER_PORTS.consulSerfWan), "Consul WAN gossip between servers");
  }

  /** The Consul HTTPS API, Consul DNS and the Nomad HTTPS API of the servers, from `peer`. */
  static allowApi(servers: IConnectable, peer: Peer, who: string): void {
    servers.connections.allowFrom(peer, Port.tcp(CLUSTER_PORTS.consulHttps), `Consul HTTPS API from ${who}`);
    servers.connections.allowFrom(peer, Port.tcp(CLUSTER_PORTS.consulDns), `Consul DNS from ${who}`);
    servers.connections.allowFrom(peer, Port.udp(CLUSTER_PORTS.consulDns), `Consul DNS from ${who}`);
    servers.connections.allowFrom(peer, Port.tcp(CLUSTER_PORTS.nomadHttp), `Nomad HTTPS API from ${who}`);
  }

  /** The ports two sites' servers federate on: Consul RPC and WAN gossip, Nomad RPC and serf. */
  static readonly FEDERATION_PORTS: readonly Port[] = [
    Port.tcp(CLUSTER_PORTS.consulServerRpc),
    Port.tcp(CLUSTER_PORTS.consulSerfWan),
    Port.udp(CLUSTER_PORTS.consulSerfWan),
    Port.tcp(CLUSTER_PORTS.nomadRpc),
    Port.tcp(CLUSTER_PORTS.nomadSerf),
    Port.udp(CLUSTER_PORTS.nomadSerf),
  ];

  /**
   * Federation with another site over the site-to-site tunnel: the gateway forwards what this
   * site's servers (`ours`) send on the federation ports, and the servers accept them from the
   * other site's servers (`theirs`).
   */
  static federation(props: { readonly servers: IConnectable; readonly gateway: IConnectable; readonly ours: Peer; readonly theirs: Peer }): void {
    for (const port of ConsulNomadCluster.FEDERATION_PORTS) {
      props.gateway.connections.allowFrom(props.ours, port, "Federation traffic from this site's servers, forwarded to the other site");
    }
    const s = props.servers.connections;
    s.allowFrom(props.theirs, Port.tcp(CLUSTER_PORTS.consulServerRpc), "Consul RPC from the other site's servers (WAN federation)");
    s.allowFrom(props.theirs, Port.tcp(CLUSTER_PORTS.consulSerfWan), "Consul WAN gossip from the other site's servers");
    s.allowFrom(props.theirs, Port.udp(CLUSTER_PORTS.consulSerfWan), "Consul WAN gossip from the other site's servers");
    s.allowFrom(props.theirs, Port.tcp(CLUSTER_PORTS.nomadRpc), "Nomad RPC from the other region's servers");
    s.allowFrom(props.theirs, Port.tcp(CLUSTER_PORTS.nomadSerf), "Nomad serf from the other region's servers");
    s.allowFrom(props.theirs, Port.udp(CLUSTER_PORTS.nomadSerf), "Nomad serf from the other region's servers");
  }

  /**
   * The Nomad clients' side: their HTTP API from each other (Prometheus) and from `apiFrom`; the
   * allocations' dynamic ports from the ingress and east-west between clients.
   */
  static clientsOf(clients: IConnectable, props: { readonly ingress: IConnectable; readonly apiFrom: Peer; readonly apiFromWho: string }): void {
    clients.connections.allowInternally(Port.tcp(CLUSTER_PORTS.nomadHttp), "Nomad client API from clients (Prometheus)");
    clients.connections.allowFrom(props.apiFrom, Port.tcp(CLUSTER_PORTS.nomadHttp), `Nomad client API from ${props.apiFromWho}`);
    const dynamic = Port.tcpRange(CLUSTER_PORTS.dynamicMin, CLUSTER_PORTS.dynamicMax);
    clients.connections.allowFrom(props.ingress, dynamic, "Allocations' dynamic ports from the ingress");
    clients.connections.allowInternally(dynamic, "Allocations' dynamic ports between clients (east-west)");
  }

  /** Monitoring from `prometheus` (the clients): node_exporter on every member, Consul's metrics and catalog on the servers. */
  static monitoredFrom(prometheus: IConnectable & { readonly securityGroup: SecurityGroup }, props: { readonly members: SecurityGroup; readonly servers: IConnectable }): void {
    props.members.addIngressRule(prometheus.securityGroup.asPeer(), Port.tcp(CLUSTER_PORTS.nodeExporter), "node_exporter scraped by Prometheus");
    props.servers.connections.allowFrom(prometheus, Port.tcp(CLUSTER_PORTS.consulHttps), "Consul metrics and service discovery for Prometheus");
  }

  /** What the bootstrapping server needs; none on a federated cluster (its ACLs replicate from the primary). */
  bootstrapInputs(): BootstrapInputs | undefined {
    if (this.primary) return undefined;
    return { agentPolicy: { ...CONSUL_AGENT_POLICY }, nomadPolicy: { ...CONSUL_NOMAD_POLICY }, dnsPolicy: { ...CONSUL_DNS_POLICY }, nomadManagementToken: this.nomadManagementToken.value };
  }
}
