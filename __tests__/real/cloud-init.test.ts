/**
 * Real tier: the user data of every VM role, rendered with real values (openssl certificates,
 * random gossip keys, UUID tokens, `wg genkey` keys), checked by the tools that read it:
 * `cloud-init schema`, `consul validate`, `nomad config validate`, openssl for the TLS files,
 * dash for the bootstrap script. Each tool also gets a broken input it must reject.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { AgentSettings, ClusterSettings, PATHS, PRIVATE_IP_TEMPLATE } from "../../cloud-init/agents";
import { CloudConfig, USER_DATA_LIMIT_BYTES } from "../../cloud-init/cloud-config";
import { BaseInputs, MemberInputs, renderBastion, renderClient, renderDevelopment, renderServer, renderVpnGateway } from "../../cloud-init/role-configs";
import { WireGuardInterface } from "../../cloud-init/wireguard";
import { CONSUL_AGENT_POLICY, CONSUL_DNS_POLICY, CONSUL_NOMAD_POLICY } from "../../constructs/cluster/cluster";
import { TestCa, createCa, gossipKey, issueCert, makeTempDir, removeDir, requireTool, run, runOk, wgKeyPair, writeFile } from "./real-helpers";

const DC = "primary";
const REGION = "primary";
const SERVERS = ["10.10.1.10", "10.10.1.11", "10.10.1.12"];
const PEER_SERVERS = ["10.20.1.10", "10.20.1.11", "10.20.1.12"];
/** The client data volume's device and host volumes, as the infra stack passes them. */
const VOLUME_DEVICE = "/dev/vdb";
const HOST_VOLUMES = { data: `${PATHS.hostVolumeDir}/data` };

interface WriteFile {
  path: string;
  encoding: string;
  content: string;
  owner: string;
  permissions: string;
  defer?: boolean;
}

interface Role {
  readonly name: string;
  readonly config: CloudConfig;
  /** The rendered `#cloud-config`. */
  readonly yaml: string;
  /** The Consul agent runs in server mode. */
  readonly consulServer: boolean;
  /** The role runs a Nomad agent. */
  readonly nomad: boolean;
  /** Certificate names: Consul DNS name, Nomad DNS name, fixed IP. */
  readonly consulName: string;
  readonly nomadName: string;
  readonly ip?: string;
}

let work: string;
let ca: TestCa;
const roles: Role[] = [];

function role(name: string): Role {
  const r = roles.find((x) => x.name === name);
  if (!r) throw new Error(`no role ${name}`);
  return r;
}

function writeFiles(yaml: string): WriteFile[] {
  const doc = parse(yaml) as { write_files?: WriteFile[] };
  return doc.write_files ?? [];
}

/** Decodes the role's write_files, with their modes, into `<work>/files/<label>/<path>`; returns that root. */
function materialize(r: Role, label = r.name): string {
  const root = path.join(work, "files", label);
  removeDir(root);
  for (const f of writeFiles(r.yaml)) {
    expect(f.encoding).toBe("b64");
    writeFile(root, f.path, Buffer.from(f.content, "base64"), parseInt(f.permissions, 8));
  }
  return root;
}

/** A copy of a config folder with `file`'s JSON edited, for the negative controls. */
function brokenCopy(dir: string, file: string, label: string, edit: (json: Record<string, unknown>) => void): string {
  const copy = path.join(work, "broken", label);
  removeDir(copy);
  fs.cpSync(dir, copy, { recursive: true });
  const json = JSON.parse(fs.readFileSync(path.join(copy, file), "utf8")) as Record<string, unknown>;
  edit(json);
  fs.writeFileSync(path.join(copy, file), JSON.stringify(json, null, 2));
  return copy;
}

/** Loads a YAML file with PyYAML's safe_load and prints it as JSON (non-JSON values are tagged). */
const PYYAML_TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout, default=lambda o: {'not-json': repr(o)})";

/** The Python interpreter cloud-init runs with (its script's #! line). */
function cloudInitPython(): string {
  const script = requireTool("cloud-init");
  const shebang = fs.readFileSync(script, "utf8").split("\n")[0];
  const m = /^#!\s*(\S+)/.exec(shebang);
  if (!m) throw new Error(`${script} has no #! line: ${shebang}`);
  return m[1];
}

function cloudInitSchema(file: string) {
  return run("cloud-init", ["schema", "--config-file", file], { timeoutMs: 60_000 });
}

beforeAll(() => {
  requireTool("openssl");
  requireTool("wg");
  work = makeTempDir("real-cloud-init");
  ca = createCa(path.join(work, "ca"), `${DC} cluster CA`);

  const cluster: ClusterSettings = {
    datacenter: DC,
    region: REGION,
    serverAddresses: SERVERS,
    consulGossipKey: gossipKey(),
    nomadGossipKey: gossipKey(),
    wanJoin: PEER_SERVERS,
    nomadFederation: PEER_SERVERS.map((a) => `${a}:4648`),
  };
  const tokens = { consulAgent: randomUUID(), nomadConsul: randomUUID(), consulManagement: randomUUID(), nomadManagement: randomUUID() };
  const base = (vm: string): BaseInputs => ({
    hostname: `fleet-${DC}-${vm}`,
    adminUser: "ops",
    sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0vT9n1j0mCq0yXU2mN4x2mVtX9Jm5T3bC6s0F0b1Z alice@ops"],
  });
  /** A member as ConsulNomadCluster.member() makes it, with certificates issued by openssl. */
  const member = (vm: string, opts: { server?: boolean; ip?: string; nodeClass?: string; hostVolumes?: Record<string, string> } = {}): MemberInputs => {
    const kind = opts.server ? "server" : "client";
    const ips = opts.ip ? [opts.ip] : [];
    const agent: AgentSettings = {
      nodeName: `fleet-${DC}-${vm}`,
      address: opts.ip ?? PRIVATE_IP_TEMPLATE,
      server: opts.server ?? false,
      tls: issueCert(ca, { dnsNames: [`${kind}.${DC}.consul`, `${kind}.${REGION}.nomad`], ipAddresses: ips }),
      consulAgentToken: tokens.consulAgent,
      nomadConsulToken: tokens.nomadConsul,
      ...(opts.server ? { consulManagementToken: tokens.consulManagement } : {}),
      ...(opts.nodeClass ? { nodeClass: opts.nodeClass } : {}),
      ...(opts.hostVolumes ? { hostVolumes: opts.hostVolumes } : {}),
    };
    return { cluster, agent };
  };

  // The VPN gateway's interfaces, shaped as VpnGateway builds them (wg0 admins, wg1 site link).
  const gw = wgKeyPair();
  const admin = wgKeyPair();
  const otherSite = wgKeyPair();
  const vpn: Record<string, WireGuardInterface> = {
    wg0: { privateKey: gw.privateKey, address: "10.210.0.1/24", listenPort: 51820, peers: [{ name: "alice", publicKey: admin.publicKey, allowedIps: ["10.210.0.10/32"] }] },
    wg1: {
      privateKey: gw.privateKey,
      address: "10.210.0.1/32",
      listenPort: 51821,
      peers: [{ name: "backup", publicKey: otherSite.publicKey, allowedIps: ["10.20.0.0/16", "10.220.0.0/24"], endpoint: "203.0.113.20:51821", persistentKeepalive: 25 }],
    },
  };

  const add = (name: string, config: CloudConfig, o: { consulServer?: boolean; nomad?: boolean; ip?: string }) => {
    const kind = o.consulServer ? "server" : "client";
    roles.push({ name, config, yaml: config.render(), consulServer: o.consulServer ?? false, nomad: o.nomad ?? false, consulName: `${kind}.${DC}.consul`, nomadName: `${kind}.${REGION}.nomad`, ...(o.ip ? { ip: o.ip } : {}) });
  };
  add(
    "server-bootstrap",
    renderServer(base("server-1"), member("server-1", { server: true, ip: SERVERS[0] }), {
      agentPolicy: { ...CONSUL_AGENT_POLICY },
      dnsPolicy: { ...CONSUL_DNS_POLICY },
      nomadPolicy: { ...CONSUL_NOMAD_POLICY },
      nomadManagementToken: tokens.nomadManagement,
    }),
    { consulServer: true, nomad: true, ip: SERVERS[0] },
  );
  add("server", renderServer(base("server-2"), member("server-2", { server: true, ip: SERVERS[1] })), { consulServer: true, nomad: true, ip: SERVERS[1] });
  add("client-volume", renderClient(base("client-1"), member("client-1", { nodeClass: "production", hostVolumes: HOST_VOLUMES }), VOLUME_DEVICE), { nomad: true });
  add("client", renderClient(base("ingress-1"), member("ingress-1", { nodeClass: "ingress" })), { nomad: true });
  add("bastion", renderBastion(base("bastion-1"), member("bastion-1")), {});
  add("vpn-gateway", renderVpnGateway(base("vpn-1"), member("vpn-1"), vpn), {});
  add("development", renderDevelopment(base("dev-fleet"), member("dev-fleet")), {});
});

afterAll(() => removeDir(work));

const ROLE_NAMES = ["server-bootstrap", "server", "client-volume", "client", "bastion", "vpn-gateway", "development"] as const;
const NOMAD_ROLES = ["server-bootstrap", "server", "client-volume", "client"] as const;

describe("user data is a valid #cloud-config", () => {
  test.each(ROLE_NAMES)("%s: cloud-init schema accepts it", (name) => {
    requireTool("cloud-init");
    const r = role(name);
    expect(r.yaml.startsWith("#cloud-config\n")).toBe(true);
    const file = writeFile(work, `user-data/${name}.yaml`, r.yaml);
    const res = cloudInitSchema(file);
    expect({ status: res.status, out: res.output }).toEqual({ status: 0, out: expect.stringContaining(`Valid cloud-config: ${file}`) });
    expect(res.output).not.toMatch(/schema errors|deprecat/i);
  });

  test.each(ROLE_NAMES)("%s: every write_files entry is base64 of the file's content", (name) => {
    const r = role(name);
    const files = writeFiles(r.yaml);
    expect(files.map((f) => f.path).sort()).toEqual([...r.config.filePaths].sort());
    for (const f of files) {
      expect(f.encoding).toBe("b64");
      expect(Buffer.from(f.content, "base64").toString("utf8")).toBe(r.config.fileContent(f.path));
    }
  });

  test.each(ROLE_NAMES)("%s: stays under OpenStack's user-data limit once base64-encoded", (name) => {
    const r = role(name);
    const encoded = Buffer.from(r.yaml, "utf8").toString("base64").length;
    expect(encoded).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
    // Without tokens the synth-time estimate is the exact size.
    expect(r.config.estimatedEncodedBytes()).toBe(encoded);
  });

  // The document is written by a YAML 1.2 library; cloud-init reads it with PyYAML (YAML 1.1),
  // where unquoted yes/no/on/off are booleans and 10:20 is a number. Load it with cloud-init's
  // own interpreter and YAML library and compare with the intended object.
  test.each(ROLE_NAMES)("%s: cloud-init's YAML parser reads back exactly the intended document", (name) => {
    const python = cloudInitPython();
    const r = role(name);
    const file = writeFile(work, `user-data/${name}.yaml`, r.yaml);
    const res = runOk(python, ["-c", PYYAML_TO_JSON, file]);
    expect(JSON.parse(res.stdout)).toEqual(r.config.toObject());
  });

  test("negative control: PyYAML reads an unquoted yes as a boolean", () => {
    const file = writeFile(work, "user-data/yaml11.yaml", "#cloud-config\nhostname: yes\n");
    expect(JSON.parse(runOk(cloudInitPython(), ["-c", PYYAML_TO_JSON, file]).stdout)).toEqual({ hostname: true });
  });

  // cloud-init 22.4 accepts unknown top-level keys (modules it does not know are ignored), so the
  // controls break the type of keys it does know.
  test.each([
    ["packages is not a list", (doc: Record<string, any>) => (doc.packages = 42), /packages: 42 is not of type 'array'/],
    ["a write_files encoding that does not exist", (doc: Record<string, any>) => (doc.write_files[0].encoding = "b65"), /write_files\.0\.encoding: 'b65' is not one of/],
    ["a file mode given as a number", (doc: Record<string, any>) => (doc.write_files[0].permissions = 644), /write_files\.0\.permissions: 644 is not of type 'string'/],
    // ("maybe", not "yes": cloud-init reads YAML 1.1, where an unquoted yes is a boolean.)
    ["defer that is not a boolean", (doc: Record<string, any>) => (doc.write_files.find((f: WriteFile) => f.defer).defer = "maybe"), /defer: 'maybe' is not of type 'boolean'/],
  ])("negative control: cloud-init schema rejects %s", (label, edit, message) => {
    requireTool("cloud-init");
    const doc = parse(role("server-bootstrap").yaml) as Record<string, any>;
    edit(doc);
    const file = writeFile(work, `user-data/broken-${label.replace(/\W+/g, "-")}.yaml`, `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`);
    const res = cloudInitSchema(file);
    expect(res.status).not.toBe(0);
    expect(res.output).toMatch(message);
  });
});

describe("Consul agent configuration", () => {
  // `consul validate` (1.22) checks the configuration but does not open the TLS files: it passes
  // with ca_file pointing at a missing or garbage file. So the paths are left as the VMs have
  // them (/etc/platform/tls/*.pem) and the PEM files decoded from the user data are checked
  // with openssl below.
  test.each(ROLE_NAMES)("%s: consul validate accepts /etc/consul.d", (name) => {
    requireTool("consul");
    const dir = path.join(materialize(role(name)), "etc/consul.d");
    expect(fs.readdirSync(dir).sort()).toEqual(["consul.json", "node-exporter.json"]);
    const res = run("consul", ["validate", dir]);
    expect({ status: res.status, out: res.output }).toEqual({ status: 0, out: expect.stringContaining("Configuration is valid!") });
  });

  test.each([
    ["bootstrap_expect is not a number", (c: Record<string, unknown>) => (c.bootstrap_expect = "x"), /'bootstrap_expect' expected type 'int'/],
    ["an unknown key", (c: Record<string, unknown>) => (c.no_such_key = true), /invalid config key no_such_key/],
    ["a gossip key that is not base64", (c: Record<string, unknown>) => (c.encrypt = "not-a-key!"), /encrypt has invalid key/],
  ])("negative control: consul validate rejects %s", (label, edit, message) => {
    requireTool("consul");
    const dir = path.join(materialize(role("server-bootstrap")), "etc/consul.d");
    const broken = brokenCopy(dir, "consul.json", `consul-${label.replace(/\W+/g, "-")}`, edit);
    const res = run("consul", ["validate", broken]);
    expect(res.status).not.toBe(0);
    expect(res.output).toMatch(message);
  });

  test.each(ROLE_NAMES)("%s: the Consul TLS files are a key and a certificate the CA signed for the agent", (name) => {
    requireTool("openssl");
    const r = role(name);
    verifyTls(path.join(materialize(r), "etc/platform/tls"), r.consulName, r.ip);
  });
});

describe("Nomad agent configuration", () => {
  // `nomad config validate` (1.11) reads the TLS files (for their checksums) and warns, with
  // exit 0, when it cannot open one. Their paths are absolute (/etc/platform/tls/*.pem), so the
  // check runs on a copy of nomad.json with /etc/nomad.d/, /etc/consul.d/ and /etc/platform/tls/ rewritten to the
  // temporary tree the user data was decoded into: the files it opens are the decoded ones.
  function validateCopy(root: string, label: string, edit?: (json: Record<string, any>) => void): string {
    const text = fs
      .readFileSync(path.join(root, "etc/nomad.d/nomad.json"), "utf8")
      .replaceAll(`"${PATHS.nomadConfigDir}/`, `"${root}${PATHS.nomadConfigDir}/`)
      .replaceAll(`"${PATHS.consulConfigDir}/`, `"${root}${PATHS.consulConfigDir}/`)
      .replaceAll(`"${PATHS.tlsDir}/`, `"${root}${PATHS.tlsDir}/`);
    const json = JSON.parse(text) as Record<string, any>;
    edit?.(json);
    const dir = path.join(work, "nomad-validate", label);
    removeDir(dir);
    writeFile(dir, "nomad.json", JSON.stringify(json, null, 2));
    return dir;
  }
  const TLS_WARNING = /Error when parsing TLS configuration/;

  test.each(NOMAD_ROLES)("%s: nomad config validate accepts /etc/nomad.d", (name) => {
    requireTool("nomad");
    const root = materialize(role(name));
    expect(fs.readdirSync(path.join(root, "etc/nomad.d")).sort()).toEqual(["nomad.json"]);
    const copy = validateCopy(root, name);
    expect(fs.readFileSync(path.join(copy, "nomad.json"), "utf8")).toContain(`"${root}/etc/platform/tls/agent-key.pem"`);
    const res = run("nomad", ["config", "validate", copy]);
    expect({ status: res.status, out: res.output }).toEqual({ status: 0, out: expect.stringContaining("Configuration is valid!") });
    expect(res.output).not.toMatch(/WARNING|error/i);
  });

  test.each([
    ["bootstrap_expect is not a number", (c: Record<string, any>) => (c.server.bootstrap_expect = "x"), /parsing "x": invalid syntax/],
    ["an unknown key", (c: Record<string, any>) => (c.no_such_key = true), /unexpected keys no_such_key/],
    ["an unknown key in the server block", (c: Record<string, any>) => (c.server.no_such_key = true), /server unexpected keys no_such_key/],
    ["a gossip key that is not base64", (c: Record<string, any>) => (c.server.encrypt = "not-a-key!"), /Invalid encryption key/],
  ])("negative control: nomad config validate rejects %s", (label, edit, message) => {
    requireTool("nomad");
    const copy = validateCopy(materialize(role("server-bootstrap")), `broken-${label.replace(/\W+/g, "-")}`, edit);
    const res = run("nomad", ["config", "validate", copy]);
    expect(res.status).not.toBe(0);
    expect(res.output).toMatch(message);
  });

  test("negative control: nomad config validate warns when a TLS file cannot be read", () => {
    requireTool("nomad");
    const root = materialize(role("client"), "client-without-key");
    fs.rmSync(path.join(root, "etc/platform/tls/agent-key.pem"));
    const res = run("nomad", ["config", "validate", validateCopy(root, "missing-key")]);
    expect(res.output).toMatch(TLS_WARNING);
    expect(res.output).toContain(`${root}/etc/platform/tls/agent-key.pem`);
  });

  test.each(NOMAD_ROLES)("%s: the Nomad TLS files are a key and a certificate the CA signed for the agent", (name) => {
    requireTool("openssl");
    const r = role(name);
    verifyTls(path.join(materialize(r), "etc/platform/tls"), r.nomadName, r.ip);
  });
});

describe("bootstrap script", () => {
  test("parses with /bin/sh (dash, as on Debian)", () => {
    requireTool("dash");
    const script = path.join(materialize(role("server-bootstrap")), "usr/local/sbin/platform-bootstrap");
    expect(fs.statSync(script).mode & 0o777).toBe(0o700);
    runOk("dash", ["-n", script]);
  });

  test("negative control: dash -n rejects a script with an unclosed quote", () => {
    requireTool("dash");
    const script = writeFile(work, "broken/bootstrap.sh", 'echo "unclosed\n');
    expect(run("dash", ["-n", script]).status).not.toBe(0);
  });
});

/** The agent's TLS files: the chain verifies for the agent's name (and IP), and the key is the certificate's. */
function verifyTls(dir: string, dnsName: string, ip?: string): void {
  const ca = path.join(dir, "ca.pem");
  const cert = path.join(dir, "agent.pem");
  const key = path.join(dir, "agent-key.pem");
  expect(fs.statSync(key).mode & 0o777).toBe(0o640);
  const verify = run("openssl", ["verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_hostname", dnsName, ...(ip ? ["-verify_ip", ip] : []), cert]);
  expect({ status: verify.status, out: verify.output.trim() }).toEqual({ status: 0, out: `${cert}: OK` });
  const asClient = run("openssl", ["verify", "-CAfile", ca, "-purpose", "sslclient", "-verify_hostname", "localhost", "-verify_ip", "127.0.0.1", cert]);
  expect(asClient.status).toBe(0);
  const fromKey = runOk("openssl", ["pkey", "-in", key, "-pubout"]).stdout;
  const fromCert = runOk("openssl", ["x509", "-in", cert, "-noout", "-pubkey"]).stdout;
  expect(fromKey).toBe(fromCert);
  // Negative control: the same certificate does not verify for another agent's name.
  const wrong = run("openssl", ["verify", "-CAfile", ca, "-verify_hostname", "server.elsewhere.consul", cert]);
  expect(wrong.status).not.toBe(0);
}
