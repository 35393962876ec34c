import { DefaultTokenResolver, StringConcat, TerraformStack, Testing, Tokenization } from "cdktf";
import { parse } from "yaml";
import { AgentSettings, ClusterSettings, consulConfig, nomadConfig } from "../cloud-init/agents";
import { CloudConfig, estimateBytes, registerTokenSize } from "../cloud-init/cloud-config";
import { renderIni, renderKeyValue } from "../cloud-init/formats";
import { AGENT_VERSIONS, FEDERATION_KEEPER, SSHD_HARDENING, baseConfig, renderBastion, renderClient, renderServer, renderVpnGateway } from "../cloud-init/role-configs";
import { renderWireGuard } from "../cloud-init/wireguard";
import { ConsulNomadCluster } from "../constructs/cluster/cluster";
import { writtenFiles } from "./helpers";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0vT9n1j0mCq0yXU2mN4x2mVtX9Jm5T3bC6s0F0b1Z a@b";
const base = { hostname: "fleet-primary-server-1", adminUser: "ops", sshKeys: [KEY] };
const tls = { caPem: "CA", certPem: "CERT", keyPem: "KEY" };
const cluster: ClusterSettings = { datacenter: "dc1", region: "dc1", serverAddresses: ["10.0.1.10", "10.0.1.11", "10.0.1.12"], consulGossipKey: "g1", nomadGossipKey: "g2" };
const agent = (server: boolean): AgentSettings => ({
  nodeName: "n1",
  address: "10.0.1.10",
  server,
  tls,
  consulAgentToken: "agent-token",
  nomadConsulToken: "nomad-token",
  ...(server ? { consulManagementToken: "mgmt" } : {}),
});

const files = (cfg: CloudConfig): Record<string, string> => writtenFiles(cfg.render());

describe("cloud-config rendering", () => {
  test("GIVEN a server WHEN rendered THEN a #cloud-config with keys-only access, pinned agents and their configs", () => {
    const cfg = renderServer(base, { cluster, agent: agent(true) }, { agentPolicy: {}, nomadPolicy: {}, dnsPolicy: {}, nomadManagementToken: "nomad-mgmt" });
    const text = cfg.render();
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(text);
    expect(doc.ssh_pwauth).toBe(false);
    expect(doc.disable_root).toBe(true);
    expect(doc.users[1]).toMatchObject({ name: "ops", lock_passwd: true, ssh_authorized_keys: [KEY] });
    expect(doc.packages).toEqual(expect.arrayContaining([`consul=${AGENT_VERSIONS.consul}-1`, `nomad=${AGENT_VERSIONS.nomad}-1`, "prometheus-node-exporter"]));
    const f = files(cfg);
    expect(JSON.parse(f["/etc/consul.d/consul.json"])).toMatchObject({ server: true, bootstrap_expect: 3, encrypt: "g1", acl: { default_policy: "deny", tokens: { initial_management: "mgmt" } } });
    expect(JSON.parse(f["/etc/nomad.d/nomad.json"])).toMatchObject({ server: { enabled: true, bootstrap_expect: 3, encrypt: "g2" }, acl: { enabled: true }, tls: { verify_server_hostname: true } });
    expect(f["/etc/ssh/sshd_config.d/10-hardening.conf"]).toContain("PasswordAuthentication no\n");
    expect(f["/etc/ssh/sshd_config.d/10-hardening.conf"]).toContain("PermitRootLogin no\n");
    expect(f["/etc/platform-bootstrap/nomad-management.token"]).toBe("nomad-mgmt");
    expect(doc.runcmd).toContainEqual(["/usr/local/sbin/platform-bootstrap"]);
  });

  test("GIVEN a client with a data volume WHEN rendered THEN Docker, CNI plugins, the host volume and a one-time format", () => {
    const cfg = renderClient(base, { cluster, agent: { ...agent(false), hostVolumes: { data: "/srv/nomad/data" } } }, "/dev/vdb");
    const doc = parse(cfg.render());
    expect(doc.packages).toEqual(expect.arrayContaining(["docker.io", "containernetworking-plugins"]));
    expect(doc.runcmd).toContainEqual(["sh", "-c", "blkid /dev/vdb || mkfs.ext4 -L nomad-data /dev/vdb"]);
    const nomad = JSON.parse(files(cfg)["/etc/nomad.d/nomad.json"]);
    expect(nomad.client).toMatchObject({ enabled: true, cni_path: "/usr/lib/cni", host_volume: [{ data: { path: "/srv/nomad/data", read_only: false } }] });
    expect(nomad.server).toBeUndefined();
  });

  test("GIVEN the bastion WHEN rendered THEN fail2ban guards sshd", () => {
    const f = files(renderBastion(base, { cluster, agent: agent(false) }));
    expect(f["/etc/fail2ban/jail.d/sshd.local"]).toContain("[sshd]\nenabled = true\n");
    expect(f["/etc/nomad.d/nomad.json"]).toBeUndefined();
  });

  test("GIVEN the VPN gateway WHEN rendered THEN one wg-quick file per interface and forwarding on", () => {
    const wg = { privateKey: "PRIV", address: "10.210.0.1/24", listenPort: 51820, peers: [{ name: "alice", publicKey: "PUB", allowedIps: ["10.210.0.10/32"] }] };
    const cfg = renderVpnGateway(base, { cluster, agent: agent(false) }, { wg0: wg });
    const f = files(cfg);
    expect(f["/etc/wireguard/wg0.conf"]).toBe("[Interface]\nPrivateKey = PRIV\nAddress = 10.210.0.1/24\nListenPort = 51820\n\n[Peer]\nPublicKey = PUB\nAllowedIPs = 10.210.0.10/32\n");
    expect(f["/etc/sysctl.d/60-forwarding.conf"]).toBe("net.ipv4.ip_forward = 1\n");
  });

  test("GIVEN WireGuard with an endpoint and keepalive THEN both are written", () => {
    const text = renderWireGuard({ privateKey: "K", address: "10.0.0.1/32", peers: [{ name: "b", publicKey: "P", allowedIps: ["10.20.0.0/16", "10.220.0.0/24"], endpoint: "203.0.113.1:51821", persistentKeepalive: 25 }] });
    expect(text).toContain("AllowedIPs = 10.20.0.0/16, 10.220.0.0/24\nEndpoint = 203.0.113.1:51821\nPersistentKeepalive = 25\n");
  });

  test("fails on a file written twice", () => {
    expect(() => baseConfig(base).addFile({ path: "/etc/ssh/sshd_config.d/10-hardening.conf", content: "x" })).toThrow(/file \/etc\/ssh\/sshd_config.d\/10-hardening.conf is written twice/);
  });

  test("fails on a value with a line break (no line injection)", () => {
    expect(() => renderKeyValue({ AllowUsers: "ops\nPermitRootLogin yes" })).toThrow(/AllowUsers: value .* has a line break; expected a single-line value/);
    expect(() => renderIni([{ name: "Peer", entries: { PublicKey: "a\n[Interface]" } }])).toThrow(/Peer.PublicKey: value .* has a line break/);
  });

  test("the hardening matches what the issue asks: keys only, no root, no passwords", () => {
    expect(SSHD_HARDENING).toMatchObject({ PermitRootLogin: "no", PasswordAuthentication: "no", PubkeyAuthentication: "yes", KbdInteractiveAuthentication: "no" });
  });
});

describe("agent configs", () => {
  test("client agents join the servers and never carry the management token", () => {
    const c = consulConfig(cluster, agent(false));
    expect(c).toMatchObject({ server: false, retry_join: cluster.serverAddresses, acl: { tokens: { agent: "agent-token" } } });
    expect(JSON.stringify(c)).not.toContain("mgmt");
    expect(nomadConfig(cluster, agent(false))).toMatchObject({ client: { server_join: { retry_join: cluster.serverAddresses } } });
  });

  test("federated servers join the other datacenter over the WAN", () => {
    const c = consulConfig({ ...cluster, wanJoin: ["10.20.1.10"] }, agent(true));
    expect(c.retry_join_wan).toEqual(["10.20.1.10"]);
  });
});

describe("tokens in user data", () => {
  test("GIVEN a file holding tokens WHEN rendered in a stack THEN Terraform base64-encodes it and the literal parts are escaped", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const c = new ConsulNomadCluster(stack, "c", { datacenter: "dc1", serverAddresses: ["10.0.1.10", "10.0.1.11", "10.0.1.12"] });
    const cfg = new CloudConfig().addFile({ path: "/t.json", content: JSON.stringify({ token: c.consulManagementToken.value, quote: 'say "hi"' }) });
    const resolved = Tokenization.resolve(cfg.render(), { scope: stack, preparing: false, resolver: new DefaultTokenResolver(new StringConcat()) }) as string;
    expect(resolved).toMatch(/content: \$\{base64encode\(join\("", \[.*random_uuid\.c_tokens_consul-management_token_[0-9A-F]+\.result.*\]\)\)\}/);
  });

  test("the size estimate counts tokens at their registered size", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const c = new ConsulNomadCluster(stack, "c", { datacenter: "dc1", serverAddresses: ["10.0.1.10", "10.0.1.11", "10.0.1.12"] });
    const token = registerTokenSize(c.consulManagementToken.resource.result, 36);
    expect(estimateBytes(`a${token}b`)).toBe(38);
  });
});

describe("regressions", () => {
  test("Nomad starts from nomad.json only, not the package's nomad.hcl (which enables server and client)", () => {
    const cfg = renderClient(base, { cluster, agent: agent(false) });
    expect(files(cfg)["/etc/systemd/system/nomad.service"]).toContain("ExecStart=/usr/bin/nomad agent -config=/etc/nomad.d/nomad.json\n");
  });

  test("values YAML 1.1 reads as booleans are quoted (cloud-init reads YAML 1.1)", () => {
    const text = baseConfig({ hostname: "on", adminUser: "ops", sshKeys: [KEY] }).render();
    expect(text).toContain('hostname: "on"');
  });

  test("Nomad servers issue workload identities for Consul", () => {
    expect(nomadConfig(cluster, agent(true)).consul).toMatchObject({ service_identity: { aud: ["consul.io"] }, task_identity: { aud: ["consul.io"] } });
  });
});

describe("review fixes", () => {
  test("Envoy sidecars reach Consul's gRPC port without a client certificate", () => {
    expect(consulConfig(cluster, agent(false)).tls).toMatchObject({ grpc: { verify_incoming: false }, defaults: { verify_incoming: true } });
  });

  test("shared host folders are declared read-only on the clients", () => {
    const c = nomadConfig(cluster, { ...agent(false), hostVolumes: { db: "/srv/nomad/db" }, readOnlyHostVolumes: { logs: "/opt/nomad/alloc" } }).client as any;
    expect(c.host_volume).toEqual([{ db: { path: "/srv/nomad/db", read_only: false } }, { logs: { path: "/opt/nomad/alloc", read_only: true } }]);
  });

  test("the bootstrap gives the anonymous token DNS lookups only", () => {
    const f = files(renderServer(base, { cluster, agent: agent(true) }, { agentPolicy: {}, nomadPolicy: {}, dnsPolicy: { service_prefix: { "": { policy: "read" } } }, nomadManagementToken: "t" }));
    expect(f["/usr/local/sbin/platform-bootstrap"]).toContain("consul acl token update -id 00000000-0000-0000-0000-000000000002 -policy-name dns-lookups");
    expect(JSON.parse(f["/etc/platform-bootstrap/dns-policy.json"])).toEqual({ service_prefix: { "": { policy: "read" } } });
  });
});

describe("federated agents", () => {
  const secondary: ClusterSettings = { ...cluster, datacenter: "backup", region: "backup", primaryDatacenter: "primary", authoritativeRegion: "primary", replicationToken: "repl", nomadReplicationToken: "nrepl", wanJoin: ["10.10.1.10"] };
  test("a secondary datacenter's servers point at the primary and replicate its ACLs", () => {
    const c = consulConfig(secondary, agent(true)) as any;
    expect(c).toMatchObject({ primary_datacenter: "primary", retry_join_wan: ["10.10.1.10"], acl: { enable_token_replication: true, tokens: { replication: "repl" } } });
    expect(c.acl.tokens.initial_management).toBeUndefined();
    expect(nomadConfig(secondary, agent(true))).toMatchObject({ server: { authoritative_region: "primary" }, acl: { replication_token: "nrepl" } });
  });
});

describe("the Nomad federation keeper", () => {
  const unit = "/etc/systemd/system/nomad-federation-keeper.service";
  const primary: ClusterSettings = { ...cluster, datacenter: "primary", region: "primary", nomadFederation: ["10.20.1.10:4648", "10.20.1.11:4648"], federationRegion: "backup" };
  const secondary: ClusterSettings = { ...cluster, datacenter: "backup", region: "backup", authoritativeRegion: "primary", nomadReplicationToken: "nrepl", nomadFederation: ["10.10.1.10:4648"], federationRegion: "primary" };
  const bootstrap = { agentPolicy: {}, nomadPolicy: {}, dnsPolicy: {}, nomadManagementToken: "nomad-mgmt" };
  const runcmd = (cfg: CloudConfig) => (parse(cfg.render()) as { runcmd: string[][] }).runcmd.map((c) => c.join(" "));

  test("GIVEN the authoritative region's bootstrap server THEN it keeps joining the peer region with its bootstrap token, started after the bootstrap", () => {
    const cfg = renderServer(base, { cluster: primary, agent: agent(true) }, bootstrap);
    expect(files(cfg)[unit]).toContain(`ExecStart=${FEDERATION_KEEPER} backup /etc/platform-bootstrap/nomad-management.token 10.20.1.10:4648 10.20.1.11:4648\n`);
    const steps = runcmd(cfg);
    expect(steps.indexOf("systemctl enable --now nomad-federation-keeper")).toBeGreaterThan(steps.indexOf("/usr/local/sbin/platform-bootstrap"));
  });

  test("GIVEN another server of the authoritative region THEN no keeper (it holds no management token)", () => {
    expect(files(renderServer(base, { cluster: primary, agent: agent(true) }))[unit]).toBeUndefined();
  });

  test("GIVEN a replicating region's server THEN it keeps joining with the replication token, in a root-only file", () => {
    const cfg = renderServer(base, { cluster: secondary, agent: agent(true) });
    expect(files(cfg)[unit]).toContain(`ExecStart=${FEDERATION_KEEPER} primary /etc/nomad.d/federation.token 10.10.1.10:4648\n`);
    const doc = parse(cfg.render()) as { write_files: { path: string; permissions?: string }[] };
    expect(doc.write_files.find((f) => f.path === "/etc/nomad.d/federation.token")?.permissions).toBe("0600");
    expect(files(cfg)["/etc/nomad.d/federation.token"]).toBe("nrepl");
  });

  test("GIVEN a site with no peer THEN no keeper", () => {
    expect(files(renderServer(base, { cluster, agent: agent(true) }, bootstrap))[unit]).toBeUndefined();
  });

  test("the keeper asks the peer's leader through the local server, and joins only when it does not answer", () => {
    const script = files(renderServer(base, { cluster: primary, agent: agent(true) }, bootstrap))[FEDERATION_KEEPER];
    expect(script).toContain('"$NOMAD_ADDR/v1/status/leader?region=$region"');
    expect(script).toMatch(/else\n\s+said="\$\(NOMAD_TOKEN="\$\(cat "\$token_file"\)" nomad server join "\$@"/);
  });
});
