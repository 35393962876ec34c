/**
 * The rehearsal's pieces that need no namespace: the plan read from the synthesized infra
 * stacks, the nftables rules generated from the security groups, the scratch Terraform root,
 * the key replacement, the boot steps and the unit files. The rehearsal itself runs in the real
 * tier (__tests__/real/rehearsal.test.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { buildDeployment } from "../stacks/deployment";
import { classifySteps, parseUnit, sysctlSettings, fileContent } from "../rehearsal/boot";
import { scratchRoot, USER_DATA_OUTPUT, variableValue } from "../rehearsal/evaluate";
import { portRuleset } from "../rehearsal/firewall";
import { adminPeers, declaredGatewayKey, peerKeysFor, replaceKeys } from "../rehearsal/keys";
import { groupMembers, PlanError, readSitePlan, refName, StackJson } from "../rehearsal/plan";
import { telling } from "../rehearsal/checks";
import { acquireLock } from "../rehearsal/host";
import { rehearse, reportTable } from "../rehearsal/run";
import { defaultDeployment } from "./helpers";

// The whole app is synthesized, so that the backup's cross-stack references become remote state.
const app = Testing.app();
buildDeployment(app, defaultDeployment());
app.synth();
const json = (site: string): StackJson => JSON.parse(fs.readFileSync(path.join(app.outdir, "stacks", `${site}-infra`, "cdk.tf.json"), "utf8")) as StackJson;
const primary = json("primary");
const backup = json("backup");
const plan = readSitePlan("primary-infra", primary, 1);

describe("the plan of a site", () => {
  test("GIVEN the default primary WHEN read THEN every VM has its port, its tier and the plan's fixed addresses", () => {
    const server1 = plan.vms.find((v) => v.name === "fleet-primary-server-1")!;
    expect(server1.role).toBe("server");
    expect(server1.port.ip).toBe("10.10.1.10");
    expect(server1.port.dhcp).toBe(false);
    expect(server1.port.subnet.cidr).toBe("10.10.1.0/24");
    expect(plan.vms).toHaveLength(Object.keys(primary.resource!.openstack_compute_instance_v2).length);
  });

  test("GIVEN DHCP ports WHEN read THEN they take distinct free addresses of their pool, in order", () => {
    const clients = plan.vms.filter((v) => v.role === "client");
    expect(clients.every((c) => c.port.dhcp)).toBe(true);
    expect(clients.map((c) => c.port.ip)).toEqual(["10.10.2.2", "10.10.2.3", "10.10.2.4", "10.10.2.5"]);
  });

  test("GIVEN the floating IPs WHEN read THEN each is the rehearsal's public address of its VM, distinct per site", () => {
    const vpn = plan.vms.find((v) => v.role === "vpn")!;
    expect(vpn.floatingIp).toMatch(/^203\.0\.113\.\d+$/);
    const other = readSitePlan("backup-infra", backup, 17);
    const ours = new Set(plan.floatingIps.map((f) => f.address));
    expect(other.floatingIps.some((f) => ours.has(f.address))).toBe(false);
  });

  test("GIVEN the VPN gateway's port WHEN its group's members are listed THEN its allowed address pairs are members too, as Neutron matches them", () => {
    const members = groupMembers(plan, plan.vms.find((v) => v.role === "vpn")!.port.groups.find((g) => g.startsWith("members"))!);
    expect(members).toEqual(expect.arrayContaining(["10.10.0.11", "10.20.0.0/16"]));
  });

  test("fails with the field and the value for a reference that is not of the expected type", () => {
    expect(() => refName("${openstack_networking_port_v2.x.id}", "openstack_networking_subnet_v2", "port y fixed_ip.subnet_id")).toThrow(
      new PlanError('port y fixed_ip.subnet_id: expected a reference to a openstack_networking_subnet_v2, got "${openstack_networking_port_v2.x.id}"'),
    );
  });

  test.each([
    ["protocol", "gre-ish", /protocol is "gre-ish", expected tcp, udp, icmp or a protocol number$/],
    ["remote_ip_prefix", "10.0.0.0/33", /remote_ip_prefix is "10\.0\.0\.0\/33", expected an address range such as 10\.10\.1\.0\/24$/],
    ["port_range_min", "${var.port}", /port_range_min is "\$\{var\.port\}", expected a port number$/],
  ])("fails for a rule whose %s it cannot read (it would widen the rule), naming the rule", (field, value, message) => {
    const j = JSON.parse(JSON.stringify(primary)) as StackJson;
    Object.values(j.resource!.openstack_networking_secgroup_rule_v2)[0][field] = value;
    expect(() => readSitePlan("primary-infra", j, 1)).toThrow(message);
  });

  test("fails for a VM name that is not a hostname, naming the instance", () => {
    const j = JSON.parse(JSON.stringify(primary)) as StackJson;
    Object.values(j.resource!.openstack_compute_instance_v2)[0].name = "a;rm -rf";
    expect(() => readSitePlan("primary-infra", j, 1)).toThrow(/instance .+: name "a;rm -rf" is not a hostname/);
  });

  test("fails for a port with two fixed IPs, naming the port", () => {
    const j = JSON.parse(JSON.stringify(primary)) as StackJson;
    const port = Object.values(j.resource!.openstack_networking_port_v2)[0];
    port.fixed_ip = [...(port.fixed_ip as unknown[]), ...(port.fixed_ip as unknown[])];
    expect(() => readSitePlan("primary-infra", j, 1)).toThrow(/^primary-infra port .+: the rehearsal models one fixed IP per port, got 2$/);
  });
});

describe("the security groups as nftables rules", () => {
  const server = plan.vms.find((v) => v.name === "fleet-primary-server-1")!;
  const rules = portRuleset(plan, server);

  test("GIVEN a server WHEN its rules are generated THEN each synthesized ingress rule of its groups is one accept, with its resource name", () => {
    const ids = plan.groups.filter((g) => server.port.groups.includes(g.id)).flatMap((g) => g.rules.filter((r) => r.direction === "ingress").map((r) => r.id));
    for (const id of ids) expect(rules).toContain(`comment "${id}"`);
    expect(rules).toMatch(/ip saddr @g_clients_security_group_[0-9A-F]+ tcp dport 4647 accept/);
  });

  test("GIVEN a remote group WHEN generated THEN its set holds the members' addresses", () => {
    expect(rules).toMatch(/set g_clients_security_group_[0-9A-F]+ \{[^}]*elements = \{ 10\.10\.2\.2, 10\.10\.2\.3, 10\.10\.2\.4, 10\.10\.2\.5, 10\.10\.0\.12 \}/);
  });

  test("GIVEN a group without delete_default_rules WHEN generated THEN egress is allowed as OpenStack's default rules allow it, and the port sends only from its addresses", () => {
    expect(rules).toContain('accept comment "default egress rule of a new security group"');
    expect(rules).toContain("ip saddr != { 10.10.1.10 } drop");
  });

  test("GIVEN a rule removed from the JSON WHEN generated THEN its accept is gone (nothing is added by hand)", () => {
    const id = plan.groups.flatMap((g) => g.rules).find((r) => r.portMin === 4647 && r.remoteGroup?.startsWith("clients"))!.id;
    const j = JSON.parse(JSON.stringify(primary)) as StackJson;
    delete (j.resource!.openstack_networking_secgroup_rule_v2 as Record<string, unknown>)[id];
    const p = readSitePlan("primary-infra", j, 1);
    const again = portRuleset(p, p.vms.find((v) => v.name === "fleet-primary-server-1")!);
    expect(rules).toContain(id);
    expect(again).not.toContain(id);
  });
});

describe("the scratch Terraform root", () => {
  const root = scratchRoot(plan, primary, { remoteStates: {} }) as Record<string, any>;

  test("GIVEN the primary WHEN made THEN it keeps the tls and random resources and no OpenStack resource", () => {
    const types = Object.keys(root.resource);
    expect(types.every((t) => /^(tls|random)_/.test(t))).toBe(true);
    expect(types).toEqual(expect.arrayContaining(["tls_private_key", "tls_self_signed_cert", "random_bytes", "random_uuid"]));
    expect(Object.keys(root.terraform.required_providers).sort()).toEqual(["random", "tls"]);
  });

  test("GIVEN every instance WHEN made THEN its user data is a sensitive output, with OpenStack references replaced by the rehearsal's values", () => {
    const out = root.output[USER_DATA_OUTPUT];
    expect(out.sensitive).toBe(true);
    expect(Object.keys(out.value)).toHaveLength(plan.vms.length);
    expect(JSON.stringify(root.output)).not.toMatch(/\bopenstack_[a-z0-9_]+\.[A-Za-z0-9_-]+\.[a-z_]+/);
    expect(Object.values(root.locals)).toEqual(expect.arrayContaining([plan.floatingIps[0].address]));
  });

  test("GIVEN the backup WHEN made THEN its remote state is the primary's scratch state", () => {
    const b = scratchRoot(readSitePlan("backup-infra", backup, 17), backup, { remoteStates: { "primary-infra": "/tmp/x/terraform.tfstate" } }) as Record<string, any>;
    expect(Object.values(b.data.terraform_remote_state)).toEqual([expect.objectContaining({ backend: "local", config: { path: "/tmp/x/terraform.tfstate" } })]);
  });

  test("fails for the backup when the primary is not rehearsed before it", () => {
    expect(() => scratchRoot(readSitePlan("backup-infra", backup, 17), backup, { remoteStates: {} })).toThrow(/^backup-infra: it reads the state of another stack \(.+\) that is not rehearsed before it$/);
  });

  test("fails naming an OpenStack attribute the rehearsal has no value for", () => {
    const j = JSON.parse(JSON.stringify(primary)) as StackJson;
    (j.output as Record<string, Record<string, unknown>>).odd = { value: "${openstack_networking_router_v2.network_router_B15B771C.external_fixed_ip}" };
    expect(() => scratchRoot(plan, j, { remoteStates: {} })).toThrow("primary-infra output odd: the rehearsal has no value for openstack_networking_router_v2.network_router_B15B771C.external_fixed_ip");
  });

  test("fails naming an input variable it has no value for", () => {
    expect(variableValue("s", "vpn_private_key", () => "k")).toBe("k");
    expect(() => variableValue("primary-infra", "db_password", () => "k")).toThrow("primary-infra: the rehearsal has no value for the input variable db_password");
  });
});

describe("the WireGuard keys", () => {
  test("GIVEN the default stacks WHEN read THEN each gateway declares its public key and the admin peer's key is found by its address", () => {
    const declared = declaredGatewayKey(primary)!;
    expect(declared).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const [alice] = adminPeers(primary);
    expect(alice.peer).toBe("alice");
    expect(peerKeysFor(primary, alice.address)).toHaveLength(1);
  });

  test("GIVEN a replacement WHEN applied THEN the declared key is gone from every string of the other site", () => {
    const declared = declaredGatewayKey(primary)!;
    const j = JSON.parse(JSON.stringify(backup)) as StackJson;
    expect(JSON.stringify(j)).toContain(declared);
    replaceKeys(j, new Map([[declared, "N".repeat(43) + "="]]));
    expect(JSON.stringify(j)).not.toContain(declared);
    expect(JSON.stringify(j)).toContain("N".repeat(43) + "=");
  });
});

describe("the boot steps", () => {
  const cfg = {
    write_files: [{ path: "/etc/sysctl.d/60-forwarding.conf", content: Buffer.from("net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n").toString("base64"), encoding: "b64" }],
    runcmd: [["systemctl", "restart", "ssh"], ["modprobe", "br_netfilter"], ["sysctl", "--system"], ["sh", "-c", "blkid /dev/vdb || mkfs.ext4 -L nomad-data /dev/vdb"], ["mkdir", "-p", "/srv/nomad"], ["mount", "-a"], ["systemctl", "enable", "--now", "consul"], ["/usr/local/sbin/platform-bootstrap"]],
  };

  test("GIVEN the rendered runcmd WHEN classified THEN what needs the VM's kernel or disk is replaced with a reason, the rest runs as rendered", () => {
    expect(classifySteps(cfg).map((s) => s.kind)).toEqual(["skip", "skip", "sysctl", "skip", "run", "skip", "start", "run"]);
    expect(classifySteps(cfg).filter((s) => s.kind === "skip").every((s) => s.kind === "skip" && s.why.length > 10)).toBe(true);
  });

  test("GIVEN sysctl files WHEN read THEN network settings are the namespace's own and the others are named as the host's", () => {
    expect(sysctlSettings(cfg.write_files)).toEqual({ own: [["net.ipv4.ip_forward", "1"]], host: ["net.bridge.bridge-nf-call-iptables"] });
    expect(fileContent(cfg.write_files[0]).toString()).toContain("ip_forward");
  });

  test("GIVEN a unit file WHEN read THEN the command line, user, group, limit and kill signal are systemd's", () => {
    const u = parseUnit("consul", "[Unit]\nDescription=x\n[Service]\nUser=consul\nGroup=consul\nExecStart=/usr/bin/consul agent -config-dir=/etc/consul.d\nKillSignal=SIGINT\nLimitNOFILE=65536\n");
    expect(u).toEqual({ name: "consul", user: "consul", group: "consul", execStart: ["/usr/bin/consul", "agent", "-config-dir=/etc/consul.d"], environment: {}, killSignal: "SIGINT", limitNofile: 65536 });
  });

  test("fails for a unit whose command line needs a shell's quoting", () => {
    expect(() => parseUnit("x", "[Service]\nExecStart=/bin/sh -c 'echo hi'\n")).toThrow(/ExecStart .*: the rehearsal starts plain command lines only/);
  });
});

describe("one rehearsal at a time", () => {
  test("GIVEN a lock held by a live process WHEN taken THEN it fails naming that process; a lock whose process is gone is taken over", () => {
    const dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "lock-"));
    const file = path.join(dir, "rehearsal.lock");
    fs.writeFileSync(file, "1"); // pid 1 is always alive
    expect(() => acquireLock(file)).toThrow(`another rehearsal is running (pid 1, lock ${file}): wait for it to end, or end it`);
    fs.writeFileSync(file, "999999999");
    const release = acquireLock(file);
    expect(fs.readFileSync(file, "utf8")).toBe(String(process.pid));
    release();
    expect(fs.existsSync(file)).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });
});

describe("the diagnostics", () => {
  test("GIVEN an agent's log WHEN read THEN the entry about reaching another agent wins over generic errors and rehearsal noise, continuation lines joined", () => {
    const log = [
      "2026-12-01T19:29:08.000Z [WARN]  agent: Check is now critical: check=service:node-exporter",
      '2026-12-01T19:29:09.000Z [WARN]  agent: (LAN) couldn\'t join: number_of_nodes=0 error="1 error occurred:',
      "\t* Failed to join 10.10.1.99:8301: dial tcp 10.10.1.99:8301: i/o timeout",
      '"',
      '2026-12-01T19:29:42.000Z [ERROR] agent.anti_entropy: failed to sync remote state: error="No known Consul servers"',
    ].join("\n");
    const nomad = ["==> Starting Nomad agent...", "    2026-12-01T19:25:30.000Z [ERROR] client.rpc: error performing RPC to server, deadline exceeded, cannot retry: error=\"no servers\" rpc=Node.Register", "    2026-12-01T19:25:33.799Z [ERROR] client: error registering: error=\"rpc error: failed to get conn: dial tcp 10.10.1.11:4647: i/o timeout\""].join("\n");
    // The entry naming the address it could not reach wins over the later "no servers".
    expect(telling(nomad + "\n    2026-12-01T19:26:26.328Z [ERROR] client.rpc: error performing RPC to server, deadline exceeded, cannot retry: error=\"no servers\" rpc=Node.Register")).toBe('2026-12-01T19:25:33.799Z [ERROR] client: error registering: error="rpc error: failed to get conn: dial tcp 10.10.1.11:4647: i/o timeout"');
    expect(telling(log)).toMatch(/couldn't join.* \/ \* Failed to join 10\.10\.1\.99:8301/);
  });

  test("GIVEN a report WHEN printed THEN each check is a row with its time, and the closing line counts them", () => {
    const t = reportTable({ checks: [{ name: "a", ok: true, ms: 1500, detail: "" }, { name: "b", ok: false, ms: 30000, detail: "" }], diagnostics: ["x: y"], changes: [], wallMs: 61000, peakMemoryMb: 10, ok: false, vms: [] });
    expect(t.split("\n")).toEqual(["result    time  check", "passed   1.5 s  a", "FAILED  30.0 s  b", "", "why:", "  x: y", "", "1 passed, 1 failed; wall time 61 s; agents' peak memory 10 MB"]);
  });
});

describe("the rehearsal's options", () => {
  test("fails on --tunnel-late with one site, before it builds anything", async () => {
    await expect(rehearse({ from: app.outdir, sites: ["primary"], tunnelLate: true, binaries: {}, out: () => undefined })).rejects.toThrow(
      "tunnelLate: primary rehearsed; expected two sites joined by a site-to-site tunnel (e.g. --sites primary,backup)",
    );
  });
});
