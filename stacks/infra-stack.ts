import { AGENT_VERSIONS_OUTPUT } from "../config/versions";
import { Annotations, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { CLUSTER_PORTS, PATHS, PRIVATE_IP_TEMPLATE } from "../cloud-init/agents";
import { BaseInputs, MemberInputs, renderBastion, renderClient, renderDevelopment, renderServer, renderVpnGateway, SERVER_DATA_ROOT } from "../cloud-init/role-configs";
import { DeploymentConfig, SiteConfig, VmSpec } from "../config/deployment";
import { ConsulNomadCluster } from "../constructs/cluster/cluster";
import { OpenstackProvider, RandomProvider, TlsProvider } from "../constructs/openstack/l1";
import { SiteNetwork } from "../constructs/openstack/network";
import { Bastion, VmGroup, VmGroupMember } from "../constructs/openstack/roles";
import { Peer, Port, SecurityGroup } from "../constructs/openstack/security";
import { AntiAffinity, Vm } from "../constructs/openstack/vm";
import { VpnGateway } from "../constructs/openstack/vpn-gateway";
import { CLUSTER_MEMBERS_OUTPUT, ClusterMembersOutput, PENDING_ROLL_OUTPUT } from "../ops/infra-outputs";
import { hostPortsByNodeClass, planHostVolumes } from "../constructs/workloads/hosts";
import { NODE_CLASSES, WorkloadSpec } from "../constructs/workloads/spec";

export interface InfraStackProps {
  readonly deployment: DeploymentConfig;
  readonly site: SiteConfig;
  /** The site at the other end of the site-to-site tunnel. @default - none */
  readonly peerSite?: SiteConfig;
  /** The peer's infra stack, when this site dials the tunnel (its endpoint is read from it). */
  readonly peerStack?: InfraStack;
  /** The site's workloads: their host volumes and host ports shape the clients and the firewall. @default - none */
  readonly workloads?: readonly WorkloadSpec[];
}

/** Node classes of the Nomad clients (defined once, with the workloads that are placed by them). */
export { NODE_CLASSES };


/**
 * A site's OpenStack infrastructure: network, security groups, bastion, VPN gateway, the Consul +
 * Nomad servers, the production clients, the ingress and the development VMs, each bootstrapped
 * by its cloud-init.
 */
export class InfraStack extends TerraformStack {
  readonly site: SiteConfig;
  /** The site at the other end of the tunnel. */
  readonly peerSite?: SiteConfig;
  readonly network: SiteNetwork;
  readonly cluster: ConsulNomadCluster;
  readonly bastion: Bastion;
  readonly vpn: VpnGateway;
  readonly servers: VmGroup;
  readonly clients: VmGroup;
  readonly ingress: VmGroup;
  readonly development: VmGroup;
  /** Consul's HTTPS API on the servers. */
  readonly consulAddresses: string[];
  /** Nomad's HTTPS API on the servers. */
  readonly nomadAddresses: string[];

  constructor(scope: Construct, id: string, props: InfraStackProps) {
    super(scope, id);
    const { site, deployment } = props;
    this.site = site;
    const prefix = `${deployment.project}-${site.name}`;
    new OpenstackProvider(this, "openstack", { cloud: site.cloud, region: site.region });
    new TlsProvider(this, "tls");
    new RandomProvider(this, "random");

    this.network = new SiteNetwork(this, "network", {
      name: prefix,
      externalNetworkName: site.externalNetwork,
      dnsServers: site.dnsServers,
      tiers: {
        utility: { cidr: site.tiers.utility, dynamic: false },
        servers: { cidr: site.tiers.servers, dynamic: false },
        clients: { cidr: site.tiers.clients },
        development: { cidr: site.tiers.development },
      },
    });

    const peer = props.peerSite;
    this.peerSite = peer;
    this.cluster = new ConsulNomadCluster(this, "cluster", {
      datacenter: site.datacenter,
      region: site.datacenter,
      serverAddresses: site.servers.map((s) => s.fixedIp as string),
      agentVersions: site.agentVersions,
      ...(peer ? { wanJoin: peer.servers.map((s) => s.fixedIp as string), nomadFederation: peer.servers.map((s) => `${s.fixedIp}:${CLUSTER_PORTS.nomadSerf}`), federationRegion: peer.datacenter } : {}),
      ...(deployment.certificates
        ? {
            certificates: {
              validityHours: deployment.certificates.caValidityDays * 24,
              agentValidityHours: deployment.certificates.agentValidityDays * 24,
              agentRenewBeforeHours: deployment.certificates.renewBeforeDays * 24,
            },
          }
        : {}),
      // The site that dials the tunnel federates with the other: one CA, keys and ACLs.
      ...(site.initiatesTunnel && props.peerStack ? { federateWith: props.peerStack.cluster } : {}),
    });

    // Every VM is a Consul member: LAN gossip between members.
    const members = new SecurityGroup(this, "members", { name: `${prefix}-members`, description: `Consul members of ${prefix}: LAN gossip` });
    ConsulNomadCluster.agentsOf(members);

    const base = (vm: VmSpec): BaseInputs => ({ hostname: `${prefix}-${vm.name}`, adminUser: deployment.adminUser, sshKeys: site.adminSshKeys });
    // Every membership, in the order the VMs are declared: the cluster_members output.
    const memberships: MemberInputs[] = [];
    const recorded = (m: MemberInputs) => (memberships.push(m), m);
    const member = (vm: VmSpec | VmGroupMember, opts: { server?: boolean; nodeClass?: string; hostVolumes?: Record<string, string>; readOnlyHostVolumes?: Record<string, string>; dataRoot?: string } = {}) =>
      recorded(this.cluster.member({
        nodeName: `${prefix}-${vm.name}`,
        address: vm.fixedIp ?? PRIVATE_IP_TEMPLATE,
        server: opts.server ?? false,
        ...(vm.fixedIp ? { certificateIps: [vm.fixedIp] } : {}),
        ...(opts.nodeClass ? { nodeClass: opts.nodeClass } : {}),
        ...(opts.hostVolumes ? { hostVolumes: opts.hostVolumes } : {}),
        ...(opts.readOnlyHostVolumes ? { readOnlyHostVolumes: opts.readOnlyHostVolumes } : {}),
        ...(opts.dataRoot ? { dataRoot: opts.dataRoot } : {}),
      }));

    const workloads = props.workloads ?? [];
    const hostPlan = planHostVolumes(`site ${site.name}:`, workloads, [
      ...site.clients.map((c) => ({ name: c.name, nodeClass: NODE_CLASSES.clients, hasDataDisk: c.volumeGb !== undefined })),
      ...site.ingress.map((c) => ({ name: c.name, nodeClass: NODE_CLASSES.ingress, hasDataDisk: false })),
    ], PATHS.hostVolumeDir, site.platform?.dataVolumes ?? {});
    for (const p of hostPlan.problems) Annotations.of(this).addError(p);
    const hostVolumes = (name: string) => ({ hostVolumes: { ...(hostPlan.volumes.get(name) ?? {}) }, readOnlyHostVolumes: { ...(hostPlan.readOnlyVolumes.get(name) ?? {}) } });

    this.servers = new VmGroup(this, "servers", {
      role: "server",
      namePrefix: prefix,
      members: site.servers,
      network: this.network,
      tier: "servers",
      extraSecurityGroups: [members],
      antiAffinity: site.antiAffinity === "soft" ? AntiAffinity.SOFT : AntiAffinity.HARD,
      userData: (vm, i) =>
        renderServer(
          base(site.servers[i]),
          member(vm, { server: true, ...(vm.volumeGb ? { dataRoot: SERVER_DATA_ROOT } : {}) }),
          i === 0 ? this.cluster.bootstrapInputs() : undefined,
          vm.volumeGb ? Vm.DATA_VOLUME_DEVICE : undefined,
        ),
    });
    this.clients = new VmGroup(this, "clients", {
      role: "client",
      namePrefix: prefix,
      members: site.clients,
      network: this.network,
      tier: "clients",
      extraSecurityGroups: [members],
      userData: (vm, i) =>
        renderClient(base(site.clients[i]), member(vm, { nodeClass: NODE_CLASSES.clients, ...hostVolumes(vm.name) }), vm.volumeGb ? Vm.DATA_VOLUME_DEVICE : undefined),
    });
    this.ingress = new VmGroup(this, "ingress", {
      role: "ingress",
      namePrefix: prefix,
      members: site.ingress,
      network: this.network,
      tier: "utility",
      extraSecurityGroups: [members, this.clients.securityGroup],
      publicIp: true,
      userData: (vm, i) => renderClient(base(site.ingress[i]), member(vm, { nodeClass: NODE_CLASSES.ingress, ...hostVolumes(vm.name) })),
    });
    this.development = new VmGroup(this, "development", {
      role: "development",
      namePrefix: prefix,
      members: site.development,
      network: this.network,
      tier: "development",
      extraSecurityGroups: [members],
      userData: (vm, i) => renderDevelopment(base(site.development[i]), member(vm)),
    });

    this.bastion = new Bastion(this, "bastion", {
      namePrefix: prefix,
      member: site.bastion,
      network: this.network,
      tier: "utility",
      adminNetworks: site.adminNetworks,
      adminUser: deployment.adminUser,
      extraSecurityGroups: [members],
      userData: renderBastion(base(site.bastion), member(site.bastion)),
    });

    const peerRanges = peer ? [peer.siteRange, peer.vpn.range] : [];
    this.vpn = new VpnGateway(this, "vpn", {
      namePrefix: prefix,
      member: site.vpnGateway,
      network: this.network,
      tier: "utility",
      port: site.vpn.port,
      vpnRange: site.vpn.range,
      gatewayAddress: site.vpn.gatewayAddress,
      publicKey: site.vpn.publicKey,
      adminPeers: site.vpn.peers,
      ...(peer
        ? {
            siteLink: {
              site: peer.name,
              publicKey: peer.vpn.publicKey,
              ranges: peerRanges,
              ...(site.initiatesTunnel && props.peerStack ? { endpoint: props.peerStack.vpn.siteEndpoint } : {}),
            },
          }
        : {}),
      extraSecurityGroups: [members],
      userData: (interfaces) => renderVpnGateway(base(site.vpnGateway), member(site.vpnGateway), interfaces),
    });

    this.declareFirewall(members, workloads);

    this.consulAddresses = this.servers.privateIps.map((ip) => `https://${ip}:${CLUSTER_PORTS.consulHttps}`);
    this.nomadAddresses = this.servers.privateIps.map((ip) => `https://${ip}:${CLUSTER_PORTS.nomadHttp}`);
    const hosts = [this.servers, this.clients, this.ingress, this.development].flatMap((g) => g.vms).concat(this.vpn.vm);
    new TerraformOutput(this, "bastion_address", { value: this.bastion.publicIp, description: "Public address of the SSH bastion" });
    new TerraformOutput(this, "ssh_config", { value: this.bastion.sshConfig(hosts.map((v) => ({ name: v.name, address: v.privateIp }))), description: "ssh_config entries: every VM through the bastion (ProxyJump)" });
    new TerraformOutput(this, "ingress_addresses", { value: this.ingress.vms.map((v) => v.publicIp as string), description: "Public addresses of the ingress VMs: where the public DNS names point" });
    new TerraformOutput(this, "vpn_endpoint", { value: `${this.vpn.publicIp}:${this.vpn.port}`, description: "WireGuard endpoint for the admins' peers" });
    new TerraformOutput(this, "vpn_public_key", { value: this.vpn.publicKey, description: "WireGuard public key of the gateway" });
    // The site's own range: the other site's servers accept operators only from their own VPN.
    for (const [name, config] of Object.entries(this.vpn.clientConfigs([site.siteRange]))) {
      new TerraformOutput(this, `wireguard_${name}`, { value: config, description: `wg-quick configuration for admin peer ${name}: put your private key in place of ${VpnGateway.PRIVATE_KEY_PLACEHOLDER}` });
    }
    new TerraformOutput(this, "consul_servers", { value: this.consulAddresses, description: "Consul HTTPS API of the servers (through the VPN)" });
    new TerraformOutput(this, "nomad_servers", { value: this.nomadAddresses, description: "Nomad HTTPS API of the servers (through the VPN)" });
    new TerraformOutput(this, "ca_certificate", { value: this.cluster.ca.certPem, description: "CA certificate of the cluster's TLS (public)" });
    new TerraformOutput(this, "consul_management_token", { value: this.cluster.consulManagementToken.value, sensitive: true, description: "Consul initial management token" });
    new TerraformOutput(this, "nomad_management_token", { value: this.cluster.nomadManagementToken.value, sensitive: true, description: "Nomad bootstrap management token" });
    new TerraformOutput(this, PENDING_ROLL_OUTPUT, {
      value: Object.fromEntries([this.bastion.vm, ...hosts].map((v) => [v.name, v.pendingRoll])),
      description: "Per VM, what waits for `npm run roll` (user data, image, flavor, volumes): an apply never replaces a running VM",
    });
    new TerraformOutput(this, AGENT_VERSIONS_OUTPUT, { value: site.agentVersions, description: "Consul and Nomad versions the VMs are declared with: `npm run deploy` refuses a downgrade or a jump HashiCorp does not support from these" });
    new TerraformOutput(this, CLUSTER_MEMBERS_OUTPUT, { value: InfraStack.clusterMembers(this.cluster, memberships), description: "Consul members and Nomad clients (with their node class) the site declares: what `npm run status` expects to find" });
  }

  /** The cluster_members output: every member is a Consul agent; the servers and the members with a node class (renderClient's VMs) run Nomad. */
  private static clusterMembers(cluster: ConsulNomadCluster, members: readonly MemberInputs[]): ClusterMembersOutput {
    return {
      datacenter: cluster.settings.datacenter,
      region: cluster.settings.region,
      servers: members.filter((m) => m.agent.server).map((m) => ({ name: m.agent.nodeName, address: m.agent.address })),
      consul_members: members.map((m) => m.agent.nodeName),
      nomad_clients: members.filter((m) => !m.agent.server && m.agent.nodeClass !== undefined).map((m) => ({ name: m.agent.nodeName, node_class: m.agent.nodeClass as string })),
    };
  }

  /** Every rule, declared where the need is. */
  private declareFirewall(members: SecurityGroup, workloads: readonly WorkloadSpec[]): void {
    const { servers, clients, ingress, development, bastion, vpn } = this;
    const vpnRange = Peer.cidr(this.site.vpn.range);
    bastion.allowSshTo(servers, clients, ingress, development, vpn);

    ConsulNomadCluster.serversOf(servers, { members, clients, apiFrom: [{ peer: vpnRange, who: "the VPN" }] });
    const peerServers = this.peerSite?.tiers.servers;
    if (peerServers) ConsulNomadCluster.federation({ servers, gateway: vpn, ours: Peer.cidr(this.site.tiers.servers), theirs: Peer.cidr(peerServers) });
    ConsulNomadCluster.clientsOf(clients, { ingress, apiFrom: vpnRange, apiFromWho: "the VPN" });
    ConsulNomadCluster.monitoredFrom(clients, { members, servers });
    // Host ports the workloads declare (the ingress' HTTP and HTTPS), on the VMs of their class.
    const groups: Record<string, VmGroup> = { [NODE_CLASSES.clients]: clients, [NODE_CLASSES.ingress]: ingress };
    for (const [cls, ports] of hostPortsByNodeClass(workloads)) {
      const group = groups[cls];
      if (!group) {
        Annotations.of(this).addError(`site ${this.site.name}: workloads bind host ports on node class "${cls}", which no VM has; expected ${Object.keys(groups).join(" or ")}`);
        continue;
      }
      for (const h of ports) {
        group.connections.allowFrom(h.from === "anywhere" ? Peer.anyIpv4() : clients, Port.tcp(h.port), `${h.label} (host port ${h.port}) from ${h.from}`);
      }
    }
  }

}
