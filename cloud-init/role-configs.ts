/**
 * The cloud-config of each VM role, composed from typed inputs.
 *
 * Every VM: the admin user (keys only), hardened sshd, node_exporter, a Consul agent that
 * registers the node_exporter service (so monitoring finds the VM without manual steps).
 * Servers add Consul and Nomad in server mode; clients add Nomad, Docker and the CNI plugins the
 * service mesh needs; the bastion adds fail2ban; the VPN gateway adds WireGuard and forwarding.
 */
import { TESTED_AGENT_VERSIONS } from "../config/versions";
import { AgentSettings, AgentTls, CLUSTER_PORTS, ClusterSettings, PATHS, consulConfig, dataDirs, nomadConfig } from "./agents";
import { CloudConfig } from "./cloud-config";
import { renderIni, renderKeyValue } from "./formats";
import { WireGuardInterface, renderWireGuard } from "./wireguard";

/** HashiCorp's APT repository and the fingerprint of its signing key. */
export const HASHICORP_APT = {
  name: "hashicorp",
  source: "deb [signed-by=$KEY_FILE] https://apt.releases.hashicorp.com $RELEASE main",
  keyid: "798AEC654E5C15428C8E42EEAA16FCBCA621E701",
} as const;

/** Agent versions installed on the VMs unless the site says others: the ones the real test tier checks the configs with. */
export const AGENT_VERSIONS = TESTED_AGENT_VERSIONS;

export interface BaseInputs {
  readonly hostname: string;
  readonly adminUser: string;
  readonly sshKeys: readonly string[];
}

/** Inputs of a VM that is a Consul member (every VM). */
export interface MemberInputs {
  readonly cluster: ClusterSettings;
  readonly agent: AgentSettings;
}

/** Inputs of the server that bootstraps ACLs once the cluster has a leader. */
export interface BootstrapInputs {
  /** Policy rules of the Consul agents' token (JSON). */
  readonly agentPolicy: Record<string, unknown>;
  /** Policy rules of Nomad's Consul token (JSON). */
  readonly nomadPolicy: Record<string, unknown>;
  /** Policy rules of the anonymous token: DNS lookups of services, nodes and prepared queries (JSON). */
  readonly dnsPolicy: Record<string, unknown>;
  /** The Nomad ACL bootstrap (management) secret. */
  readonly nomadManagementToken: string;
}

export const SSHD_HARDENING: Readonly<Record<string, string | number>> = {
  PermitRootLogin: "no",
  PasswordAuthentication: "no",
  KbdInteractiveAuthentication: "no",
  PubkeyAuthentication: "yes",
  AuthenticationMethods: "publickey",
  PermitEmptyPasswords: "no",
  MaxAuthTries: 3,
  LoginGraceTime: 30,
  X11Forwarding: "no",
  AllowAgentForwarding: "no",
};

function tlsFiles(cfg: CloudConfig, dir: string, owner: string, tls: AgentTls): void {
  cfg.addFile({ path: `${dir}/ca.pem`, content: tls.caPem, owner, deferred: true });
  cfg.addFile({ path: `${dir}/agent.pem`, content: tls.certPem, owner, deferred: true });
  cfg.addFile({ path: `${dir}/agent-key.pem`, content: tls.keyPem, owner, permissions: "0640", deferred: true });
}

function systemdUnit(description: string, exec: string, user: string, after: string[], requiresMountsFor?: string): string {
  return renderIni(
    [
      {
        name: "Unit",
        entries: {
          Description: description,
          Wants: "network-online.target",
          After: ["network-online.target", ...after],
          // The data lives on a volume: never start on the root disk's empty folder instead.
          ...(requiresMountsFor ? { RequiresMountsFor: requiresMountsFor } : {}),
        },
      },
      {
        name: "Service",
        entries: {
          User: user,
          Group: user,
          ExecStart: exec,
          ExecReload: "/bin/kill --signal HUP $MAINPID",
          KillMode: "process",
          KillSignal: "SIGINT",
          Restart: "on-failure",
          RestartSec: 2,
          LimitNOFILE: 65536,
        },
      },
      { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ],
    "=",
  );
}

/** What every VM has. */
export function baseConfig(inputs: BaseInputs): CloudConfig {
  const cfg = new CloudConfig()
    .setHostname(inputs.hostname)
    .addUser({ name: inputs.adminUser, sshAuthorizedKeys: inputs.sshKeys, sudo: true, groups: ["adm"] })
    .addPackages("prometheus-node-exporter", "unattended-upgrades")
    .addFile({ path: "/etc/ssh/sshd_config.d/10-hardening.conf", content: renderKeyValue({ ...SSHD_HARDENING, AllowUsers: inputs.adminUser }), permissions: "0600" });
  cfg.addCommand("systemctl", "restart", "ssh");
  return cfg;
}

/** A Consul agent (client mode unless agent.server), with the node_exporter service. */
function addConsul(cfg: CloudConfig, m: MemberInputs): void {
  cfg.addAptSource(HASHICORP_APT).addPackages(`consul=${(m.cluster.agentVersions ?? AGENT_VERSIONS).consul}-1`);
  const owner = "consul:consul";
  cfg.addFile({ path: `${PATHS.consulConfigDir}/consul.json`, content: JSON.stringify(consulConfig(m.cluster, m.agent), null, 2), owner, permissions: "0640", deferred: true });
  cfg.addFile({
    path: `${PATHS.consulConfigDir}/node-exporter.json`,
    content: JSON.stringify(
      {
        service: {
          name: "node-exporter",
          port: CLUSTER_PORTS.nodeExporter,
          tags: ["metrics"],
          meta: { metrics_path: "/metrics" },
          checks: [{ name: "node_exporter metrics", http: `http://127.0.0.1:${CLUSTER_PORTS.nodeExporter}/metrics`, interval: "30s", timeout: "5s" }],
        },
      },
      null,
      2,
    ),
    owner,
    deferred: true,
  });
  // Readable by the consul user; Nomad runs as root.
  tlsFiles(cfg, PATHS.tlsDir, "root:consul", m.agent.tls);
  cfg.addFile({ path: "/etc/systemd/system/consul.service", content: systemdUnit("Consul agent", `/usr/bin/consul agent -config-dir=${PATHS.consulConfigDir}`, "consul", [], m.agent.dataRoot) });
  cfg.addCommand("systemctl", "daemon-reload");
  cfg.addCommand("systemctl", "enable", "--now", "consul");
}

/**
 * Nomad reads only our nomad.json: the Debian package's /etc/nomad.d/nomad.hcl enables both
 * server (bootstrap_expect 1) and client, which a config folder would merge in.
 */
function addNomad(cfg: CloudConfig, m: MemberInputs, dataMount: string | undefined = m.agent.dataRoot): void {
  cfg.addPackages(`nomad=${(m.cluster.agentVersions ?? AGENT_VERSIONS).nomad}-1`);
  cfg.addFile({ path: `${PATHS.nomadConfigDir}/nomad.json`, content: JSON.stringify(nomadConfig(m.cluster, m.agent), null, 2), permissions: "0600" });
  cfg.addFile({ path: "/etc/systemd/system/nomad.service", content: systemdUnit("Nomad agent", `/usr/bin/nomad agent -config=${PATHS.nomadConfigDir}/nomad.json`, "root", ["consul.service"], dataMount) });
  cfg.addCommand("systemctl", "daemon-reload");
  cfg.addCommand("systemctl", "enable", "--now", "nomad");
}

/** The first server's one-off ACL bootstrap, idempotent: it can run again on a rebuilt VM. */
const BOOTSTRAP_DIR = "/etc/platform-bootstrap";

function addBootstrap(cfg: CloudConfig, b: BootstrapInputs, m: MemberInputs): void {
  const dir = BOOTSTRAP_DIR;
  cfg.addFile({ path: `${dir}/consul-management.token`, content: m.agent.consulManagementToken ?? "", permissions: "0600" });
  cfg.addFile({ path: `${dir}/consul-agent.token`, content: m.agent.consulAgentToken, permissions: "0600" });
  cfg.addFile({ path: `${dir}/nomad-consul.token`, content: m.agent.nomadConsulToken, permissions: "0600" });
  cfg.addFile({ path: `${dir}/nomad-management.token`, content: b.nomadManagementToken, permissions: "0600" });
  cfg.addFile({ path: `${dir}/agent-policy.json`, content: JSON.stringify(b.agentPolicy, null, 2), permissions: "0600" });
  cfg.addFile({ path: `${dir}/nomad-policy.json`, content: JSON.stringify(b.nomadPolicy, null, 2), permissions: "0600" });
  cfg.addFile({ path: `${dir}/dns-policy.json`, content: JSON.stringify(b.dnsPolicy, null, 2), permissions: "0600" });
  cfg.addFile({ path: "/usr/local/sbin/platform-bootstrap", permissions: "0700", content: BOOTSTRAP_SCRIPT });
  cfg.addCommand("/usr/local/sbin/platform-bootstrap");
}

/** Waits for the leaders, then creates the agent and Nomad tokens with the secrets Terraform generated. */
export const BOOTSTRAP_SCRIPT = `#!/bin/sh
# Bootstraps Consul and Nomad ACLs with the secrets Terraform generated. Idempotent.
set -eu
d=/etc/platform-bootstrap
export CONSUL_HTTP_ADDR=https://127.0.0.1:${CLUSTER_PORTS.consulHttps} CONSUL_CACERT=${PATHS.tlsDir}/ca.pem
export CONSUL_HTTP_TOKEN_FILE=$d/consul-management.token
export NOMAD_ADDR=https://127.0.0.1:${CLUSTER_PORTS.nomadHttp} NOMAD_CACERT=${PATHS.tlsDir}/ca.pem
until consul operator raft list-peers >/dev/null 2>&1; do sleep 5; done
consul acl policy read -name consul-agents >/dev/null 2>&1 || consul acl policy create -name consul-agents -rules @$d/agent-policy.json
CONSUL_HTTP_TOKEN_FILE=$d/consul-agent.token consul acl token read -self >/dev/null 2>&1 || \\
  consul acl token create -description "Consul agents" -policy-name consul-agents -secret "$(cat $d/consul-agent.token)"
consul acl policy read -name nomad-agents >/dev/null 2>&1 || consul acl policy create -name nomad-agents -rules @$d/nomad-policy.json
CONSUL_HTTP_TOKEN_FILE=$d/nomad-consul.token consul acl token read -self >/dev/null 2>&1 || \\
  consul acl token create -description "Nomad agents" -policy-name nomad-agents -secret "$(cat $d/nomad-consul.token)"
consul acl policy read -name dns-lookups >/dev/null 2>&1 || consul acl policy create -name dns-lookups -rules @$d/dns-policy.json
consul acl token update -id 00000000-0000-0000-0000-000000000002 -policy-name dns-lookups -description "Anonymous: DNS lookups" >/dev/null
until curl -sf --cacert "$NOMAD_CACERT" "$NOMAD_ADDR/v1/status/leader" | grep -q .; do sleep 5; done
NOMAD_TOKEN="$(cat $d/nomad-management.token)" nomad acl token self >/dev/null 2>&1 || nomad acl bootstrap $d/nomad-management.token
`;

/**
 * Keeps a server's Nomad region federated with the peer site's. Nomad's `retry_join` stops once
 * it has reached a server, and the local ones answer first: a peer region that did not answer
 * then (the tunnel not up yet, the peer site built later or rebuilt) would never be joined, and a
 * replicating region would never get its ACLs (the rehearsal saw it in about one boot in five).
 * Every 15 s the keeper asks this server for the peer region's leader (a status endpoint, no
 * token: it answers only through a federation) and, when none answers, joins the peer's
 * servers with a management token (`nomad server join` needs agent:write). Only servers that
 * already hold that token run it: the first server of the authoritative region (its bootstrap
 * token) and the servers of a replicating region (their replication token, which resolves there
 * once federated: before that, the authoritative side does the join).
 */
export const FEDERATION_KEEPER = "/usr/local/sbin/nomad-federation-keeper";

export const FEDERATION_KEEPER_SCRIPT = `#!/bin/sh
# Joins this server's Nomad region to the peer region whenever the peer's leader does not answer
# through it (see the library's cloud-init/role-configs.ts). Usage: <peer region> <token file> <peer server:port>...
# It logs what a join answered when that changes (a peer site not built yet is quiet).
set -u
region=$1 token_file=$2
shift 2
export NOMAD_ADDR=https://127.0.0.1:${CLUSTER_PORTS.nomadHttp} NOMAD_CACERT=${PATHS.tlsDir}/ca.pem
last=
while :; do
  if curl -sf -m 5 --cacert "$NOMAD_CACERT" "$NOMAD_ADDR/v1/status/leader?region=$region" | grep -q .; then
    said="region $region answers"
  else
    said="$(NOMAD_TOKEN="$(cat "$token_file")" nomad server join "$@" 2>&1 | tail -n 1)"
  fi
  [ "$said" = "$last" ] || echo "$said"
  last=$said
  sleep 15
done
`;

function addFederationKeeper(cfg: CloudConfig, m: MemberInputs, tokenFile: string): void {
  const { nomadFederation, federationRegion } = m.cluster;
  if (!nomadFederation || nomadFederation.length === 0 || !federationRegion) return;
  cfg.addFile({ path: FEDERATION_KEEPER, permissions: "0700", content: FEDERATION_KEEPER_SCRIPT });
  cfg.addFile({
    path: "/etc/systemd/system/nomad-federation-keeper.service",
    // Its own unit: no reload, and a stop ends the script and its sleep (the whole control group).
    content: renderIni(
      [
        { name: "Unit", entries: { Description: `Nomad federation with region ${federationRegion}`, After: ["network-online.target", "nomad.service"], Wants: "network-online.target" } },
        { name: "Service", entries: { ExecStart: [FEDERATION_KEEPER, federationRegion, tokenFile, ...nomadFederation].join(" "), Restart: "on-failure", RestartSec: 5 } },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
      ],
      "=",
    ),
  });
  cfg.addCommand("systemctl", "daemon-reload");
  cfg.addCommand("systemctl", "enable", "--now", "nomad-federation-keeper");
}

/**
 * A data volume: formatted once (mkfs refuses a device that already holds a file system), in
 * fstab by its label. The agents that keep data on it require its mount (RequiresMountsFor), so
 * a missing volume stops them instead of starting them on the root disk's empty folder.
 * `required`: the boot waits up to 5 minutes for the device (a slow attach).
 */
function addDataVolume(cfg: CloudConfig, device: string, label: string, mountPoint: string, required: boolean): void {
  cfg.addCommand("sh", "-c", `blkid ${device} || mkfs.ext4 -L ${label} ${device}`);
  cfg.addCommand("mkdir", "-p", mountPoint);
  // nofail either way: without it a missing volume stops the whole boot (no network, no SSH); the
  // units that need the data require the mount instead (RequiresMountsFor).
  cfg.addCommand("sh", "-c", `grep -q ${label} /etc/fstab || echo 'LABEL=${label} ${mountPoint} ext4 defaults,nofail${required ? ",x-systemd.device-timeout=5min" : ""} 0 2' >> /etc/fstab`);
  cfg.addCommand("mount", "-a");
}

/** Where a server's volume holds its agents' data dirs (consul/, nomad/). */
export const SERVER_DATA_ROOT = "/var/lib/platform";

/**
 * A Consul + Nomad server. With `volumeDevice`, its agents' data (Raft, node identity, the
 * keyrings) live on that persistent volume at `m.agent.dataRoot`.
 */
export function renderServer(base: BaseInputs, m: MemberInputs, bootstrap?: BootstrapInputs, volumeDevice?: string): CloudConfig {
  const cfg = baseConfig(base).addPackages("curl");
  const root = m.agent.dataRoot;
  if (root && !volumeDevice) throw new Error(`renderServer ${base.hostname}: agent.dataRoot ${root} needs the volume it lives on; expected volumeDevice`);
  if (root && volumeDevice) {
    addDataVolume(cfg, volumeDevice, "server-data", root, true);
    const dirs = dataDirs(m.agent);
    cfg.addCommand("mkdir", "-p", dirs.consul, dirs.nomad);
    // Recursive: a replaced server's image may give the consul user another uid.
    cfg.addCommand("chown", "-R", "consul:consul", dirs.consul);
    cfg.addCommand("chmod", "0700", dirs.nomad);
  }
  addConsul(cfg, m);
  addNomad(cfg, m);
  if (bootstrap) {
    addBootstrap(cfg, bootstrap, m);
    addFederationKeeper(cfg, m, `${BOOTSTRAP_DIR}/nomad-management.token`);
  } else if (m.cluster.nomadReplicationToken) {
    const tokenFile = `${PATHS.nomadConfigDir}/federation.token`;
    cfg.addFile({ path: tokenFile, content: m.cluster.nomadReplicationToken, permissions: "0600" });
    addFederationKeeper(cfg, m, tokenFile);
  }
  return cfg;
}

/** A Nomad client: Docker, CNI plugins for bridge networking and Connect, an optional data volume. */
export function renderClient(base: BaseInputs, m: MemberInputs, volumeDevice?: string): CloudConfig {
  const cfg = baseConfig(base).addPackages("docker.io", "containernetworking-plugins");
  cfg.addFile({ path: "/etc/sysctl.d/60-bridge.conf", content: renderKeyValue({ "net.bridge.bridge-nf-call-iptables": 1, "net.bridge.bridge-nf-call-ip6tables": 1, "net.bridge.bridge-nf-call-arptables": 1 }, " = ") });
  cfg.addFile({ path: "/etc/modules-load.d/bridge.conf", content: "br_netfilter\n" });
  cfg.addCommand("modprobe", "br_netfilter");
  cfg.addCommand("sysctl", "--system");
  if (volumeDevice) addDataVolume(cfg, volumeDevice, "nomad-data", PATHS.hostVolumeDir, false);
  for (const path of Object.values(m.agent.hostVolumes ?? {})) cfg.addCommand("mkdir", "-p", path);
  addConsul(cfg, m);
  // A client with a data disk: Nomad (and so the data services) only with the disk mounted.
  addNomad(cfg, m, volumeDevice ? PATHS.hostVolumeDir : undefined);
  return cfg;
}

/** Fail2ban's jail for sshd. */
export const FAIL2BAN_SSHD = { enabled: "true", port: "ssh", backend: "systemd", maxretry: 5, findtime: "10m", bantime: "1h" } as const;

export function renderBastion(base: BaseInputs, m: MemberInputs): CloudConfig {
  const cfg = baseConfig(base).addPackages("fail2ban");
  cfg.addFile({ path: "/etc/fail2ban/jail.d/sshd.local", content: renderIni([{ name: "sshd", entries: FAIL2BAN_SSHD }]) });
  cfg.addCommand("systemctl", "enable", "--now", "fail2ban");
  addConsul(cfg, m);
  return cfg;
}

/** The VPN gateway: WireGuard interfaces (wg0 for admins, wg1 site-to-site) and IP forwarding. */
export function renderVpnGateway(base: BaseInputs, m: MemberInputs, interfaces: Readonly<Record<string, WireGuardInterface>>): CloudConfig {
  const cfg = baseConfig(base).addPackages("wireguard-tools");
  cfg.addFile({ path: "/etc/sysctl.d/60-forwarding.conf", content: renderKeyValue({ "net.ipv4.ip_forward": 1 }, " = ") });
  cfg.addCommand("sysctl", "--system");
  for (const [name, iface] of Object.entries(interfaces)) {
    cfg.addFile({ path: `/etc/wireguard/${name}.conf`, content: renderWireGuard(iface), permissions: "0600" });
    cfg.addCommand("systemctl", "enable", "--now", `wg-quick@${name}`);
  }
  addConsul(cfg, m);
  return cfg;
}

export function renderDevelopment(base: BaseInputs, m: MemberInputs): CloudConfig {
  const cfg = baseConfig(base).addPackages("docker.io", "git", "make");
  addConsul(cfg, m);
  return cfg;
}
