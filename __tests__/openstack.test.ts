import { Aspects, TerraformOutput, TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { baseConfig } from "../cloud-init/role-configs";
import { ConsulNomadCluster } from "../constructs/cluster/cluster";
import { SiteNetwork } from "../constructs/openstack/network";
import { Bastion, VmGroup } from "../constructs/openstack/roles";
import { Peer, Port, SecurityGroup } from "../constructs/openstack/security";
import { AntiAffinity, Vm } from "../constructs/openstack/vm";
import { VpnGateway } from "../constructs/openstack/vpn-gateway";
import { PlatformPolicy } from "../constructs/policy/platform-policy";
import { collectErrors } from "../stacks/synth";

const TYPES = {
  network: "openstack_networking_network_v2",
  subnet: "openstack_networking_subnet_v2",
  router: "openstack_networking_router_v2",
  route: "openstack_networking_router_route_v2",
  rule: "openstack_networking_secgroup_rule_v2",
  group: "openstack_networking_secgroup_v2",
  port: "openstack_networking_port_v2",
  instance: "openstack_compute_instance_v2",
  floatingIp: "openstack_networking_floatingip_v2",
  serverGroup: "openstack_compute_servergroup_v2",
  volume: "openstack_blockstorage_volume_v3",
};

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0vT9n1j0mCq0yXU2mN4x2mVtX9Jm5T3bC6s0F0b1Z a@b";
const userData = () => baseConfig({ hostname: "h", adminUser: "ops", sshKeys: [KEY] });

function fixture(): { stack: TerraformStack; network: SiteNetwork } {
  const stack = new TerraformStack(Testing.app(), "test");
  const network = new SiteNetwork(stack, "network", {
    name: "t",
    externalNetworkName: "public",
    dnsServers: ["9.9.9.9"],
    tiers: { utility: { cidr: "10.0.0.0/24", dynamic: false }, clients: { cidr: "10.0.2.0/24" } },
  });
  return { stack, network };
}

function policyErrors(stack: TerraformStack): string[] {
  Aspects.of(stack).add(new PlatformPolicy());
  Testing.synth(stack);
  return collectErrors(stack);
}

describe("SiteNetwork", () => {
  test("GIVEN tiers WHEN created THEN a subnet per tier, a router to the external network and its interfaces", () => {
    const { stack } = fixture();
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.subnet } as never, { cidr: "10.0.0.0/24", gateway_ip: "10.0.0.1", allocation_pool: [{ start: "10.0.0.2", end: "10.0.0.9" }], dns_nameservers: ["9.9.9.9"] });
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.subnet } as never, { cidr: "10.0.2.0/24", allocation_pool: [{ start: "10.0.2.2", end: "10.0.2.254" }] });
    expect(json).toHaveResource({ tfResourceType: TYPES.router } as never);
    expect(json).toHaveDataSourceWithProperties({ tfResourceType: "openstack_networking_network_v2" } as never, { name: "public", external: true });
  });

  test("fails on an unknown tier", () => {
    const { network } = fixture();
    expect(() => network.subnet("dmz")).toThrow(/no tier "dmz"; expected one of utility, clients/);
  });

  test("fails with no tiers", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    expect(() => new SiteNetwork(stack, "n", { name: "x", externalNetworkName: "p", dnsServers: [], tiers: {} })).toThrow(/tiers is empty; expected at least one subnet/);
  });
});

describe("SecurityGroup and Connections", () => {
  test("GIVEN allowFrom WHEN synthesized THEN an ingress rule with its description lands on the target group", () => {
    const { stack } = fixture();
    const db = new SecurityGroup(stack, "db", { name: "db", description: "database" });
    const api = new SecurityGroup(stack, "api", { name: "api", description: "API" });
    db.addIngressRule(api.asPeer(), Port.tcp(5432), "API reads the database");
    db.addIngressRule(api.asPeer(), Port.tcp(5432), "API reads the database"); // idempotent
    const json = JSON.parse(Testing.synth(stack));
    const rules = Object.values(json.resource[TYPES.rule]) as Record<string, unknown>[];
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ direction: "ingress", ethertype: "IPv4", protocol: "tcp", port_range_min: 5432, port_range_max: 5432, description: "API reads the database" });
    expect(rules[0].remote_group_id).toMatch(/openstack_networking_secgroup_v2\.api/);
  });

  test("fails on a port out of range", () => {
    expect(() => Port.tcp(70000)).toThrow(/to port 70000 is out of range|from port 70000 is out of range/);
  });

  test("fails on a reversed range", () => {
    expect(() => Port.tcpRange(30, 20)).toThrow(/30-20 is reversed; expected from <= to/);
  });

  test("fails on a peer that is not a network", () => {
    expect(() => Peer.cidr("10.0.0.0/99")).toThrow(/"10.0.0.0\/99" is not a network/);
  });

  test("fails on a rule without a description", () => {
    const { stack } = fixture();
    const g = new SecurityGroup(stack, "g", { name: "g", description: "g" });
    expect(() => g.addIngressRule(Peer.cidr("10.0.0.0/8"), Port.tcp(80), " ")).toThrow(/empty description; expected why it is open/);
  });

  test("fails on a group without a description", () => {
    const { stack } = fixture();
    expect(() => new SecurityGroup(stack, "g", { name: "g", description: "" })).toThrow(/description is empty/);
  });
});

describe("Vm, VmGroup, Bastion", () => {
  test("GIVEN a group with anti-affinity and volumes WHEN synthesized THEN a server group, fixed ports and boot-attached volumes", () => {
    const { stack, network } = fixture();
    new VmGroup(stack, "servers", {
      role: "server",
      namePrefix: "t",
      network,
      tier: "utility",
      antiAffinity: AntiAffinity.SOFT,
      members: [{ name: "s1", flavor: "f", image: "i", fixedIp: "10.0.0.10", volumeGb: 20 }],
      userData,
    });
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.serverGroup } as never, { policies: ["soft-anti-affinity"] });
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.port } as never, { fixed_ip: [{ ip_address: "10.0.0.10", subnet_id: expect.stringContaining("subnet") }] });
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.volume } as never, { size: 20 });
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.instance } as never, { flavor_name: "f", image_name: "i", block_device: [expect.objectContaining({ boot_index: -1, source_type: "volume", delete_on_termination: false })] });
    expect(json).not.toHaveResource({ tfResourceType: TYPES.floatingIp } as never);
  });

  test("GIVEN a bastion WHEN synthesized THEN SSH only from the admin networks, a floating IP, and an ssh_config with ProxyJump", () => {
    const { stack, network } = fixture();
    const bastion = new Bastion(stack, "bastion", { namePrefix: "t", network, tier: "utility", member: { name: "bastion", flavor: "f", image: "i", fixedIp: "10.0.0.10" }, adminNetworks: ["198.51.100.0/24"], adminUser: "ops", userData: userData() });
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.rule } as never, { port_range_min: 22, remote_ip_prefix: "198.51.100.0/24" });
    expect(json).toHaveResource({ tfResourceType: TYPES.floatingIp } as never);
    const cfg = bastion.sshConfig([{ name: "t-server-1", address: "10.0.1.10" }]);
    expect(cfg).toContain("Host t-server-1\n  HostName 10.0.1.10\n  User ops\n  ProxyJump t-bastion");
  });

  test("fails on a bastion without admin networks", () => {
    const { stack, network } = fixture();
    expect(() => new Bastion(stack, "b", { namePrefix: "t", network, tier: "utility", member: { name: "b", flavor: "f", image: "i" }, adminNetworks: [], adminUser: "ops", userData: userData() })).toThrow(/adminNetworks is empty/);
  });

  test("fails on a VM without security groups", () => {
    const { stack, network } = fixture();
    expect(() => new Vm(stack, "v", { name: "v", role: "client", flavor: "f", image: "i", network, tier: "clients", securityGroups: [], userData: userData() })).toThrow(/securityGroups is empty/);
  });

  test("fails on a volume size that is not a whole number of GB", () => {
    const { stack, network } = fixture();
    const g = new SecurityGroup(stack, "g", { name: "g", description: "g" });
    expect(() => new Vm(stack, "v", { name: "v", role: "client", flavor: "f", image: "i", network, tier: "clients", securityGroups: [g], userData: userData(), volumeGb: 0.5 })).toThrow(/volumeGb 0.5 is not a size/);
  });
});

describe("VpnGateway", () => {
  test("GIVEN a site link WHEN synthesized THEN WireGuard ports open, routes to the gateway and allowed address pairs for the routed ranges", () => {
    const { stack, network } = fixture();
    const vpn = new VpnGateway(stack, "vpn", {
      namePrefix: "t",
      network,
      tier: "utility",
      member: { name: "vpn", flavor: "f", image: "i", fixedIp: "10.0.0.11" },
      vpnRange: "10.210.0.0/24",
      gatewayAddress: "10.210.0.1",
      publicKey: "qSgvZQz3U9cOfSpW8seF6kJpfRPE1dNBHhuPuUjkElI=",
      adminPeers: [{ name: "alice", publicKey: "OnTJmPmVjbWFjlyeI6FOxX/7Q4aX4h2UVCEAYiTzEHU=", address: "10.210.0.10" }],
      siteLink: { site: "backup", publicKey: "zB3k4bhP9sYQGOsuVVh3fRcXGKd7Yf3IgqdrKLu5PQs=", ranges: ["10.20.0.0/16", "10.220.0.0/24"], endpoint: "203.0.113.5:51821" },
      userData: () => userData(),
    });
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.rule } as never, { protocol: "udp", port_range_min: 51820, remote_ip_prefix: "0.0.0.0/0" });
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.route } as never, { destination_cidr: "10.20.0.0/16", next_hop: "10.0.0.11" });
    expect(json).toHaveResourceWithProperties({ tfResourceType: TYPES.port } as never, { allowed_address_pairs: [{ ip_address: "10.210.0.0/24" }, { ip_address: "10.20.0.0/16" }, { ip_address: "10.220.0.0/24" }] });
    expect(vpn.interfaces.wg1.peers[0]).toMatchObject({ allowedIps: ["10.20.0.0/16", "10.220.0.0/24"], persistentKeepalive: 25, endpoint: "203.0.113.5:51821" });
    expect(JSON.parse(json).variable).toEqual({ vpn_private_key: expect.objectContaining({ sensitive: true, nullable: false }) });
  });
});

describe("ConsulNomadCluster", () => {
  test("fails on an even server count", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    expect(() => new ConsulNomadCluster(stack, "c", { datacenter: "dc", serverAddresses: ["a", "b"] })).toThrow(/has 2 servers; expected an odd number, at least 3/);
  });

  test("GIVEN a member WHEN issued THEN it gets one certificate, naming its Consul and Nomad roles, signed by the cluster CA", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const c = new ConsulNomadCluster(stack, "c", { datacenter: "dc1", serverAddresses: ["10.0.1.10", "10.0.1.11", "10.0.1.12"] });
    c.member({ nodeName: "s1", address: "10.0.1.10", server: true, certificateIps: ["10.0.1.10"] });
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties({ tfResourceType: "tls_cert_request" } as never, { dns_names: ["server.dc1.consul", "server.dc1.nomad", "localhost"], ip_addresses: ["10.0.1.10", "127.0.0.1"] });
    expect(Object.keys(JSON.parse(json).resource.tls_locally_signed_cert)).toHaveLength(1);
    expect(json).toHaveResourceWithProperties({ tfResourceType: "random_bytes" } as never, { length: 32 });
    expect(json).toHaveResourceWithProperties({ tfResourceType: "tls_self_signed_cert" } as never, { is_ca_certificate: true });
  });
});

describe("PlatformPolicy", () => {
  function groupIn(stack: Construct, role: string): SecurityGroup {
    return new SecurityGroup(stack, role, { name: role, description: role, role });
  }

  test("GIVEN the rules the platform needs THEN no error", () => {
    const { stack } = fixture();
    groupIn(stack, "ingress").addIngressRule(Peer.anyIpv4(), Port.tcp(443), "HTTPS");
    groupIn(stack, "vpn").addIngressRule(Peer.anyIpv4(), Port.udp(51820), "WireGuard");
    expect(policyErrors(stack)).toEqual([]);
  });

  test("fails on SSH open outside the bastion", () => {
    const { stack } = fixture();
    groupIn(stack, "client").addIngressRule(Peer.cidr("10.0.0.0/8"), Port.tcp(22), "SSH");
    expect(policyErrors(stack).join("\n")).toMatch(/policy: SSH \(tcp-22\) is open from 10_0_0_0_8; expected SSH only from the bastion/);
  });

  test("fails on SSH to the bastion from anywhere", () => {
    const { stack } = fixture();
    groupIn(stack, "bastion").addIngressRule(Peer.anyIpv4(), Port.tcp(22), "SSH");
    expect(policyErrors(stack).join("\n")).toMatch(/policy: SSH \(tcp-22\) is open from 0.0.0.0\/0/);
  });

  test("fails on a port range that covers SSH", () => {
    const { stack } = fixture();
    groupIn(stack, "client").addIngressRule(Peer.cidr("10.0.0.0/8"), Port.tcpRange(1, 1024), "everything");
    expect(policyErrors(stack).join("\n")).toMatch(/SSH \(tcp-1-1024\) is open/);
  });

  test("fails on a rule open to anywhere outside the public entry points", () => {
    const { stack } = fixture();
    groupIn(stack, "client").addIngressRule(Peer.anyIpv4(), Port.tcp(8080), "oops");
    expect(policyErrors(stack).join("\n")).toMatch(/policy: tcp-8080 is open to 0.0.0.0\/0 on a client group/);
  });

  test("fails on a floating IP on an inner VM", () => {
    const { stack, network } = fixture();
    new VmGroup(stack, "clients", { role: "client", namePrefix: "t", network, tier: "clients", members: [{ name: "c1", flavor: "f", image: "i" }], userData, publicIp: true });
    expect(policyErrors(stack).join("\n")).toMatch(/policy: t-c1 \(role client\) has a floating IP; expected floating IPs only on bastion, vpn, ingress/);
  });

  test("fails on an even server count and on servers without anti-affinity", () => {
    const { stack, network } = fixture();
    new VmGroup(stack, "servers", { role: "server", namePrefix: "t", network, tier: "utility", members: [{ name: "s1", flavor: "f", image: "i" }, { name: "s2", flavor: "f", image: "i" }], userData });
    const errors = policyErrors(stack).join("\n");
    expect(errors).toMatch(/policy: 2 Consul\/Nomad servers; expected an odd number, at least 3/);
    expect(errors).toMatch(/policy: server t-s1 is in no anti-affinity server group/);
  });

  test("fails on oversized user data", () => {
    const { stack, network } = fixture();
    const big = userData().addFile({ path: "/big", content: "x".repeat(60000) });
    new VmGroup(stack, "dev", { role: "development", namePrefix: "t", network, tier: "clients", members: [{ name: "d1", flavor: "f", image: "i" }], userData: () => big });
    expect(policyErrors(stack).join("\n")).toMatch(/policy: t-d1 user data can reach \d+ bytes base64-encoded; expected at most 65535/);
  });

  test("fails on a secret in an output not marked sensitive", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const c = new ConsulNomadCluster(stack, "c", { datacenter: "dc1", serverAddresses: ["10.0.1.10", "10.0.1.11", "10.0.1.12"] });
    new TerraformOutput(stack, "leak", { value: c.consulManagementToken.value });
    new TerraformOutput(stack, "ok", { value: c.consulManagementToken.value, sensitive: true });
    const errors = policyErrors(stack);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/policy: output leak exposes a secret .*random_uuid.*; expected sensitive = true/);
  });
});

describe("federation", () => {
  test("GIVEN a cluster federated with another WHEN built THEN it shares the primary's CA, keys and ACL secrets, replicates ACLs and does not bootstrap", () => {
    const app = Testing.app();
    const a = new TerraformStack(app, "a");
    const b = new TerraformStack(app, "b");
    const primary = new ConsulNomadCluster(a, "c", { datacenter: "primary", serverAddresses: ["10.10.1.10", "10.10.1.11", "10.10.1.12"] });
    const backup = new ConsulNomadCluster(b, "c", { datacenter: "backup", serverAddresses: ["10.20.1.10", "10.20.1.11", "10.20.1.12"], federateWith: primary });
    expect(backup.ca).toBe(primary.ca);
    expect(backup.settings).toMatchObject({ primaryDatacenter: "primary", authoritativeRegion: "primary", consulGossipKey: primary.settings.consulGossipKey, nomadGossipKey: primary.settings.nomadGossipKey });
    expect(backup.bootstrapInputs()).toBeUndefined();
    expect(primary.bootstrapInputs()).toBeDefined();
    backup.member({ nodeName: "s1", address: "10.20.1.10", server: true });
    const json = JSON.parse(Testing.synth(b));
    expect(json.resource.tls_self_signed_cert).toBeUndefined();
    expect(json.resource.random_bytes).toBeUndefined();
    expect(Object.keys(json.resource.tls_locally_signed_cert)).toHaveLength(1);
  });
});
