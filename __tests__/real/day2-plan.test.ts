/**
 * Day 2, planned for real: the real Terraform and the real OpenStack provider plan the primary
 * site's infra stack against a state "as if deployed" (offline-state.ts: no cloud, no API call,
 * `-refresh=false`). A routine change to the deployment file (one more admin SSH key, one more
 * client) replaces no running VM: what would (the user data) waits in `pending_roll`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PENDING_ROLL_OUTPUT, PendingRollOutput } from "../../ops/infra-outputs";
import { rollPlanProblems } from "../../ops/terraform-roll";
import { editedYaml } from "../helpers";
import { ApiTripwire, changedAttributes, changesOf, describeChanges, OfflineStack, PlanJson, ResourceChange, runAsync, StateV4 } from "./offline-state";
import { describeRun, makeTempDir, removeDir, requireTool, ROOT, wgKeyPair, writeFile } from "./real-helpers";

jest.setTimeout(300_000);

const STACK = "primary-infra";
const NEW_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE5xY2J4bWZtaGZxZ3R6c3dqY2x2b2Z0b2Z0b2Z0b2Z0 bob@ops";
type Site = { name: string; admins: { sshKeys: string[] }; vms: { client: { count: number } } };
const primary = (d: Record<string, any>) => (d.sites as Site[]).find((s) => s.name === "primary")!;

/** The deployments planned: the default one (as deployed), and two routine changes to it. */
const VARIANTS = {
  deployed: undefined,
  sshKey: editedYaml((d) => primary(d).admins.sshKeys.push(NEW_KEY)),
  client: editedYaml((d) => (primary(d).vms.client.count += 1)),
} as const;
type Variant = keyof typeof VARIANTS;

let tmp: string | undefined;
let tripwire: ApiTripwire | undefined;
let state: StateV4;
let statePlans = 0;
const stacks = {} as Record<Variant, OfflineStack>;
const plans = new Map<Variant, Promise<PlanJson>>();

/** The plan of a variant against the deployed state (each planned once: all start in beforeAll). */
function planOf(v: Variant): Promise<PlanJson> {
  if (!plans.has(v)) {
    const plan = stacks[v].plan(state);
    // Awaited by its test: a failure is that test's, not an unhandled rejection before it runs.
    plan.catch(() => undefined);
    plans.set(v, plan);
  }
  return plans.get(v)!;
}

/** The planned value of pending_roll, per VM: its list, or "unknown" (a VM the plan creates). */
function pendingRoll(plan: PlanJson): Record<string, readonly string[] | "unknown"> {
  const out = plan.output_changes?.[PENDING_ROLL_OUTPUT];
  if (!out) throw new Error(`the plan has no output ${PENDING_ROLL_OUTPUT}: ${Object.keys(plan.output_changes ?? {}).join(", ")}`);
  expect({ sensitive: out.after_sensitive }).toEqual({ sensitive: false });
  const unknown = (out.after_unknown ?? {}) as Record<string, unknown>;
  const after = (out.after ?? {}) as PendingRollOutput;
  const names = [...new Set([...Object.keys(after), ...Object.keys(unknown)])];
  return Object.fromEntries(names.map((n) => [n, unknown[n] === true ? "unknown" : after[n]]));
}

/** The default deployment's stack (the offline copy's JSON). */
let deployedJson: { resource: Record<string, Record<string, { name?: string }>> };

/** Every instance's name in the default deployment. */
const deployedVms = () => Object.values(deployedJson.resource.openstack_compute_instance_v2).map((r) => r.name as string).sort();

const replacedOrDeleted = (changes: readonly ResourceChange[]) => changes.filter((c) => c.change.actions.includes("delete"));

beforeAll(async () => {
  requireTool("terraform");
  tmp = makeTempDir("day2-plan");
  tripwire = await ApiTripwire.start();
  const clouds = writeFile(tmp, "clouds.yaml", tripwire.cloudsYaml(["primary", "backup"]));
  const env = { OS_CLIENT_CONFIG_FILE: clouds, TF_VAR_vpn_private_key: wgKeyPair().privateKey };
  const dir = tmp;
  // The three deployments synthesized side by side.
  await Promise.all(
    Object.entries(VARIANTS).map(async ([v, yaml]) => {
      const config = yaml === undefined ? path.join(ROOT, "config", "deployment.yaml") : writeFile(dir, `${v}.yaml`, yaml);
      const r = await runAsync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { CDKTF_OUTDIR: path.join(dir, v), DEPLOYMENT_CONFIG: config } });
      if (r.status !== 0) throw new Error(`synth of ${v} failed:\n${describeRun(r)}`);
    }),
  );
  const stackDir = (v: string) => path.join(dir, v, "stacks", STACK);
  // The state is made without the stack's outputs: none is in a resource's plan, and an output
  // that fails to plan is what a test below says, not a reason to have no state.
  const building = await OfflineStack.prepare(stackDir("deployed"), path.join(dir, "state"), { env, withoutOutputs: true });
  const [built] = await Promise.all([
    building.deployedState(path.join(dir, "secrets")),
    ...Object.keys(VARIANTS).map(async (v) => (stacks[v as Variant] = await OfflineStack.prepare(stackDir(v), path.join(dir, `plan-${v}`), { env }))),
  ]);
  state = built.state;
  statePlans = built.plans;
  deployedJson = JSON.parse(fs.readFileSync(path.join(stacks.deployed.dir, "cdk.tf.json"), "utf8"));
  for (const v of Object.keys(VARIANTS)) planOf(v as Variant);
}, 300_000);

afterAll(async () => {
  await tripwire?.stop();
  removeDir(tmp);
});

describe("a day-2 plan of primary-infra, with the real Terraform and OpenStack provider, against the state of the default deployment", () => {
  test("the state holds every resource of the stack, and a plan of the stack it was made from (outputs left out) is empty", () => {
    // deployedState throws unless its last plan is empty.
    expect(statePlans).toBeGreaterThan(1);
    const declared = Object.entries(deployedJson.resource).flatMap(([type, rs]) => Object.keys(rs).map((name) => `${type}.${name}`));
    expect(state.resources.map((r) => `${r.type}.${r.name}`).sort()).toEqual(declared.sort());
    expect(deployedVms()).toHaveLength(12);
    // The instances' state holds what the provider keeps: the SHA-1 of the user data, marked sensitive as an apply marks it.
    for (const r of state.resources.filter((x) => x.type === "openstack_compute_instance_v2")) {
      expect({ vm: r.name, userData: r.instances[0].attributes.user_data }).toEqual({ vm: r.name, userData: expect.stringMatching(/^[0-9a-f]{40}$/) });
      expect({ vm: r.name, sensitive: r.instances[0].sensitive_attributes }).toEqual({ vm: r.name, sensitive: expect.arrayContaining([[{ type: "get_attr", value: "user_data" }]]) });
    }
    // The only thing of the stack an offline copy does not keep: the external network's lookup.
    expect(stacks.deployed.substituted).toEqual([expect.stringMatching(/^data\.openstack_networking_network_v2\./)]);
  });

  test("GIVEN the default deployment, unchanged, THEN the plan changes no resource and pending_roll is empty for every VM", async () => {
    const plan = await planOf("deployed");
    expect(describeChanges(changesOf(plan))).toEqual([]);
    const pending = pendingRoll(plan);
    expect(Object.keys(pending).sort()).toEqual(deployedVms());
    expect(Object.entries(pending).filter(([, what]) => what.length > 0)).toEqual([]);
  });

  test("GIVEN one more admin SSH key THEN the plan replaces, deletes and changes nothing (the user data is ignored) and pending_roll says 'user data' for every VM", async () => {
    const plan = await planOf("sshKey");
    const changes = changesOf(plan);
    expect(describeChanges(replacedOrDeleted(changes))).toEqual([]);
    expect(describeChanges(changes)).toEqual([]);
    const pending = pendingRoll(plan);
    expect(Object.keys(pending).sort()).toEqual(deployedVms());
    expect(Object.entries(pending).filter(([, what]) => JSON.stringify(what) !== JSON.stringify(["user data"]))).toEqual([]);
  });

  test("GIVEN one more client THEN the plan creates the new client's resources only, and replaces or deletes nothing", async () => {
    const plan = await planOf("client");
    const changes = changesOf(plan);
    expect(describeChanges(replacedOrDeleted(changes))).toEqual([]);
    const created = changes.filter((c) => c.change.actions.join() === "create");
    const updated = changes.filter((c) => c.change.actions.join() === "update");
    report("one more client", created, updated);
    // Everything else is a creation or an update: what each is, in the test's report.
    expect(describeChanges(changes.filter((c) => !created.includes(c) && !updated.includes(c)))).toEqual([]);
    // The new client's own: its instance, port, volume, TLS key, CSR and certificate.
    const isNewClients = (c: ResourceChange) => /[_-]client-5_/.test(c.address);
    expect(describeChanges(created.filter((c) => !isNewClients(c)))).toEqual([]);
    expect(created.map((c) => c.type).sort()).toEqual(
      ["openstack_blockstorage_volume_v3", "openstack_compute_instance_v2", "openstack_networking_port_v2", "tls_cert_request", "tls_locally_signed_cert", "tls_private_key"].sort(),
    );
    expect(created.find((c) => c.type === "openstack_compute_instance_v2")?.change.after).toMatchObject({ name: "fleet-primary-client-5" });
    // No running instance changes: what differs of their user data is ignored.
    expect(updated.filter((c) => c.type === "openstack_compute_instance_v2").map((c) => `${c.address}: ${changedAttributes(c).join(", ")}`)).toEqual([]);
    const pending = pendingRoll(plan);
    process.stdout.write(`one more client: pending_roll ${JSON.stringify(Object.fromEntries(Object.entries(pending).filter(([, w]) => w.length > 0)))}\n`);
    expect(Object.keys(pending).sort()).toEqual([...deployedVms(), "fleet-primary-client-5"].sort());
    expect(pending["fleet-primary-client-5"]).toBe("unknown");
  });

  test("GIVEN one more admin SSH key WHEN npm run roll plans fleet-primary-server-2's replacement (terraform plan -replace) THEN it replaces that instance only, with the changed user data, on its port and with its volume; GIVEN one more client it refuses, naming what else the plan does", async () => {
    const address = `openstack_compute_instance_v2.${Object.entries(deployedJson.resource.openstack_compute_instance_v2).find(([, r]) => r.name === "fleet-primary-server-2")![0]}`;
    const [sshKey, client] = await Promise.all([stacks.sshKey.plan(state, [`-replace=${address}`]), stacks.client.plan(state, [`-replace=${address}`])]);
    expect(rollPlanProblems(sshKey, address)).toEqual([]);
    const replaced = changesOf(sshKey).find((c) => c.address === address)!;
    expect(replaced.change.actions).toEqual(["delete", "create"]);
    const before = replaced.change.before as { user_data: string; network: { port: string }[]; block_device: { uuid: string }[] };
    const after = replaced.change.after as typeof before;
    // The created instance takes the declared user data (ignore_changes is for updates only), on the same port and volume.
    expect(after.user_data).toMatch(/^[0-9a-f]{40}$/);
    expect(after.user_data).not.toBe(before.user_data);
    expect(after.network[0].port).toBe(before.network[0].port);
    expect(after.block_device[0].uuid).toBe(before.block_device[0].uuid);
    const refused = rollPlanProblems(client, address);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((p) => /client-5_.* would be created$/.test(p))).toBe(true);
  });

  test("the OpenStack provider never reached an API (its clouds.yaml names a tripwire on loopback)", async () => {
    // Whether they succeed or not (the tests above say), the plans are done.
    await Promise.allSettled(Object.keys(VARIANTS).map((v) => planOf(v as Variant)));
    expect(plans.size).toBe(Object.keys(VARIANTS).length);
    expect(tripwire!.connections).toBe(0);
  });
});

/** What a plan creates and updates, in the test's output. */
function report(what: string, created: readonly ResourceChange[], updated: readonly ResourceChange[]): void {
  const lines = [
    `${what}: creates ${created.length}, updates ${updated.length}`,
    ...created.map((c) => `  + ${c.address}`),
    ...updated.map((c) => `  ~ ${c.address}: ${changedAttributes(c).join(", ")}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
