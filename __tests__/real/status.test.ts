/**
 * Real tier of `npm run status -- <site>`: the command itself (scripts/status.ts, as npm runs it)
 * against real Consul and Nomad agents standing for every VM of a synthesized site, reading the
 * site's infra outputs with the real `terraform output -json`.
 *
 * - The site is config/examples/lab.yaml's: three servers, two production clients, an ingress,
 *   the bastion and the VPN gateway. The test synthesizes it into a temporary folder and reads
 *   from the synthesized infra stack what status will expect: the servers' addresses and the
 *   cluster_members output (every Consul member, every Nomad client and its node class).
 * - Every agent runs inside a network namespace the test creates, at the servers' fixed
 *   addresses and at addresses the test chooses for the other members (DHCP gives theirs in a
 *   deployment): TLS on every API with a CA the test makes (the certificates name the servers'
 *   addresses, as the infra stack's do), gossip encryption, ACLs at default deny with the initial
 *   management token, Nomad's ACLs bootstrapped with `nomad acl bootstrap <file>` as the first
 *   server's cloud-init does. Status and Terraform run inside the namespace too: nothing dials a
 *   deployment address on the host's network.
 * - The infra stack's state is what an applied infra stack leaves (outputs only): the outputs the
 *   synthesized stack holds as literals, and the CA and the management tokens the test made.
 *
 * Steps: a stack never initialized, then one never deployed (one line each, exit 2); no agent
 * running, one server silent (each server named, bounded time); every agent up but a declared
 * member absent and Nomad's ACLs not bootstrapped (those checks fail, the others pass); ready
 * (exit 0); a wrong token; an ineligible client; one server down (ready: a quorum); two down.
 *
 * Runs only with REAL_TESTS=1, as root. A missing tool fails the suite.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ClusterMembersOutput } from "../../ops/infra-outputs";
import { STATUS_CHECK_NAMES } from "../helpers";
import { AgentProcess, createCa, describeRun, gossipKey, issueCert, makeTempDir, removeDir, requireRoot, requireTool, ROOT, run, RunResult, runOk, sleep, TestCa, TestNetns, writeFile } from "./real-helpers";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SITE = "lab";
const DEPLOYMENT = path.join(ROOT, "config", "examples", "lab.yaml");
const CHECKS = [...STATUS_CHECK_NAMES];

/** What one run of `npm run status -- lab` printed, by check. */
interface StatusRun {
  readonly result: RunResult;
  readonly checks: Record<string, { passed: boolean; detail: string }>;
  readonly failed: string[];
  readonly verdict: string;
}

/** A VM of the site as the test runs it: its agents. */
interface Vm {
  readonly name: string;
  readonly address: string;
  readonly server: boolean;
  readonly nodeClass?: string;
  consul?: AgentProcess;
  nomad?: AgentProcess;
}

/** The cty type Terraform records in a state for an output's literal value. */
function ctyType(value: unknown): unknown {
  if (typeof value === "string") return "string";
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return ["tuple", value.map(ctyType)];
  if (value && typeof value === "object") return ["object", Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ctyType(v)]))];
  throw new Error(`no cty type for ${JSON.stringify(value)}`);
}

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

d("npm run status against real Consul and Nomad agents standing for every VM of the lab site", () => {
  let dir = "";
  let ns: TestNetns | undefined;
  let ca: TestCa;
  let stack: Json;
  let members: ClusterMembersOutput;
  let vms: Vm[] = [];
  const tokens = { consul: randomUUID(), nomad: randomUUID() };
  const keys = { consul: "", nomad: "" };
  const outdir = () => path.join(dir, "out");
  const stackDir = () => path.join(outdir(), "stacks", `${SITE}-infra`);
  const netns = () => ns as TestNetns;
  const servers = () => vms.filter((v) => v.server);

  /** `npm run status -- lab` inside the namespace: the command as npm runs it. */
  function status(env: Record<string, string> = {}): StatusRun {
    const result = netns().exec(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "status.ts"), SITE], { cwd: ROOT, env: { CDKTF_OUTDIR: outdir(), ...env }, timeoutMs: 120_000 });
    const checks: StatusRun["checks"] = {};
    for (const line of result.stdout.split("\n")) {
      const m = /^(passed|failed) {2}([^:]+): (.*)$/.exec(line);
      if (m) checks[m[2]] = { passed: m[1] === "passed", detail: m[3] };
    }
    const lines = result.stdout.trim().split("\n");
    return { result, checks, failed: Object.entries(checks).filter(([, c]) => !c.passed).map(([n]) => n), verdict: lines[lines.length - 1] ?? "" };
  }

  /** A status run, with everything it printed when an expectation fails. */
  function expectStatus(run: StatusRun, expected: { exit: number; failed: string[] }): void {
    expect({ exit: run.result.status, checks: Object.keys(run.checks), failed: run.failed, stderr: run.result.stderr }).toEqual({ exit: expected.exit, checks: CHECKS, failed: expected.failed, stderr: "" });
    // The tokens are never printed.
    expect(run.result.output).not.toContain(tokens.consul);
    expect(run.result.output).not.toContain(tokens.nomad);
  }

  /** A GET of an agent's API from inside the namespace (curl, with the test CA). */
  function api(url: string, token?: { header: string; value: string }, method = "GET", body?: unknown): { status: number; json: Json; text: string } {
    const args = ["-sS", "--max-time", "5", "--cacert", ca.certFile, "-X", method, "-w", "\n%{http_code}"];
    if (token) args.push("-H", `${token.header}: ${token.value}`);
    if (body !== undefined) args.push("--data", JSON.stringify(body));
    const r = netns().exec("curl", [...args, url], { timeoutMs: 15_000 });
    const lines = r.stdout.split("\n");
    const code = Number(lines.pop());
    const text = lines.join("\n");
    let json: Json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status === 0 ? code : 0, json, text: r.status === 0 ? text : r.stderr };
  }
  const consulToken = () => ({ header: "X-Consul-Token", value: tokens.consul });
  const nomadToken = () => ({ header: "X-Nomad-Token", value: tokens.nomad });
  const consulUrl = (v: Vm, route: string) => `https://${v.address}:8501${route}`;
  const nomadUrl = (v: Vm, route: string) => `https://${v.address}:4646${route}`;

  /** The state an applied infra stack leaves: its literal outputs, and the CA and tokens the test made. */
  function writeInfraState(overrides: { consulToken?: string } = {}): void {
    const backend = stack.terraform?.backend?.local;
    expect(backend).toEqual({ path: expect.any(String) });
    const outputs: Record<string, Json> = {};
    for (const [name, out] of Object.entries(stack.output as Record<string, Json>)) {
      if (!JSON.stringify(out.value).includes("${")) outputs[name] = { value: out.value, type: ctyType(out.value), ...(out.sensitive ? { sensitive: true } : {}) };
    }
    const computed: Record<string, string> = { ca_certificate: ca.certPem, consul_management_token: overrides.consulToken ?? tokens.consul, nomad_management_token: tokens.nomad };
    for (const [name, value] of Object.entries(computed)) {
      expect({ name, declared: name in stack.output }).toEqual({ name, declared: true });
      outputs[name] = { value, type: "string", ...(stack.output[name].sensitive ? { sensitive: true } : {}) };
    }
    const version = JSON.parse(runOk("terraform", ["version", "-json"]).stdout).terraform_version;
    fs.writeFileSync(path.resolve(stackDir(), backend.path), JSON.stringify({ version: 4, terraform_version: version, serial: 1, lineage: randomUUID(), outputs, resources: [], check_results: null }, null, 2));
  }

  /** A VM's TLS files, shared by its two agents: a certificate with the names the cluster gives its agents, and its address. */
  const tlsFiles = new Map<string, { ca_file: string; cert_file: string; key_file: string }>();
  function tlsOf(v: Vm): { ca_file: string; cert_file: string; key_file: string } {
    const made = tlsFiles.get(v.name);
    if (made) return made;
    const role = v.server ? "server" : "client";
    const cert = issueCert(ca, { dnsNames: [`${role}.${members.datacenter}.consul`, `${role}.${members.region}.nomad`], ipAddresses: [v.address] });
    const files = {
      ca_file: writeFile(dir, `${v.name}/pki/ca.pem`, cert.caPem),
      cert_file: writeFile(dir, `${v.name}/pki/agent.pem`, cert.certPem),
      key_file: writeFile(dir, `${v.name}/pki/agent-key.pem`, cert.keyPem, 0o600),
    };
    tlsFiles.set(v.name, files);
    return files;
  }

  /**
   * A VM's Consul agent, configured as cloud-init/agents.ts configures it in the points status
   * looks at: node name, the servers' retry_join and bootstrap_expect, TLS on the HTTPS API,
   * gossip encryption, ACLs at default deny with the initial management token on the servers.
   * The agent token is the management token: the test runs no bootstrap script.
   */
  function startConsul(v: Vm): void {
    const tls = tlsOf(v);
    const config = writeFile(
      dir,
      `${v.name}/consul.json`,
      JSON.stringify({
        datacenter: members.datacenter,
        primary_datacenter: members.datacenter,
        node_name: v.name,
        data_dir: path.join(dir, v.name, "consul-data"),
        server: v.server,
        ...(v.server ? { bootstrap_expect: servers().length } : {}),
        bind_addr: v.address,
        advertise_addr: v.address,
        client_addr: v.address,
        retry_join: servers().map((s) => s.address),
        encrypt: keys.consul,
        encrypt_verify_incoming: true,
        encrypt_verify_outgoing: true,
        ports: { http: -1, https: 8501, grpc: -1, grpc_tls: -1, dns: -1, ...(v.server ? {} : { serf_wan: -1 }) },
        tls: { defaults: { ...tls, verify_incoming: true, verify_outgoing: true }, internal_rpc: { verify_server_hostname: true }, https: { verify_incoming: false } },
        acl: { enabled: true, default_policy: "deny", down_policy: "extend-cache", tokens: { agent: tokens.consul, ...(v.server ? { initial_management: tokens.consul } : {}) } },
        leave_on_terminate: !v.server,
        disable_update_check: true,
      }),
    );
    const log = path.join(dir, v.name, "consul.log");
    v.consul = new AgentProcess(`consul ${v.name}`, netns().spawn(requireTool("consul"), ["agent", `-config-file=${config}`], log), log);
  }

  /** A VM's Nomad agent (servers and clients), configured as cloud-init/agents.ts does in the points status looks at. */
  function startNomad(v: Vm): void {
    const tls = tlsOf(v);
    const config = writeFile(
      dir,
      `${v.name}/nomad.json`,
      JSON.stringify({
        region: members.region,
        datacenter: members.datacenter,
        name: v.name,
        data_dir: path.join(dir, v.name, "nomad-data"),
        bind_addr: v.address,
        advertise: { http: v.address, rpc: v.address, serf: v.address },
        ports: { http: 4646, rpc: 4647, serf: 4648 },
        ...(v.server
          ? { server: { enabled: true, bootstrap_expect: servers().length, encrypt: keys.nomad, server_join: { retry_join: servers().map((s) => `${s.address}:4648`) } } }
          : {
              client: {
                enabled: true,
                node_class: v.nodeClass,
                server_join: { retry_join: servers().map((s) => `${s.address}:4647`) },
                network_interface: "lo",
                options: { "fingerprint.denylist": "env_aws,env_gce,env_azure,env_digitalocean" },
              },
            }),
        acl: { enabled: true },
        tls: { http: true, rpc: true, ...tls, verify_server_hostname: true, verify_https_client: false },
        // No Consul integration: nothing here looks at it.
        consul: { address: "127.0.0.1:1", auto_advertise: false, server_auto_join: false, client_auto_join: false },
        leave_on_terminate: !v.server,
        disable_update_check: true,
      }),
    );
    const log = path.join(dir, v.name, "nomad.log");
    v.nomad = new AgentProcess(`nomad ${v.name}`, netns().spawn(requireTool("nomad"), ["agent", `-config=${config}`], log), log);
  }

  /** Waits until every server of a kind names the same leader. */
  async function leaderElected(kind: "consul" | "nomad"): Promise<string> {
    let leader = "";
    const first = servers()[0];
    await (kind === "consul" ? first.consul : first.nomad)!.waitUntil(`${kind} servers did not elect a leader`, async () => {
      const said = servers().map((s) => api(kind === "consul" ? consulUrl(s, "/v1/status/leader") : nomadUrl(s, "/v1/status/leader")).json);
      leader = typeof said[0] === "string" ? said[0] : "";
      return (leader !== "" && said.every((x) => x === leader)) || `leaders: ${JSON.stringify(said)}`;
    }, 120_000);
    return leader;
  }

  /** Waits until Consul (as the first answering server sees it) has exactly `alive` of the declared members alive. */
  async function consulMembersAlive(alive: readonly string[], from: Vm = servers()[0]): Promise<void> {
    await from.consul!.waitUntil(`Consul members alive were not ${alive.join(", ")}`, async () => {
      const res = api(consulUrl(from, "/v1/agent/members"), consulToken());
      if (res.status !== 200) return `members: ${res.status} ${res.text}`;
      const now = (res.json as Json[]).filter((m) => m.Status === 1).map((m) => m.Name).sort();
      return JSON.stringify(now) === JSON.stringify([...alive].sort()) || `alive: ${now.join(", ")}`;
    }, 120_000);
  }

  /** Waits until every declared Nomad client is ready and eligible. */
  async function nomadClientsReady(): Promise<void> {
    await servers()[0].nomad!.waitUntil("the Nomad clients did not become ready and eligible", async () => {
      const res = api(nomadUrl(servers()[0], "/v1/nodes"), nomadToken());
      if (res.status !== 200) return `nodes: ${res.status} ${res.text}`;
      const ready = (res.json as Json[]).filter((n) => n.Status === "ready" && n.SchedulingEligibility === "eligible").map((n) => n.Name);
      return members.nomad_clients.every((c) => ready.includes(c.name)) || `ready: ${ready.join(", ")}`;
    }, 120_000);
  }

  beforeAll(async () => {
    requireRoot("the status real test (a network namespace)");
    for (const tool of ["terraform", "consul", "nomad", "openssl", "ip", "curl"]) requireTool(tool);
    dir = makeTempDir("status-real");
    const synth = run(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { CDKTF_OUTDIR: outdir(), DEPLOYMENT_CONFIG: DEPLOYMENT }, timeoutMs: 180_000 });
    if (synth.status !== 0) throw new Error(`synth failed:\n${describeRun(synth)}`);
    stack = JSON.parse(fs.readFileSync(path.join(stackDir(), "cdk.tf.json"), "utf8"));
    members = stack.output.cluster_members.value;
    // What status dials: the servers' fixed addresses, literal in the stack.
    expect(stack.output.consul_servers.value).toEqual(members.servers.map((s) => `https://${s.address}:8501`));
    expect(stack.output.nomad_servers.value).toEqual(members.servers.map((s) => `https://${s.address}:4646`));
    const classOf = new Map(members.nomad_clients.map((c) => [c.name, c.node_class]));
    const serverNames = new Set(members.servers.map((s) => s.name));
    // The other members' addresses: chosen by the test, beside the servers' (DHCP in a deployment).
    const prefix = members.servers[0].address.split(".").slice(0, 3).join(".");
    let next = 100;
    vms = members.consul_members.map((name) => {
      const server = members.servers.find((s) => s.name === name);
      return { name, address: server ? server.address : `${prefix}.${next++}`, server: serverNames.has(name), ...(classOf.has(name) ? { nodeClass: classOf.get(name) } : {}) };
    });
    expect(vms.filter((v) => v.nodeClass).map((v) => v.name)).toEqual(members.nomad_clients.map((c) => c.name));
    ns = TestNetns.create("status", vms.map((v) => v.address));
    ca = createCa(path.join(dir, "pki"), "status test CA");
    keys.consul = gossipKey();
    keys.nomad = gossipKey();
  }, 300_000);

  afterAll(async () => {
    await ns?.destroy();
    removeDir(dir);
  }, 120_000);

  test("fails, in one line and exit 2, on an infra stack Terraform was never initialized in: says to deploy it", () => {
    const r = status();
    expect({ exit: r.result.status, stdout: r.result.stdout, stderr: r.result.stderr }).toEqual({
      exit: 2,
      stdout: "",
      stderr: `status: site lab: lab-infra is not initialized in ${stackDir()}: deploy it with \`npm run deploy -- lab-infra\`, or, if it was deployed from another working copy to a shared backend, run \`terraform -chdir=${stackDir()} init\` and run the status again\n`,
    });
  });

  test("fails, in one line and exit 2, on an infra stack initialized but never deployed (no state, no outputs)", () => {
    const init = netns().exec("terraform", [`-chdir=${stackDir()}`, "init", "-input=false", "-no-color"], { env: { TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" }, timeoutMs: 300_000 });
    if (init.status !== 0) throw new Error(`terraform init failed:\n${describeRun(init)}`);
    const r = status();
    expect({ exit: r.result.status, stdout: r.result.stdout, stderr: r.result.stderr }).toEqual({
      exit: 2,
      stdout: "",
      stderr: "status: site lab: lab-infra has no outputs: it has not been deployed (or its state is elsewhere): deploy it with `npm run deploy -- lab-infra`, then run the status again\n",
    });
  });

  test("with no agent running, and one server's ports silent: every check fails, each server named with what happened, in bounded time", async () => {
    writeInfraState();
    // Server 3's API ports accept connections and never answer (a hung VM).
    const silent = servers()[2];
    const script = `const net = require("node:net"); let n = 0; for (const p of [8501, 4646]) net.createServer(() => {}).listen(p, ${JSON.stringify(silent.address)}, () => { if (++n === 2) console.log("listening"); });`;
    const log = path.join(dir, "silent.log");
    const hung = new AgentProcess("silent server", netns().spawn(process.execPath, ["-e", script], log), log);
    try {
      await hung.waitUntil("the silent listener did not start", async () => hung.log().includes("listening") || "not yet", 10_000);
      const t0 = Date.now();
      const r = status({ STATUS_TIMEOUT_MS: "2000" });
      const took = Date.now() - t0;
      expectStatus(r, { exit: 1, failed: CHECKS });
      const [s1, s2] = servers();
      expect(r.checks["Consul servers answer"].detail).toBe(
        `0 of 3, fewer than a quorum of 2; no answer from ${s1.name} at https://${s1.address}:8501: connection refused (is the agent running?); ` +
          `${s2.name} at https://${s2.address}:8501: connection refused (is the agent running?); ` +
          `${silent.name} at https://${silent.address}:8501: no answer within 2 s: connect to the site's VPN (wg-quick up with the wireguard_<peer> output of lab-infra) and check that the servers run`,
      );
      expect(r.checks["Nomad servers answer"].detail).toContain(`${silent.name} at https://${silent.address}:4646: no answer within 2 s`);
      expect(r.checks["Nomad clients"].detail).toBe("no Nomad server answered");
      expect(r.verdict).toBe(`lab: not ready for lab-platform: 10 of 10 checks failed (${CHECKS.join(", ")})`);
      // 24 requests at once: about one timeout, not one per request (plus node and terraform starting).
      expect(took).toBeLessThan(20_000);
    } finally {
      await hung.stop();
    }
  });

  test("every agent up but a declared member absent (the bastion's) and Nomad's ACLs not bootstrapped: exactly those checks fail, naming what is missing", async () => {
    const absent = vms.find((v) => !v.server && !v.nodeClass) as Vm;
    for (const v of vms) if (v !== absent) startConsul(v);
    for (const v of vms) if (v.server || v.nodeClass) startNomad(v);
    await leaderElected("consul");
    await consulMembersAlive(vms.filter((v) => v !== absent).map((v) => v.name));
    await leaderElected("nomad");

    const r = status();
    expectStatus(r, { exit: 1, failed: ["Consul members", "Nomad ACL bootstrap", "Nomad clients"] });
    expect(r.checks["Consul members"].detail).toMatch(new RegExp(`^${vms.length - 1} of ${vms.length} declared members alive \\(as .+ sees them\\); missing: ${absent.name} \\(not joined\\); check those VMs run`));
    expect(r.checks["Nomad ACL bootstrap"].detail).toMatch(new RegExp(`^refused by ${servers()[0].name}: HTTP 403: Permission denied;`));
    expect(r.checks["Nomad ACL bootstrap"].detail).toContain("the first server bootstraps Nomad's ACLs with it once Nomad has a leader");
    expect(r.checks["Nomad clients"].detail).toMatch(/^could not list the nodes: .*HTTP 403.* \(see Nomad ACL bootstrap\)$/);
    expect(r.checks["Consul leader"].detail).toMatch(/ at \d+\.\d+\.\d+\.\d+:8300, as all 3 answering servers say$/);
    expect(r.verdict).toBe("lab: not ready for lab-platform: 3 of 10 checks failed (Consul members, Nomad ACL bootstrap, Nomad clients)");
  });

  test("every member joined and Nomad's ACLs bootstrapped with the infra outputs' token: every check passes, exit 0", async () => {
    const absent = vms.find((v) => !v.server && !v.nodeClass) as Vm;
    startConsul(absent);
    // As the first server's cloud-init does: `nomad acl bootstrap <file>` with Terraform's secret.
    const tokenFile = writeFile(dir, "nomad-management.token", `${tokens.nomad}\n`, 0o600);
    const first = servers()[0];
    await first.nomad!.waitUntil("nomad acl bootstrap failed", async () => {
      const r = netns().exec("nomad", ["acl", "bootstrap", tokenFile], { env: { NOMAD_ADDR: nomadUrl(first, ""), NOMAD_CACERT: ca.certFile }, timeoutMs: 30_000 });
      return (r.status === 0 && r.stdout.includes(tokens.nomad)) || describeRun(r);
    });
    await consulMembersAlive(vms.map((v) => v.name));
    await nomadClientsReady();

    const r = status();
    expectStatus(r, { exit: 0, failed: [] });
    expect(r.verdict).toBe("lab: ready for lab-platform: 10 of 10 checks passed");
    expect(r.checks["Consul members"].detail).toMatch(new RegExp(`^${vms.length} of ${vms.length} declared members alive \\(as ${first.name} sees them\\)$`));
    const classes = [...new Set(members.nomad_clients.map((c) => c.node_class))].map((c) => `${c}: ${members.nomad_clients.filter((x) => x.node_class === c).length}`).join(", ");
    expect(r.checks["Nomad clients"].detail).toBe(`${members.nomad_clients.length} of ${members.nomad_clients.length} declared clients ready and eligible in their node class (${classes}; as ${first.name} lists them)`);
    expect(r.checks["Consul ACL bootstrap"].detail).toBe("the management token of lab-infra's outputs is accepted by all 3 answering servers, with global-management");
    expect(r.checks["Nomad Raft peers"].detail).toBe(`3 of 3 declared servers are peers (as ${first.name} lists them)`);
  });

  test("a Consul management token that is not this cluster's: the ACL check fails, naming each server's refusal, and the members cannot be listed", () => {
    writeInfraState({ consulToken: randomUUID() });
    try {
      const r = status();
      expectStatus(r, { exit: 1, failed: ["Consul ACL bootstrap", "Consul members"] });
      for (const s of servers()) expect(r.checks["Consul ACL bootstrap"].detail).toMatch(new RegExp(`refused by ${s.name}: HTTP 403: (rpc error making call: )?token does not exist: ACL not found[;:]`));
      expect(r.checks["Consul members"].detail).toMatch(/^could not list the members: .*HTTP 403.*\(see Consul ACL bootstrap\)$/);
    } finally {
      writeInfraState();
    }
  });

  test("a Nomad client made ineligible: the clients check fails, naming it", async () => {
    const target = vms.filter((v) => v.nodeClass)[1];
    const nodes = api(nomadUrl(servers()[0], "/v1/nodes"), nomadToken()).json as Json[];
    const id = nodes.find((n) => n.Name === target.name).ID;
    const set = (eligibility: string) => expect(api(nomadUrl(servers()[0], `/v1/node/${id}/eligibility`), nomadToken(), "PUT", { NodeID: id, Eligibility: eligibility }).status).toBe(200);
    set("ineligible");
    try {
      const r = status();
      expectStatus(r, { exit: 1, failed: ["Nomad clients"] });
      expect(r.checks["Nomad clients"].detail).toContain(`not ready: ${target.name} (ineligible); check those VMs run`);
    } finally {
      set("eligible");
    }
    await nomadClientsReady();
  });

  test("one server down (a follower of both clusters): it is named in every server check, and the site is ready on the quorum left, exit 0", async () => {
    const leaders = [await leaderElected("consul"), await leaderElected("nomad")].map((l) => l.split(":")[0]);
    const down = servers().find((s) => !leaders.includes(s.address)) as Vm;
    await down.nomad!.stop();
    await down.consul!.stop();
    const up = servers().filter((s) => s !== down);
    await consulMembersAlive(vms.filter((v) => v !== down).map((v) => v.name), up[0]);

    const r = status();
    expectStatus(r, { exit: 0, failed: [] });
    expect(r.checks["Consul servers answer"].detail).toBe(`2 of 3, a quorum; no answer from ${down.name} at https://${down.address}:8501: connection refused (is the agent running?)`);
    expect(r.checks["Nomad servers answer"].detail).toBe(`2 of 3, a quorum; no answer from ${down.name} at https://${down.address}:4646: connection refused (is the agent running?)`);
    expect(r.checks["Consul members"].detail).toMatch(new RegExp(`servers down, a quorum left: ${down.name} \\((failed|left)\\)$`));
    expect(r.checks["Consul leader"].detail).toMatch(/, as both answering servers say$/);
    expect(r.verdict).toBe("lab: ready for lab-platform: 10 of 10 checks passed");
  });

  test("a second server down: fewer than a quorum answer, the site is not ready, exit 1", async () => {
    const remaining = servers().filter((s) => s.consul!.exited === undefined);
    expect(remaining).toHaveLength(2);
    await remaining[1].nomad!.stop();
    await remaining[1].consul!.stop();
    await sleep(1000);
    const r = status();
    expect(r.result.status).toBe(1);
    expect(r.failed).toEqual(expect.arrayContaining(["Consul servers answer", "Nomad servers answer"]));
    expect(r.checks["Consul servers answer"].detail).toMatch(/^1 of 3, fewer than a quorum of 2; no answer from /);
    expect(r.verdict).toMatch(/^lab: not ready for lab-platform: \d+ of 10 checks failed \(Consul servers answer, /);
  });
});
