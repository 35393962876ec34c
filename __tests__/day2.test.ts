/**
 * Day 2: a routine change to the deployment file never replaces a running VM. What would (the
 * user data, the image, the flavor, the volumes) is ignored by `apply` and listed per VM in the
 * infra stack's `pending_roll` output, for `npm run roll`.
 */
import { Testing } from "cdktf";
import { parseDeployment } from "../config/deployment";
import { Vm } from "../constructs/openstack/vm";
import { PENDING_ROLL_OUTPUT } from "../ops/infra-outputs";
import { buildDeployment } from "../stacks/deployment";
import { editedYaml } from "./helpers";

type StackJson = { resource: Record<string, Record<string, Record<string, unknown>>>; output: Record<string, { value: unknown; sensitive?: boolean }>; locals?: Record<string, unknown> };

function synth(yaml: string): Record<string, StackJson> {
  const app = Testing.app();
  const stacks = buildDeployment(app, parseDeployment(yaml, "d.yaml"));
  return Object.fromEntries([...stacks].map(([site, s]) => [site, JSON.parse(Testing.synth(s.infra)) as StackJson]));
}

const instances = (j: StackJson) => j.resource.openstack_compute_instance_v2 ?? {};

/** An instance's arguments that an apply would act on: all but the ignored ones and the lifecycle block. */
function applied(r: Record<string, unknown>): Record<string, unknown> {
  const ignored = new Set([...Vm.ROLLED_ATTRIBUTES, "lifecycle"]);
  return Object.fromEntries(Object.entries(r).filter(([k]) => !ignored.has(k)));
}

const before = synth(editedYaml(() => undefined));

describe("no change to the deployment file replaces a VM implicitly", () => {
  test("GIVEN the default deployment THEN every instance ignores its user data, image, flavor and volumes", () => {
    for (const [site, j] of Object.entries(before)) {
      for (const [name, r] of Object.entries(instances(j))) {
        expect({ site, name, ignore: (r.lifecycle as { ignore_changes?: string[] })?.ignore_changes }).toEqual({ site, name, ignore: ["user_data", "image_name", "flavor_name", "block_device"] });
      }
    }
  });

  test("GIVEN the default deployment THEN pending_roll lists every VM, comparing what its instance booted with (the provider's SHA-1 of the user data) with what is declared, and is not sensitive", () => {
    for (const j of Object.values(before)) {
      const out = j.output[PENDING_ROLL_OUTPUT];
      expect(out.sensitive).toBeUndefined();
      const value = out.value as Record<string, string>;
      const names = Object.values(instances(j)).map((r) => r.name as string).sort();
      expect(Object.keys(value).sort()).toEqual(names);
      for (const [id, r] of Object.entries(instances(j))) {
        const expr = value[r.name as string];
        expect(expr).toContain(`openstack_compute_instance_v2.${id}.user_data == nonsensitive(sha1(local.`);
        expect(expr).toContain(`openstack_compute_instance_v2.${id}.image_name == "${r.image_name as string}"`);
      }
    }
  });

  test("GIVEN one more admin SSH key WHEN synthesized THEN every VM's user data changes, and nothing an apply acts on", () => {
    const after = synth(editedYaml((d) => { for (const s of d.sites) s.admins.sshKeys.push("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE5xY2J4bWZtaGZxZ3R6c3dqY2x2b2Z0b2Z0b2Z0b2Z0 bob@ops"); }));
    for (const site of Object.keys(before)) {
      const [b, a] = [instances(before[site]), instances(after[site])];
      expect(Object.keys(a)).toEqual(Object.keys(b));
      for (const id of Object.keys(b)) expect(applied(a[id])).toEqual(applied(b[id]));
      const changed = Object.keys(before[site].locals ?? {}).filter((l) => (after[site].locals ?? {})[l] !== before[site].locals![l]);
      expect(changed.length).toBe(Object.keys(b).length);
    }
  });

  test("GIVEN one more client WHEN synthesized THEN it is added, and the existing instances are unchanged for an apply", () => {
    const after = synth(editedYaml((d) => { d.sites[0].vms.client.count += 1; }));
    const [b, a] = [instances(before.primary), instances(after.primary)];
    const added = Object.keys(a).filter((id) => !(id in b));
    expect(added.map((id) => a[id].name)).toEqual(["fleet-primary-client-5"]);
    for (const id of Object.keys(b)) expect(applied(a[id])).toEqual(applied(b[id]));
  });

  test("GIVEN another image WHEN synthesized THEN no instance changes for an apply: the image waits for the roll", () => {
    const after = synth(editedYaml((d) => { d.sites[0].image = "debian-13"; }));
    const [b, a] = [instances(before.primary), instances(after.primary)];
    for (const id of Object.keys(b)) {
      expect(applied(a[id])).toEqual(applied(b[id]));
      expect(a[id].image_name).toBe("debian-13");
    }
  });
});

describe("stateful jobs never run two instances on one data directory", () => {
  test("GIVEN the default deployment THEN every job with a writable host volume updates with no canary, one allocation at a time", () => {
    const app = Testing.app();
    const stacks = buildDeployment(app, parseDeployment(editedYaml(() => undefined), "d.yaml"));
    type Job = { Job: { ID: string; Update?: { Canary: number; MaxParallel: number }; TaskGroups: { Volumes?: Record<string, { Type: string; ReadOnly?: boolean }> }[] } };
    const stateful: string[] = [];
    for (const s of stacks.values()) {
      const j = JSON.parse(Testing.synth(s.platform)) as { resource: Record<string, Record<string, { jobspec?: string }>> };
      for (const r of Object.values(j.resource.nomad_job ?? {})) {
        const job = (JSON.parse(r.jobspec!) as Job).Job;
        if (!job.TaskGroups.some((g) => Object.values(g.Volumes ?? {}).some((v) => v.Type === "host" && !v.ReadOnly))) continue;
        stateful.push(job.ID);
        expect({ id: job.ID, canary: job.Update?.Canary, maxParallel: job.Update?.MaxParallel }).toEqual({ id: job.ID, canary: 0, maxParallel: 1 });
      }
    }
    expect(new Set(stateful)).toEqual(new Set(["community-postgres", "fleet-influxdb", "fleet-minio", "fleet-postgres", "images-minio", "images-rabbitmq", "loki", "paas-mariadb", "prometheus"]));
  });
});
