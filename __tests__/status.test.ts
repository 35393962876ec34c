/**
 * npm run status: the infra outputs it reads (and the errors when they are not there), the
 * checks it makes of what the servers answered, what it prints, and the cluster_members output
 * the infra stack writes for it. The real agents answer in __tests__/real/status.test.ts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Testing } from "cdktf";
import { ClusterMembersOutput, infraStackDir, InfraOutputs, parseInfraOutputs, StatusInputError, terraformOutputFailure } from "../ops/infra-outputs";
import { Answer, CheckResult, Observations, quorumOf, redact, reportLines, ServerAnswers, statusChecks } from "../ops/status";
import { buildDeployment } from "../stacks/deployment";
import { defaultDeployment, ROOT, STATUS_CHECK_NAMES } from "./helpers";

// ---------------------------------------------------------------------------------------------
// Fixtures: a site of three servers, two production clients, one ingress, a bastion and a VPN gateway

const CONSUL_TOKEN = "c0ffee00-1111-2222-3333-444455556666";
const NOMAD_TOKEN = "d00d0000-7777-8888-9999-aaaabbbbcccc";
const SERVERS = [
  { name: "lab-lab-server-1", address: "10.30.1.10" },
  { name: "lab-lab-server-2", address: "10.30.1.11" },
  { name: "lab-lab-server-3", address: "10.30.1.12" },
];
const MEMBERS: ClusterMembersOutput = {
  datacenter: "lab",
  region: "lab",
  servers: SERVERS,
  consul_members: [...SERVERS.map((s) => s.name), "lab-lab-client-1", "lab-lab-client-2", "lab-lab-ingress-1", "lab-lab-bastion-1", "lab-lab-vpn-1"],
  nomad_clients: [
    { name: "lab-lab-client-1", node_class: "production" },
    { name: "lab-lab-client-2", node_class: "production" },
    { name: "lab-lab-ingress-1", node_class: "ingress" },
  ],
};
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** `terraform output -json` of lab-infra after its deploy (the outputs status reads, and one it does not). */
function terraformOutput(edit: (o: Record<string, { value: unknown; sensitive?: boolean; type?: unknown }>) => void = () => {}): string {
  const o: Record<string, { value: unknown; sensitive?: boolean; type?: unknown }> = {
    bastion_address: { value: "203.0.113.7", type: "string" },
    consul_servers: { value: SERVERS.map((s) => `https://${s.address}:8501`), type: ["list", "string"] },
    nomad_servers: { value: SERVERS.map((s) => `https://${s.address}:4646`), type: ["list", "string"] },
    ca_certificate: { value: CA, type: "string" },
    consul_management_token: { value: CONSUL_TOKEN, sensitive: true, type: "string" },
    nomad_management_token: { value: NOMAD_TOKEN, sensitive: true, type: "string" },
    cluster_members: { value: MEMBERS, type: "object" },
  };
  edit(o);
  return JSON.stringify(o);
}

const OUTPUTS: InfraOutputs = parseInfraOutputs("lab", terraformOutput());

const answer = (json: unknown, status = 200): Answer => ({ ok: true, status, text: typeof json === "string" ? JSON.stringify(json) : JSON.stringify(json), json });
const plain = (status: number, text: string): Answer => ({ ok: true, status, text, json: undefined });
const noAnswer: Answer = { ok: false, error: "connection refused (is the agent running?)" };

interface SiteState {
  consulLeader: string;
  nomadLeader: string;
  consulPeers: string[];
  nomadPeers: string[];
  consulMembers: { Name: string; Status: number }[];
  nomadNodes: { Name: string; NodeClass: string; Status: string; SchedulingEligibility: string; Drain: boolean }[];
  /** Servers (by index) whose APIs do not answer at all. */
  silent: number[];
  consulTokenSelf: Answer;
  nomadTokenSelf: Answer;
}

function readySite(): SiteState {
  return {
    consulLeader: "10.30.1.10:8300",
    nomadLeader: "10.30.1.10:4647",
    consulPeers: SERVERS.map((s) => `${s.address}:8300`),
    nomadPeers: SERVERS.map((s) => `${s.address}:4647`),
    consulMembers: MEMBERS.consul_members.map((Name) => ({ Name, Addr: "10.30.2.5", Status: 1 })),
    nomadNodes: MEMBERS.nomad_clients.map((c) => ({ ID: `id-${c.name}`, Name: c.name, NodeClass: c.node_class, Status: "ready", SchedulingEligibility: "eligible", Drain: false })),
    silent: [],
    consulTokenSelf: answer({ AccessorID: "a", Policies: [{ ID: "00000000-0000-0000-0000-000000000001", Name: "global-management" }] }),
    nomadTokenSelf: answer({ AccessorID: "b", Type: "management" }),
  };
}

/** What every server answers for `state`: the observations ops/probe.ts would make. */
function observed(state: SiteState): Observations {
  const server = (kind: "consul" | "nomad", i: number): ServerAnswers => {
    const url = kind === "consul" ? OUTPUTS.consulServers[i] : OUTPUTS.nomadServers[i];
    if (state.silent.includes(i)) return { url, leader: noAnswer, peers: noAnswer, tokenSelf: noAnswer, listing: noAnswer };
    return kind === "consul"
      ? { url, leader: answer(state.consulLeader), peers: answer(state.consulPeers), tokenSelf: state.consulTokenSelf, listing: state.consulTokenSelf.ok && state.consulTokenSelf.status === 200 ? answer(state.consulMembers) : plain(403, "token does not exist: ACL not found") }
      : { url, leader: state.nomadLeader ? answer(state.nomadLeader) : plain(500, "No cluster leader"), peers: answer(state.nomadPeers), tokenSelf: state.nomadTokenSelf, listing: state.nomadTokenSelf.ok && state.nomadTokenSelf.status === 200 ? answer(state.nomadNodes) : plain(403, "Permission denied") };
  };
  return { consul: SERVERS.map((_, i) => server("consul", i)), nomad: SERVERS.map((_, i) => server("nomad", i)) };
}

function checks(edit: (s: SiteState) => void = () => {}): CheckResult[] {
  const state = readySite();
  edit(state);
  return statusChecks(OUTPUTS, observed(state));
}

const check = (results: readonly CheckResult[], name: string): CheckResult => {
  const r = results.find((x) => x.name === name);
  if (!r) throw new Error(`no check named ${name}: ${results.map((x) => x.name).join(", ")}`);
  return r;
};
const failedNames = (results: readonly CheckResult[]) => results.filter((r) => !r.passed).map((r) => r.name);

const CHECK_NAMES = [...STATUS_CHECK_NAMES];

// ---------------------------------------------------------------------------------------------

describe("the infra outputs status reads (terraform output -json of <site>-infra)", () => {
  test("GIVEN the outputs of a deployed infra stack THEN the servers, CA, tokens and declared members are read", () => {
    expect(OUTPUTS).toEqual({
      site: "lab",
      consulServers: ["https://10.30.1.10:8501", "https://10.30.1.11:8501", "https://10.30.1.12:8501"],
      nomadServers: ["https://10.30.1.10:4646", "https://10.30.1.11:4646", "https://10.30.1.12:4646"],
      caCertificate: CA,
      consulToken: CONSUL_TOKEN,
      nomadToken: NOMAD_TOKEN,
      members: MEMBERS,
    });
  });

  const refusal = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(StatusInputError);
      const message = (e as Error).message;
      expect(message.split("\n")).toHaveLength(1);
      expect(message).not.toContain(CONSUL_TOKEN);
      expect(message).not.toContain(NOMAD_TOKEN);
      return message;
    }
    throw new Error("expected a StatusInputError");
  };

  test("fails on a stack with no outputs (initialized, never deployed): says so and how to deploy it", () => {
    expect(refusal(() => parseInfraOutputs("lab", "{}"))).toBe(
      "site lab: lab-infra has no outputs: it has not been deployed (or its state is elsewhere): deploy it with `npm run deploy -- lab-infra`, then run the status again",
    );
  });

  test("fails on a state written by an earlier version (no cluster_members output): names the output and how to add it", () => {
    expect(refusal(() => parseInfraOutputs("lab", terraformOutput((o) => delete o.cluster_members)))).toBe(
      "site lab: lab-infra's state has no output cluster_members (deployed by an earlier version of this library?): deploy it with `npm run deploy -- lab-infra` again to add it",
    );
  });

  test("fails on outputs of the wrong shape, naming each, without printing a value (two are tokens)", () => {
    const message = refusal(() =>
      parseInfraOutputs("lab", terraformOutput((o) => {
        o.consul_servers.value = "https://10.30.1.10:8501";
        o.nomad_management_token.value = 42;
        o.cluster_members.value = { ...MEMBERS, nomad_clients: [{ name: "lab-lab-client-1" }] };
      })),
    );
    expect(message).toBe(
      "site lab: lab-infra's outputs are not what this version of the library writes (consul_servers: expected a list of URLs; nomad_management_token: expected a token; cluster_members: nomad_clients: expected a list of { name, node_class }): deploy it with `npm run deploy -- lab-infra` again",
    );
  });

  test("fails on something that is not terraform's JSON", () => {
    expect(refusal(() => parseInfraOutputs("lab", "No outputs found"))).toBe("site lab: `terraform output -json` of lab-infra did not print JSON");
  });

  const manifest = JSON.stringify({ stacks: { "lab-infra": { workingDirectory: "stacks/lab-infra" }, "lab-platform": { workingDirectory: "stacks/lab-platform" }, "edge-infra": { workingDirectory: "stacks/edge-infra" } } });

  test("GIVEN a synthesized output THEN the site's infra stack folder is the one its manifest names", () => {
    expect(infraStackDir("lab", "cdktf.out", manifest)).toBe(path.join("cdktf.out", "stacks", "lab-infra"));
  });

  test("fails on an unknown site: names it and the sites there are", () => {
    expect(refusal(() => infraStackDir("primary", "cdktf.out", manifest))).toBe(
      'unknown site "primary": cdktf.out has no stack primary-infra (its sites: lab, edge); give one of those, or run `npm run synth` if the deployment file has changed',
    );
  });

  test("fails when nothing was synthesized (no manifest): says to deploy the infra stack", () => {
    expect(refusal(() => infraStackDir("lab", "cdktf.out", undefined))).toBe(
      "site lab: nothing is synthesized in cdktf.out (no manifest.json): deploy it with `npm run deploy -- lab-infra` first (it synthesizes the stacks), then run the status again",
    );
  });

  test("fails on a stack folder Terraform was never initialized in: says to deploy, or init against the shared backend", () => {
    const stderr = '\u001b[31m╷\u001b[0m\n\u001b[31m│\u001b[0m \u001b[1m\u001b[31mError: \u001b[0mBackend initialization required, please run "terraform init"\n│ Reason: Initial configuration of the requested backend "local"\n╵\n';
    expect(terraformOutputFailure("lab", "cdktf.out/stacks/lab-infra", stderr).message).toBe(
      "site lab: lab-infra is not initialized in cdktf.out/stacks/lab-infra: deploy it with `npm run deploy -- lab-infra`, or, if it was deployed from another working copy to a shared backend, run `terraform -chdir=cdktf.out/stacks/lab-infra init` and run the status again",
    );
  });

  test("fails on any other terraform error with its first Error line (e.g. a remote backend's credentials)", () => {
    const stderr = "╷\n│ Error: error configuring S3 Backend: no valid credential sources for S3 Backend found.\n│\n│ Please see https://...\n╵\n";
    expect(terraformOutputFailure("lab", "cdktf.out/stacks/lab-infra", stderr).message).toBe(
      "site lab: `terraform output` of lab-infra failed: Error: error configuring S3 Backend: no valid credential sources for S3 Backend found.",
    );
  });
});

describe("the checks, from what the servers answered", () => {
  test("GIVEN every server answers, agrees on a leader, lists every server as a peer, accepts the tokens, and every member and client is there THEN every check passes", () => {
    const results = checks();
    expect(results.map((r) => r.name)).toEqual(CHECK_NAMES);
    expect(failedNames(results)).toEqual([]);
    expect(check(results, "Consul leader").detail).toBe("lab-lab-server-1 at 10.30.1.10:8300, as all 3 answering servers say");
    expect(check(results, "Consul members").detail).toBe("8 of 8 declared members alive (as lab-lab-server-1 sees them)");
    expect(check(results, "Nomad clients").detail).toBe("3 of 3 declared clients ready and eligible in their node class (production: 2, ingress: 1; as lab-lab-server-1 lists them)");
    expect(check(results, "Nomad ACL bootstrap").detail).toBe("the management token of lab-infra's outputs is accepted by all 3 answering servers, with type management");
  });

  test("quorum: a Raft quorum of 3 servers is 2, of 5 is 3, of 7 is 4", () => {
    expect([3, 5, 7].map(quorumOf)).toEqual([2, 3, 4]);
  });

  test("GIVEN one server of three does not answer, is not a peer and has failed THEN it is named in every server check, which pass on the quorum left", () => {
    const results = checks((s) => {
      s.silent = [2];
      s.consulPeers = s.consulPeers.slice(0, 2);
      s.consulMembers.find((m) => m.Name === "lab-lab-server-3")!.Status = 4;
    });
    expect(failedNames(results)).toEqual([]);
    expect(check(results, "Consul servers answer").detail).toBe(
      "2 of 3, a quorum; no answer from lab-lab-server-3 at https://10.30.1.12:8501: connection refused (is the agent running?)",
    );
    expect(check(results, "Consul Raft peers").detail).toBe("2 of 3 declared servers are peers, a quorum (as lab-lab-server-1 lists them); not a peer: lab-lab-server-3 (10.30.1.12)");
    expect(check(results, "Consul members").detail).toBe("7 of 8 declared members alive (as lab-lab-server-1 sees them); servers down, a quorum left: lab-lab-server-3 (failed)");
    expect(check(results, "Consul leader").detail).toBe("lab-lab-server-1 at 10.30.1.10:8300, as both answering servers say");
  });

  test("fails when fewer than a quorum of servers answer: names the silent ones and says to connect to the VPN", () => {
    const results = checks((s) => (s.silent = [1, 2]));
    const r = check(results, "Nomad servers answer");
    expect(r.passed).toBe(false);
    expect(r.detail).toBe(
      "1 of 3, fewer than a quorum of 2; no answer from lab-lab-server-2 at https://10.30.1.11:4646: connection refused (is the agent running?); lab-lab-server-3 at https://10.30.1.12:4646: connection refused (is the agent running?): connect to the site's VPN (wg-quick up with the wireguard_<peer> output of lab-infra) and check that the servers run",
    );
  });

  test("fails everything when no server answers (off the VPN), saying so in each check", () => {
    const results = checks((s) => (s.silent = [0, 1, 2]));
    expect(failedNames(results)).toEqual(CHECK_NAMES);
    expect(check(results, "Consul leader").detail).toBe("no Consul server answered");
    expect(check(results, "Nomad clients").detail).toBe("no Nomad server answered");
  });

  test("fails on no leader yet (the servers answer, the cluster has not formed): says what each server said", () => {
    const results = checks((s) => {
      s.consulLeader = "";
      s.nomadLeader = "";
    });
    expect(failedNames(results)).toEqual(["Consul leader", "Nomad leader"]);
    expect(check(results, "Nomad leader").detail).toBe(
      "no leader: lab-lab-server-1 says HTTP 500: No cluster leader; lab-lab-server-2 says HTTP 500: No cluster leader; lab-lab-server-3 says HTTP 500: No cluster leader; the servers elect one once 3 of them have joined (bootstrap_expect): check that every server runs and that they reach each other",
    );
  });

  test("fails on servers naming different leaders, and on a leader that is not a declared server", () => {
    const state = readySite();
    const seen = observed(state);
    const split: Observations = { ...seen, consul: seen.consul.map((s, i) => (i === 2 ? { ...s, leader: answer("10.30.1.11:8300") } : s)) };
    expect(check(statusChecks(OUTPUTS, split), "Consul leader")).toEqual({
      name: "Consul leader",
      passed: false,
      detail: "the servers disagree: lab-lab-server-1 says 10.30.1.10:8300, lab-lab-server-2 says 10.30.1.10:8300, lab-lab-server-3 says 10.30.1.11:8300 (an election under way? run the status again in a few seconds)",
    });
    const stranger = checks((s) => (s.nomadLeader = "10.99.0.1:4647"));
    expect(check(stranger, "Nomad leader")).toEqual({ name: "Nomad leader", passed: false, detail: "10.99.0.1:4647, which is not a server lab-infra declares (10.30.1.10, 10.30.1.11 and 10.30.1.12)" });
  });

  test("fails on a Raft peer the infra stack does not declare (a replaced server left in the configuration)", () => {
    const results = checks((s) => s.nomadPeers.push("10.30.1.99:4647"));
    expect(check(results, "Nomad Raft peers")).toEqual({
      name: "Nomad Raft peers",
      passed: false,
      detail: "3 of 3 declared servers are peers (as lab-lab-server-1 lists them); peers the infra stack does not declare: 10.30.1.99:4647 (a replaced server still in the Raft configuration? remove it with `nomad operator raft remove-peer`)",
    });
  });

  test("fails when the Nomad ACL bootstrap has not run (the token is not known): names the servers, where the bootstrap runs, and leaves the clients unchecked", () => {
    const results = checks((s) => (s.nomadTokenSelf = plain(403, "Permission denied")));
    expect(failedNames(results)).toEqual(["Nomad ACL bootstrap", "Nomad clients"]);
    expect(check(results, "Nomad ACL bootstrap").detail).toBe(
      "refused by lab-lab-server-1: HTTP 403: Permission denied; refused by lab-lab-server-2: HTTP 403: Permission denied; refused by lab-lab-server-3: HTTP 403: Permission denied: " +
        "the first server bootstraps Nomad's ACLs with it once Nomad has a leader (/usr/local/sbin/platform-bootstrap, run by cloud-init: see /var/log/cloud-init-output.log on lab-lab-server-1); in a federated site it replicates from the authoritative region; otherwise the token is not this cluster's",
    );
    expect(check(results, "Nomad clients").detail).toBe(
      "could not list the nodes: lab-lab-server-1: HTTP 403: Permission denied; lab-lab-server-2: HTTP 403: Permission denied; lab-lab-server-3: HTTP 403: Permission denied (see Nomad ACL bootstrap)",
    );
  });

  test("fails when Consul refuses the management token, and when a token is accepted but is not a management token", () => {
    const refused = checks((s) => (s.consulTokenSelf = plain(403, "token does not exist: ACL not found")));
    expect(failedNames(refused)).toEqual(["Consul ACL bootstrap", "Consul members"]);
    expect(check(refused, "Consul ACL bootstrap").detail).toMatch(/^refused by lab-lab-server-1: HTTP 403: token does not exist: ACL not found; .*: the servers create it from their configuration \(initial_management\)/);
    const weak = checks((s) => (s.consulTokenSelf = answer({ AccessorID: "x", Policies: [{ ID: "1234", Name: "read-only" }] })));
    expect(check(weak, "Consul ACL bootstrap").passed).toBe(false);
    expect(check(weak, "Consul ACL bootstrap").detail).toMatch(/^accepted by lab-lab-server-1, but not as a management token; /);
  });

  test("fails on a declared member that never joined, and on one that failed or left, naming each; an undeclared member is only mentioned", () => {
    const results = checks((s) => {
      s.consulMembers = s.consulMembers.filter((m) => m.Name !== "lab-lab-bastion-1");
      s.consulMembers.find((m) => m.Name === "lab-lab-client-2")!.Status = 4;
      s.consulMembers.find((m) => m.Name === "lab-lab-vpn-1")!.Status = 3;
      s.consulMembers.push({ Name: "laptop-of-alice", Status: 1 });
    });
    expect(check(results, "Consul members")).toEqual({
      name: "Consul members",
      passed: false,
      detail:
        "5 of 8 declared members alive (as lab-lab-server-1 sees them); missing: lab-lab-client-2 (failed), lab-lab-bastion-1 (not joined) and lab-lab-vpn-1 (left); " +
        "check those VMs run and that their Consul agent joined (`journalctl -u consul` on the VM); also alive, not declared by lab-infra: laptop-of-alice",
    });
  });

  test("fails on two server members down of three: the quorum is gone", () => {
    const results = checks((s) => {
      for (const m of s.consulMembers.filter((x) => x.Name === "lab-lab-server-2" || x.Name === "lab-lab-server-3")) m.Status = 4;
    });
    expect(check(results, "Consul members").passed).toBe(false);
    expect(check(results, "Consul members").detail).toContain("missing: lab-lab-server-2 (failed) and lab-lab-server-3 (failed)");
  });

  test("fails on Nomad clients missing, down, ineligible, draining or in another node class, naming each with what is wrong", () => {
    const results = checks((s) => {
      s.nomadNodes = s.nomadNodes.filter((n) => n.Name !== "lab-lab-client-1");
      Object.assign(s.nomadNodes.find((n) => n.Name === "lab-lab-client-2")!, { Status: "down", SchedulingEligibility: "ineligible", Drain: true });
      s.nomadNodes.find((n) => n.Name === "lab-lab-ingress-1")!.NodeClass = "production";
    });
    expect(check(results, "Nomad clients")).toEqual({
      name: "Nomad clients",
      passed: false,
      detail:
        "0 of 3 declared clients ready and eligible in their node class (production: 2, ingress: 1; as lab-lab-server-1 lists them); " +
        'not ready: lab-lab-client-1 (not registered), lab-lab-client-2 (status down, ineligible, draining) and lab-lab-ingress-1 (node class "production", expected "ingress"); ' +
        "check those VMs run and that their Nomad agent joined (`journalctl -u nomad` on the VM)",
    });
  });

  test("GIVEN a rebuilt client (its former node down beside the new, ready one) THEN it counts as ready", () => {
    const results = checks((s) => s.nomadNodes.push({ Name: "lab-lab-client-1", NodeClass: "production", Status: "down", SchedulingEligibility: "ineligible", Drain: false }));
    expect(check(results, "Nomad clients").passed).toBe(true);
  });

  test("GIVEN the first server does not answer THEN the listings come from the next one", () => {
    const results = checks((s) => (s.silent = [0]));
    expect(failedNames(results)).toEqual([]);
    expect(check(results, "Nomad clients").detail).toContain("as lab-lab-server-2 lists them");
  });
});

describe("what status prints", () => {
  test("one line per check, passed or failed, then the verdict naming the platform stack", () => {
    expect(reportLines(OUTPUTS, checks()).slice(-1)).toEqual(["lab: ready for lab-platform: 10 of 10 checks passed"]);
    const lines = reportLines(OUTPUTS, checks((s) => (s.nomadTokenSelf = plain(403, "Permission denied"))));
    expect(lines).toHaveLength(11);
    expect(lines.map((l) => l.split(":")[0])).toEqual([...CHECK_NAMES.map((n) => `${["Nomad ACL bootstrap", "Nomad clients"].includes(n) ? "failed" : "passed"}  ${n}`), "lab"]);
    expect(lines[10]).toBe("lab: not ready for lab-platform: 2 of 10 checks failed (Nomad ACL bootstrap, Nomad clients)");
  });

  test("a token never prints, even when a server echoes it", () => {
    const lines = reportLines(OUTPUTS, checks((s) => (s.consulTokenSelf = plain(403, `token ${CONSUL_TOKEN} not found`))));
    expect(lines.join("\n")).not.toContain(CONSUL_TOKEN);
    expect(lines.join("\n")).toContain("token <redacted> not found");
    expect(redact(`a ${NOMAD_TOKEN} b ${NOMAD_TOKEN}`, [NOMAD_TOKEN, ""])).toBe("a <redacted> b <redacted>");
  });
});

describe("the cluster_members output of the infra stack", () => {
  const stacks = buildDeployment(Testing.app(), defaultDeployment());

  for (const [site, { infra }] of stacks) {
    test(`${site}-infra: every VM's Consul agent is a member, and exactly the VMs whose cloud-init runs a Nomad client are Nomad clients, in their node class`, () => {
      const vms = [infra.servers, infra.clients, infra.ingress, infra.development].flatMap((g) => g.vms).concat(infra.bastion.vm, infra.vpn.vm);
      const configs = vms.map((vm) => ({
        consul: JSON.parse(vm.userData.fileContent("/etc/consul.d/consul.json") ?? "{}"),
        nomad: vm.userData.fileContent("/etc/nomad.d/nomad.json") === undefined ? undefined : JSON.parse(vm.userData.fileContent("/etc/nomad.d/nomad.json") as string),
      }));
      const output = JSON.parse(Testing.synth(infra)).output.cluster_members;
      expect(output.sensitive).toBeUndefined();
      expect(output.value).toEqual({
        datacenter: configs[0].consul.datacenter,
        region: configs[0].nomad.region,
        servers: configs.filter((c) => c.consul.server).map((c) => ({ name: c.consul.node_name, address: c.consul.advertise_addr })),
        consul_members: configs.map((c) => c.consul.node_name),
        nomad_clients: configs.filter((c) => c.nomad?.client?.enabled).map((c) => ({ name: c.nomad.name, node_class: c.nomad.client.node_class })),
      });
      expect(output.value.consul_members).toHaveLength(vms.length);
      expect(output.value.nomad_clients.length).toBeGreaterThan(0);
      // The addresses status dials are the servers' fixed addresses.
      const urls = JSON.parse(Testing.synth(infra)).output.consul_servers.value as string[];
      expect(urls).toEqual(output.value.servers.map((s: { address: string }) => `https://${s.address}:8501`));
    });
  }
});

describe("npm run status: bad input is one line naming the site and what to do, exit 2, never a stack trace", () => {
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-cli-"));
    fs.mkdirSync(path.join(dir, "out", "stacks", "lab-infra"), { recursive: true });
    fs.writeFileSync(path.join(dir, "out", "manifest.json"), JSON.stringify({ stacks: { "lab-infra": { workingDirectory: "stacks/lab-infra" }, "lab-platform": { workingDirectory: "stacks/lab-platform" } } }));
    fs.mkdirSync(path.join(dir, "empty-bin"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const status = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/status.ts", ...args], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: path.join(dir, "out"), ...env }, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test("fails with no site given: the usage", () => {
    expect(status([])).toEqual({ status: 2, stdout: "", stderr: "status: no site given: usage: npm run status -- <site>   (a site of the deployment file, whose <site>-infra stack is deployed)\n" });
  });

  test("fails on an unknown site: names it and the sites synthesized", () => {
    expect(status(["nowhere"])).toEqual({
      status: 2,
      stdout: "",
      stderr: 'status: unknown site "nowhere": ' + path.join(dir, "out") + " has no stack nowhere-infra (its sites: lab); give one of those, or run `npm run synth` if the deployment file has changed\n",
    });
  });

  test("fails when nothing is synthesized", () => {
    const r = status(["lab"], { CDKTF_OUTDIR: path.join(dir, "nothing-here") });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`status: site lab: nothing is synthesized in ${path.join(dir, "nothing-here")} (no manifest.json): deploy it with \`npm run deploy -- lab-infra\` first (it synthesizes the stacks), then run the status again\n`);
  });

  test("fails without terraform on PATH: says to install it", () => {
    expect(status(["lab"], { PATH: path.join(dir, "empty-bin") })).toEqual({
      status: 2,
      stdout: "",
      stderr: "status: site lab: terraform is not on PATH: install Terraform (1.9 or newer; `cdktf deploy` needs it too) and run the status again\n",
    });
  });

  test("fails on a site name that is not one", () => {
    const r = status(["../etc"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('status: site "../etc": expected a site name of the deployment file (lower-case letters, digits, -)\n');
  });
});
