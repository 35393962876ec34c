/**
 * npm run roll: which VMs it replaces and in what order (from the synthesized default deployment
 * and its pending_roll), how it judges what Consul's and Nomad's autopilot answer, the plan it
 * accepts (only the instance replaced), and its command line's refusals. The steps against real
 * agents run on the rehearsal (__tests__/real/rehearsal.test.ts); the plan check against the real
 * Terraform in __tests__/real/day2-plan.test.ts.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { Testing } from "cdktf";
import { parseDeployment } from "../config/deployment";
import { CLUSTER_MEMBERS_OUTPUT, ClusterMembersOutput } from "../ops/infra-outputs";
import { AutopilotHealth, judgeMembers, judgeServerBack, judgeServers, RollInputError, rollOrder, selectRoll, stackVms } from "../ops/roll";
import { rollPlanProblems } from "../ops/terraform-roll";
import { buildDeployment } from "../stacks/deployment";
import { editedYaml, ROOT } from "./helpers";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = Testing.app();
const primary = JSON.parse(Testing.synth(buildDeployment(app, parseDeployment(editedYaml(() => undefined), "d.yaml")).get("primary")!.infra)) as Json;
const members = primary.output[CLUSTER_MEMBERS_OUTPUT].value as ClusterMembersOutput;
const vms = stackVms(primary, members);
const names = (list: readonly { name: string }[]) => list.map((v) => v.name);
const allPending = Object.fromEntries(vms.map((v) => [v.name, ["user data"]]));

describe("which VMs, in what order", () => {
  test("GIVEN the default primary site THEN every instance is a VM of the roll, with its group, its Terraform address and its part in the cluster", () => {
    expect(vms).toHaveLength(Object.keys(primary.resource.openstack_compute_instance_v2).length);
    const s1 = vms.find((v) => v.name === "fleet-primary-server-1")!;
    expect(s1).toMatchObject({ role: "server", server: true, nomadClient: false, consulMember: true });
    expect(s1.address).toMatch(/^openstack_compute_instance_v2\.servers_server-1_instance_/);
    expect(vms.find((v) => v.name === "fleet-primary-ingress-1")).toMatchObject({ role: "ingress", server: false, nomadClient: true });
    expect(vms.find((v) => v.name === "fleet-primary-bastion-1")).toMatchObject({ role: "bastion", nomadClient: false, consulMember: true });
  });

  test("GIVEN everything pending WHEN nothing is named THEN the servers go first, then the Nomad clients, then the others, the VPN gateway last", () => {
    const { selected } = selectRoll(vms, allPending, []);
    const order = names(selected);
    expect(order.slice(0, 3)).toEqual(["fleet-primary-server-1", "fleet-primary-server-2", "fleet-primary-server-3"]);
    const firstOther = selected.findIndex((v) => !v.server && !v.nomadClient);
    expect(selected.slice(3, firstOther).every((v) => v.nomadClient)).toBe(true);
    expect(order.at(-1)).toBe("fleet-primary-vpn-1");
    expect(names(rollOrder([...selected].reverse()))).toEqual(order);
  });

  test("GIVEN nothing pending THEN nothing is selected; a named group rolls only its VMs with something pending; a named VM rolls even with nothing pending, and says so", () => {
    const none = Object.fromEntries(vms.map((v) => [v.name, [] as string[]]));
    expect(selectRoll(vms, none, []).selected).toEqual([]);
    const some = { ...none, "fleet-primary-client-2": ["user data"], "fleet-primary-server-3": ["image"] };
    expect(names(selectRoll(vms, some, ["client"]).selected)).toEqual(["fleet-primary-client-2"]);
    expect(names(selectRoll(vms, some, []).selected)).toEqual(["fleet-primary-server-3", "fleet-primary-client-2"]);
    const named = selectRoll(vms, none, ["fleet-primary-bastion-1"]);
    expect(names(named.selected)).toEqual(["fleet-primary-bastion-1"]);
    expect(named.notes).toContain("fleet-primary-bastion-1: nothing pending; replaced because it is named");
    expect(selectRoll(vms, none, ["server"]).notes[0]).toMatch(/^group server: nothing pending on its 3 VM\(s\)/);
  });

  test("fails on a name that is neither a VM nor a group, listing the groups", () => {
    expect(() => selectRoll(vms, allPending, ["severs"])).toThrow(RollInputError);
    expect(() => selectRoll(vms, allPending, ["severs"])).toThrow(/^"severs" is neither a VM nor a group of this stack; expected one of the groups bastion, client, development, ingress, server, vpn, or an instance name/);
  });
});

const server = (name: string, over: Partial<AutopilotHealth["Servers"][number]> = {}) => ({ Name: name, Address: "10.10.1.10:8300", SerfStatus: "alive", Leader: false, Voter: true, Healthy: true, StableSince: "2026-12-02T01:00:00Z", ...over });
const declared = ["s-1", "s-2", "s-3"];

describe("what autopilot answers, judged", () => {
  test("GIVEN three healthy voters THEN a server may go (two stay, a quorum), and so may a client", () => {
    const ok: AutopilotHealth = { Healthy: true, FailureTolerance: 1, Servers: declared.map((n) => server(n)) };
    expect(judgeServers("consul", ok, declared, "s-1").ok).toBe(true);
    expect(judgeServers("consul", ok, declared).ok).toBe(true);
  });

  test("GIVEN the server to replace is the broken one THEN it may go (the two others are a quorum); GIVEN another one is broken THEN it may not, and the verdict says why", () => {
    const broken: AutopilotHealth = { Healthy: false, FailureTolerance: 0, Servers: [server("s-1", { Healthy: false, SerfStatus: "failed" }), server("s-2"), server("s-3")] };
    expect(judgeServers("consul", broken, declared, "s-1").ok).toBe(true);
    const v = judgeServers("consul", broken, declared, "s-2");
    expect(v.ok).toBe(false);
    expect(v.saw).toMatch(/s-1 unhealthy \(failed\)/);
    expect(v.saw).toMatch(/without s-2 the site would keep 1 healthy server, fewer than a quorum of 2/);
    // A client waits too: a server of the site is not healthy.
    expect(judgeServers("consul", broken, declared).ok).toBe(false);
    const missing: AutopilotHealth = { Healthy: true, FailureTolerance: 0, Servers: [server("s-1"), server("s-2")] };
    expect(judgeServers("consul", missing, declared).saw).toMatch(/not in the Raft configuration: s-3/);
  });

  test("GIVEN the site's other members THEN each must be alive and ready, but those the roll is still to replace", () => {
    const m = { consul_members: ["s-1", "c-1", "c-2", "bastion"], nomad_clients: [{ name: "c-1", node_class: "production" }, { name: "c-2", node_class: "production" }] };
    const consul = [{ Name: "s-1", Status: 1 }, { Name: "c-1", Status: 1 }, { Name: "c-2", Status: 4 }, { Name: "bastion", Status: 1 }];
    const node = (Name: string, Status: string, SchedulingEligibility = "eligible") => ({ ID: `${Name}-${Status}`, Name, Status, SchedulingEligibility });
    const nodes = [node("c-1", "ready"), node("c-2", "down", "ineligible")];
    const v = judgeMembers(m, consul, nodes, new Set(["c-1"]));
    expect(v.ok).toBe(false);
    expect(v.saw).toBe("Consul members not alive: c-2; Nomad clients not ready and eligible: c-2 (down, ineligible); roll them too (name them) or bring them back first");
    expect(judgeMembers(m, consul, nodes, new Set(["c-2"])).ok).toBe(true);
    // A rebuilt VM leaves its former node down beside the new one: the ready one counts.
    expect(judgeMembers(m, [...consul.slice(0, 2), { Name: "c-2", Status: 1 }, consul[3]], [...nodes, node("c-2", "ready")], new Set()).ok).toBe(true);
  });

  test("GIVEN Nomad's names (<node>.<region>) THEN its servers are matched by node name", () => {
    const nomad: AutopilotHealth = { Healthy: true, FailureTolerance: 1, Servers: declared.map((n) => server(`${n}.primary`)) };
    expect(judgeServers("nomad", nomad, declared, "s-2").ok).toBe(true);
  });

  test("GIVEN a replaced server THEN it is back once its own API names a leader and autopilot counts it a healthy voter, with every server healthy", () => {
    const healthy: AutopilotHealth = { Healthy: true, FailureTolerance: 1, Servers: declared.map((n) => server(n)) };
    const leader = { ok: true as const, status: 200, text: '"10.10.1.11:8300"', json: "10.10.1.11:8300" };
    expect(judgeServerBack("consul", healthy, "s-2", leader).ok).toBe(true);
    const down = judgeServerBack("consul", healthy, "s-2", { ok: false, error: "connection refused (is the agent running?)" });
    expect(down.ok).toBe(false);
    expect(down.saw).toMatch(/its own API: connection refused/);
    const none = judgeServerBack("consul", healthy, "s-2", { ok: true, status: 200, text: '""', json: "" });
    expect(none.saw).toMatch(/its own API: no leader/);
    expect(none.ok).toBe(false);
    expect(judgeServerBack("consul", { ...healthy, Healthy: false }, "s-2", leader).ok).toBe(false);
    expect(judgeServerBack("consul", { ...healthy, Servers: [server("s-1"), server("s-2", { Voter: false }), server("s-3")] }, "s-2", leader).ok).toBe(false);
    expect(judgeServerBack("consul", { ...healthy, Servers: [server("s-1"), server("s-3")] }, "s-2", leader).saw).toMatch(/s-2 not in the Raft configuration yet/);
  });
});

describe("the plan a roll applies", () => {
  const address = "openstack_compute_instance_v2.servers_server-2_instance_X";
  const change = (addr: string, actions: string[]) => ({ address: addr, change: { actions } });

  test("GIVEN a plan that destroys then creates the instance, and reads or leaves the rest THEN it is accepted", () => {
    expect(rollPlanProblems({ resource_changes: [change(address, ["delete", "create"]), change("openstack_networking_port_v2.p", ["no-op"]), change("data.terraform_remote_state.x", ["read"])] }, address)).toEqual([]);
  });

  test("GIVEN an instance gone from the state (an apply that failed after the destroy) THEN its creation is accepted", () => {
    expect(rollPlanProblems({ resource_changes: [change(address, ["create"])] }, address)).toEqual([]);
  });

  test("fails on a replacement on another port, with other volumes (unless volumes are pending), or a plan that imports", () => {
    const replaced = (after: Json) => ({ address, change: { actions: ["delete", "create"], before: { network: [{ port: "p-1" }], block_device: [{ uuid: "v-1" }] }, after } });
    expect(rollPlanProblems({ resource_changes: [replaced({ network: [{ port: "p-2" }], block_device: [{ uuid: "v-1" }] })] }, address)).toEqual([`${address} would move from port p-1 to p-2 (its address)`]);
    expect(rollPlanProblems({ resource_changes: [replaced({ network: [{ port: "p-1" }], block_device: [] })] }, address)).toEqual([`${address} would get volumes none instead of v-1`]);
    expect(rollPlanProblems({ resource_changes: [replaced({ network: [{ port: "p-1" }], block_device: [] })] }, address, { volumesMayChange: true })).toEqual([]);
    expect(rollPlanProblems({ resource_changes: [change(address, ["delete", "create"]), { address: "openstack_networking_port_v2.x", change: { actions: ["no-op"], importing: { id: "abc" } } }] }, address)).toEqual(["openstack_networking_port_v2.x would be imported"]);
  });

  test("fails on a plan that changes anything else, creates before it destroys, or does not replace the instance", () => {
    expect(rollPlanProblems({ resource_changes: [change(address, ["delete", "create"]), change("tls_locally_signed_cert.c", ["delete", "create"]), change("openstack_compute_instance_v2.new", ["create"])] }, address)).toEqual([
      "tls_locally_signed_cert.c would be replaced",
      "openstack_compute_instance_v2.new would be created",
    ]);
    expect(rollPlanProblems({ resource_changes: [change(address, ["create", "delete"])] }, address)).toEqual([`${address} would be created before it is destroyed, not destroyed then created`]);
    expect(rollPlanProblems({ resource_changes: [change(address, ["update"])] }, address)).toEqual([`${address} would be updated, not destroyed then created`]);
    expect(rollPlanProblems({ resource_changes: [] }, address)).toEqual([`${address} is not in the plan (is the stack deployed from this folder?)`]);
  });
});

describe("npm run roll's command line", () => {
  const roll = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "roll.ts"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CDKTF_OUTDIR: path.join(ROOT, "no-such-outdir") } });

  test.each([
    [[], /^roll: no stack given: usage: npm run roll -- <site>-infra/],
    [["primary"], /^roll: stack "primary": the roll replaces the VMs of an infra stack; expected <site>-infra \(e\.g\. primary-infra\)$/],
    [["primary-infra", "--drain-deadline", "soon"], /^roll: --drain-deadline: got "soon", expected a whole number >= 1$/],
    [["primary-infra", "--force"], /^roll: unknown option --force: usage/],
    [["primary-infra"], /^roll: site primary: nothing is synthesized in .*no-such-outdir \(no manifest\.json\)/],
  ])("fails on %j with one line and exit 2", (args, message) => {
    const r = roll(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
  });
});
