import { Construct } from "constructs";
import { AgentSettings, ClusterSettings } from "../../cloud-init/agents";
import { BootstrapInputs, MemberInputs } from "../../cloud-init/roles";
import { ClusterCa, GossipKey, SecretToken } from "./secrets";

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
  /**
   * The primary cluster this one federates with: its CA, gossip keys and ACL secrets are shared
   * (cross-stack references), its datacenter is the ACL primary and its region Nomad's
   * authoritative one; ACLs replicate from it, so this cluster does not bootstrap them.
   * @default - a cluster of its own
   */
  readonly federateWith?: ConsulNomadCluster;
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
      this.ca = new ClusterCa(this, "ca", { commonName: `${props.datacenter} cluster CA` });
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
    };
    return { cluster: this.settings, agent };
  }

  /** What the bootstrapping server needs; none on a federated cluster (its ACLs replicate from the primary). */
  bootstrapInputs(): BootstrapInputs | undefined {
    if (this.primary) return undefined;
    return { agentPolicy: { ...CONSUL_AGENT_POLICY }, nomadPolicy: { ...CONSUL_NOMAD_POLICY }, dnsPolicy: { ...CONSUL_DNS_POLICY }, nomadManagementToken: this.nomadManagementToken.value };
  }
}
