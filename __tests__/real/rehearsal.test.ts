/**
 * The rehearsal (rehearsal/), run for real: the default deployment synthesized, both sites booted
 * in network namespaces with the real agents, the checks of the issue. And what a broken stack
 * does: a rehearsal of something that cannot work fails with the VM, the agent and the log line
 * or the dropped flow that says why, not with a timeout.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { rehearse, RehearsalReport, reportTable } from "../../rehearsal/run";
import { StackJson } from "../../rehearsal/plan";
import { editedYaml } from "../helpers";
import { makeTempDir, removeDir, requireRoot, requireTool, ROOT, run, runOk, TOOLCHAIN_BIN } from "./real-helpers";

// A two-site rehearsal with its faults takes 2-4 minutes here; a failing one waits out its checks.
jest.setTimeout(900_000);

let out: string;
/** The default deployment with a day-2 change: an SSH key added on every site, the agents' certificates re-issued (another lifetime). */
let changed: string;
let runs = 0;
const binaries = { consul: path.join(TOOLCHAIN_BIN, "consul"), nomad: path.join(TOOLCHAIN_BIN, "nomad") };

beforeAll(() => {
  requireRoot("the rehearsal makes network namespaces");
  for (const t of ["terraform", "consul", "nomad", "wg", "wireguard-go", "nft", "nsenter", "curl"]) requireTool(t);
  out = makeTempDir("rehearsal-synth-");
  runOk(process.execPath, ["--import", "tsx", "main.ts"], { env: { CDKTF_OUTDIR: out }, timeoutMs: 300_000 });
  changed = makeTempDir("rehearsal-changed-");
  const file = path.join(changed, "changed.yaml");
  fs.writeFileSync(file, editedYaml((doc) => {
    for (const site of Object.values(doc.sites as Record<string, { admins: { sshKeys: string[] } }>)) site.admins.sshKeys.push("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq3Xh1nZc9y7Jm2s8Vd4LkQw0bT6rF5uN1aE3gH7iK2 bob@ops");
    doc.certificates = { ...(doc.certificates ?? {}), agentValidityDays: 400 };
  }));
  runOk(process.execPath, ["--import", "tsx", "main.ts"], { env: { CDKTF_OUTDIR: path.join(changed, "out"), DEPLOYMENT_CONFIG: file }, timeoutMs: 300_000 });
});

afterAll(() => { removeDir(out); removeDir(changed); });

function leftNamespaces(): string[] {
  return run("ip", ["netns", "list"]).stdout.split("\n").filter((l) => l.startsWith("rh-"));
}

async function rehearsal(opts: { sites?: string[]; mutate?: (stack: string, json: StackJson) => void; checkTimeoutMs?: number; holdBack?: string[]; platform?: boolean; faults?: boolean; tunnelLate?: boolean; roll?: { to: string; only?: string[] } }): Promise<RehearsalReport> {
  const lines: string[] = [];
  const report = await rehearse({ from: out, binaries, out: (l) => lines.push(l), ...opts });
  fs.writeFileSync(path.join(ROOT, ".toolchain", `rehearsal-${++runs}.log`), `${lines.join("\n")}\n\n${reportTable(report)}\n`);
  return report;
}

const check = (r: RehearsalReport, pattern: RegExp) => {
  const c = r.checks.find((x) => pattern.test(x.name));
  if (!c) throw new Error(`no check matches ${pattern}: ${r.checks.map((x) => x.name).join(" | ")}`);
  return c;
};

test("the default deployment's two sites boot with their tunnel late, form their clusters, federate once it is up, take their platform stacks from the operator on the VPN, and survive the faults", async () => {
  // The tunnel is held down (refusing) until both sites' Nomad servers have a leader: their
  // first join reaches only the local servers, and the regions federate only through the
  // federation keeper (without it: the backup's bootstrap, clients and federation checks fail).
  const report = await rehearsal({ tunnelLate: true });
  const failed = report.checks.filter((c) => !c.ok);
  expect(failed.map((c) => `${c.name}: ${c.detail}`)).toEqual([]);
  expect(check(report, /^tunnel held down at boot/).ok).toBe(true);
  for (const site of ["primary", "backup"]) {
    for (const what of [/Consul leader/, /Nomad leader/, /bootstrap/, /every Consul member joined/, /node-exporter/, /every Nomad client ready/]) {
      expect(check(report, new RegExp(`^${site}: ${what.source}`)).ok).toBe(true);
    }
  }
  expect(check(report, /Consul WAN/).ok).toBe(true);
  expect(check(report, /ACL replication/).ok).toBe(true);
  expect(check(report, /Nomad regions federated/).ok).toBe(true);
  for (const site of ["primary", "backup"]) {
    expect(check(report, new RegExp(`^${site}: a test job \\(batch, raw_exec\\) runs to completion`)).ok).toBe(true);
    expect(check(report, new RegExp(`^${site}: operator .* on the VPN`)).ok).toBe(true);
    expect(check(report, new RegExp(`^${site}: npm run status -- ${site}`)).ok).toBe(true);
    expect(check(report, new RegExp(`^${site}-platform: applies with the real providers`)).ok).toBe(true);
    expect(check(report, new RegExp(`^${site}-platform: a second plan is empty`)).ok).toBe(true);
    expect(check(report, new RegExp(`^${site}-platform: its \\d+ jobs registered`)).ok).toBe(true);
  }
  for (const fault of [/leaders killed/, /killed agents restarted/, /servers killed: writes refused/, /killed server restarted/, /every server back/, /tunnel cut/, /tunnel back/]) {
    expect(check(report, new RegExp(`^primary: fault: .*${fault.source}`)).ok).toBe(true);
  }
  expect(report.changes.length).toBeGreaterThan(0);
  expect(leftNamespaces()).toEqual([]);
});

test("fails when a security group rule is removed from the synthesized JSON (Nomad RPC from the clients), and when a retry_join names a wrong server address: each failed check names the VM, the agent and the log line or the dropped flow", async () => {
  let removed = "";
  const report = await rehearsal({
    sites: ["primary"],
    checkTimeoutMs: 30_000,
    mutate: (stack, json) => {
      if (stack !== "primary-infra") return;
      const rules = json.resource!.openstack_networking_secgroup_rule_v2 as Record<string, Record<string, unknown>>;
      for (const [id, r] of Object.entries(rules)) {
        if (r.port_range_min === 4647 && String(r.security_group_id).includes("servers_security-group") && String(r.remote_group_id).includes("clients_security-group")) {
          removed = id;
          delete rules[id];
        }
      }
      const inst = json.resource!.openstack_compute_instance_v2 as Record<string, Record<string, unknown>>;
      const id = Object.keys(inst).find((k) => String(inst[k].name) === "fleet-primary-bastion-1")!;
      // The instance's user data is a local of the stack (constructs/openstack/vm.ts).
      const local = /^\$\{local\.(.+)\}$/.exec(String(inst[id].user_data))![1];
      const locals = json.locals as Record<string, string>;
      locals[local] = locals[local].replace(/10\.10\.1\.1[0-2]/g, "10.10.1.99");
    },
  });
  expect(removed).not.toBe("");
  expect(check(report, /^primary: Consul leader/).ok).toBe(true);
  const why = report.diagnostics.join("\n");
  // The removed rule: the clients never register with the servers.
  expect(check(report, /^primary: every Nomad client ready/).ok).toBe(false);
  expect(why).toMatch(/fleet-primary-server-\d: security groups dropped 10\.10\.2\.\d+ tcp 4647/);
  expect(why).toMatch(/fleet-primary-client-\d nomad: .*\[(ERROR|WARN)\].*4647/);
  // The wrong address: the bastion never joins, and its Consul says where it tried.
  const members = check(report, /^primary: every Consul member joined/);
  expect(members.ok).toBe(false);
  expect(members.detail).toMatch(/missing fleet-primary-bastion-1/);
  expect(why).toMatch(/fleet-primary-bastion-1 consul: .*10\.10\.1\.99/);
  // What fails is not run further: no platform apply, no faults.
  expect(report.checks.some((c) => /platform|fault/.test(c.name))).toBe(false);
  expect(leftNamespaces()).toEqual([]);
});

test("the first server absent at the first boot: the other servers elect no leader and bootstrap nothing; once it boots the site forms and its bootstrap runs, as the README says; then a day-2 change (an added SSH key, re-issued certificates) rolled through npm run roll's steps keeps a leader and loses nothing", async () => {
  const report = await rehearsal({ sites: ["primary"], holdBack: ["fleet-primary-server-1"], platform: false, faults: false, roll: { to: path.join(changed, "out"), only: ["server", "fleet-primary-client-1", "fleet-primary-client-2"] } });
  const absent = check(report, /^primary: without fleet-primary-server-1 at the first boot/);
  expect(absent.ok).toBe(true);
  expect(absent.detail).toMatch(/fleet-primary-server-2: Consul leader "", Nomad/);
  const failed = report.checks.filter((c) => !c.ok);
  expect(failed.map((c) => `${c.name}: ${c.detail}`)).toEqual([]);
  expect(check(report, /^primary: bootstrap: ACL policies and tokens created/).ok).toBe(true);
  // The roll: the three servers, then two of the four production clients (of which at least one
  // runs an allocation of the service job: it has three), each replaced by a VM booted with the
  // changed user data. The other VMs' rolls are the same steps: the rehearsal's minutes go to what differs.
  const rolled = check(report, /^primary: roll: 5 VMs replaced one at a time, servers first/);
  expect(rolled.detail).toMatch(/^fleet-primary-server-\d, fleet-primary-server-\d, fleet-primary-server-\d, fleet-primary-client-1, fleet-primary-client-2;/);
  expect(check(report, /^primary: roll: the leader went last/).detail).toMatch(/^fleet-primary-server-\d: led nothing, fleet-primary-server-\d: [^,]+, fleet-primary-server-\d: (Consul|Nomad) leader[^,]*$/);
  expect(check(report, /^primary: roll: a leader all along/).detail).toMatch(/^longest time without a leader: Consul \d+\.\d s, Nomad \d+\.\d s/);
  expect(check(report, /^primary: roll: each client drained before it went/).detail).toMatch(/rehearsal-roll-service\.svc\[\d\] → fleet-primary-client-\d \(running\)/);
  expect(check(report, /^primary: roll: KV entries, ACL tokens, the variable and the jobs written before are all there/).detail).toMatch(/Raft IDs unchanged \(3 Consul, 3 Nomad\)/);
  expect(check(report, /^primary: roll: the service job runs its \d allocation\(s\) again/).ok).toBe(true);
  expect(check(report, /^primary: roll: with fleet-primary-server-3's Consul down, a roll of fleet-primary-server-1 stops before replacing anything/).detail).toMatch(/resume: npm run roll -- primary-infra fleet-primary-server-1; replaced: nothing/);
  expect(check(report, /^primary: roll: while another roll holds the stack's lock, a roll stops before anything/).detail).toMatch(/another roll of primary-infra holds platform\/roll\/primary-infra: .*another operator.*; planned: nothing$/);
  expect(check(report, /^primary: after the roll, npm run status -- primary/).ok).toBe(true);
  expect(leftNamespaces()).toEqual([]);
});
