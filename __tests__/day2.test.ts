/**
 * Day 2: a routine change to the deployment file never replaces a running VM. What would (the
 * user data, the image, the flavor, the volumes) is ignored by `apply` and listed per VM in the
 * infra stack's `pending_roll` output, for `npm run roll`.
 */
import { Testing } from "cdktf";
import { parseDeployment } from "../config/deployment";
import { AgentSettings, ClusterSettings } from "../cloud-init/agents";
import { renderServer, SERVER_DATA_ROOT } from "../cloud-init/role-configs";
import { Vm } from "../constructs/openstack/vm";
import { AGENT_VERSIONS_OUTPUT, TESTED_AGENT_VERSIONS, upgradeProblem } from "../config/versions";
import { PENDING_ROLL_OUTPUT } from "../ops/infra-outputs";
import { infraStacksOf, upgradeRefusals } from "../ops/upgrade-check";
import { buildDeployment } from "../stacks/deployment";
import { collectErrors } from "../stacks/synth";
import { editedYaml, writtenFiles } from "./helpers";

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
  test("GIVEN the default deployment THEN every instance ignores its user data, image, flavor, volumes and server group", () => {
    for (const [site, j] of Object.entries(before)) {
      for (const [name, r] of Object.entries(instances(j))) {
        expect({ site, name, ignore: (r.lifecycle as { ignore_changes?: string[] })?.ignore_changes }).toEqual({ site, name, ignore: ["user_data", "image_name", "flavor_name", "block_device", "scheduler_hints"] });
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
        expect(expr).toContain(`nonsensitive((openstack_compute_instance_v2.${id}.user_data == sha1(local.`);
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

  test("GIVEN another anti-affinity policy (a new server group) WHEN synthesized THEN no server changes for an apply, and pending_roll compares the group", () => {
    const after = synth(editedYaml((d) => { d.sites[0].antiAffinity = "soft"; }));
    const [b, a] = [instances(before.primary), instances(after.primary)];
    for (const id of Object.keys(b)) expect(applied(a[id])).toEqual(applied(b[id]));
    const server = Object.entries(a).find(([, r]) => String(r.name).endsWith("-server-1"))!;
    expect((after.primary.output[PENDING_ROLL_OUTPUT].value as Record<string, string>)[String(server[1].name)]).toContain(`tolist(openstack_compute_instance_v2.${server[0]}.scheduler_hints).0.group == openstack_compute_servergroup_v2.`);
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
  test("GIVEN the default deployment THEN every job with a writable host volume updates with no canary and no automatic revert, one allocation at a time, and has 60 s to stop", () => {
    const app = Testing.app();
    const stacks = buildDeployment(app, parseDeployment(editedYaml(() => undefined), "d.yaml"));
    type Job = { Job: { ID: string; Update?: { Canary: number; MaxParallel: number; AutoRevert: boolean }; TaskGroups: { Volumes?: Record<string, { Type: string; ReadOnly?: boolean }>; Tasks: { KillTimeout?: number }[] }[] } };
    const stateful: string[] = [];
    for (const s of stacks.values()) {
      const j = JSON.parse(Testing.synth(s.platform)) as { resource: Record<string, Record<string, { jobspec?: string }>> };
      for (const r of Object.values(j.resource.nomad_job ?? {})) {
        const job = (JSON.parse(r.jobspec!) as Job).Job;
        if (!job.TaskGroups.some((g) => Object.values(g.Volumes ?? {}).some((v) => v.Type === "host" && !v.ReadOnly))) continue;
        stateful.push(job.ID);
        expect({ id: job.ID, canary: job.Update?.Canary, maxParallel: job.Update?.MaxParallel, autoRevert: job.Update?.AutoRevert, kill: job.TaskGroups[0].Tasks[0].KillTimeout }).toEqual({ id: job.ID, canary: 0, maxParallel: 1, autoRevert: false, kill: 60e9 });
      }
    }
    expect(new Set(stateful)).toEqual(new Set(["community-postgres", "fleet-influxdb", "fleet-minio", "fleet-postgres", "images-minio", "images-rabbitmq", "loki", "paas-mariadb", "prometheus"]));
  });
});

describe("servers keep their Raft data on a persistent volume", () => {
  const servers = (j: StackJson) => Object.entries(instances(j)).filter(([, r]) => String(r.name).includes("-server-"));

  test("GIVEN the default deployment THEN every server has a 10 GB data volume attached, never deleted with the instance", () => {
    for (const j of Object.values(before)) {
      const volumes = Object.values(j.resource.openstack_blockstorage_volume_v3 ?? {});
      for (const [, r] of servers(j)) {
        expect(volumes.find((v) => v.name === `${String(r.name)}-data`)).toMatchObject({ size: 10 });
        expect(r.block_device).toEqual([expect.objectContaining({ delete_on_termination: false, source_type: "volume", destination_type: "volume" })]);
      }
    }
  });

  test("GIVEN the default deployment THEN no apply may destroy a data volume (servers' and clients')", () => {
    for (const j of Object.values(before)) {
      const volumes = Object.values(j.resource.openstack_blockstorage_volume_v3 ?? {});
      expect(volumes.length).toBeGreaterThan(0);
      for (const v of volumes) expect({ name: v.name, lifecycle: v.lifecycle }).toEqual({ name: v.name, lifecycle: { prevent_destroy: true } });
    }
  });

  test("GIVEN vms.server.volumeGb WHEN set THEN that size", () => {
    const after = synth(editedYaml((d) => { d.sites[0].vms.server.volumeGb = 25; }));
    const volumes = Object.values(after.primary.resource.openstack_blockstorage_volume_v3);
    expect(volumes.filter((v) => String(v.name).includes("-server-")).map((v) => v.size)).toEqual([25, 25, 25]);
  });

  test("GIVEN a server's user data THEN its agents keep their data on the volume and do not start without it; autopilot never reaps below the server count", () => {
    const ud = String(before.primary.locals![Object.keys(before.primary.locals!).find((l) => l.startsWith("servers_server-2_"))!]);
    // nofail: a missing volume must not stop the boot (no SSH); the agents require the mount.
    expect(ud).toContain("LABEL=server-data /var/lib/platform ext4 defaults,nofail,x-systemd.device-timeout=5min 0 2");
    const cluster: ClusterSettings = { datacenter: "dc1", region: "dc1", serverAddresses: ["10.0.1.10", "10.0.1.11", "10.0.1.12"], consulGossipKey: "g1", nomadGossipKey: "g2" };
    const agent: AgentSettings = { nodeName: "s2", address: "10.0.1.11", server: true, tls: { caPem: "CA", certPem: "C", keyPem: "K" }, consulAgentToken: "a", nomadConsulToken: "n", dataRoot: SERVER_DATA_ROOT };
    const text = writtenFiles(renderServer({ hostname: "s2", adminUser: "ops", sshKeys: [] }, { cluster, agent }, undefined, Vm.DATA_VOLUME_DEVICE).render());
    expect(JSON.parse(text["/etc/consul.d/consul.json"])).toMatchObject({ data_dir: "/var/lib/platform/consul", autopilot: { min_quorum: 3, cleanup_dead_servers: true } });
    expect(JSON.parse(text["/etc/nomad.d/nomad.json"])).toMatchObject({ data_dir: "/var/lib/platform/nomad", autopilot: { min_quorum: 3 } });
    for (const unit of ["consul", "nomad"]) expect(text[`/etc/systemd/system/${unit}.service`]).toContain("RequiresMountsFor=/var/lib/platform\n");
    expect(() => renderServer({ hostname: "s2", adminUser: "ops", sshKeys: [] }, { cluster, agent })).toThrow("renderServer s2: agent.dataRoot /var/lib/platform needs the volume it lives on; expected volumeDevice");
  });
});


describe("data volumes belong to named clients and stay there", () => {
  /** Each client's writable host volumes, read from the Nomad configuration in its user data. */
  function placement(j: StackJson): Record<string, string> {
    const out: Record<string, string> = {};
    for (const v of Object.values(j.locals ?? {}).map(String)) {
      const client = /hostname: fleet-\w+-(client-\d+)/.exec(v)?.[1];
      if (!client) continue;
      for (const m of v.matchAll(/\\"(\S+?)\\": \{\\n\s+\\"path\\": \\"\/srv\/nomad\//g)) out[m[1]] = client;
    }
    return out;
  }
  const errorsOf = (yaml: string) => {
    const app = Testing.app();
    buildDeployment(app, parseDeployment(yaml, "d.yaml"));
    return collectErrors(app).map((e) => e.replace(/^[^:]+: /, "")).filter((e) => e.includes("dataVolumes"));
  };

  test("GIVEN the default deployment THEN each data volume is on the client the file names", () => {
    const file = parseDeployment(editedYaml(() => undefined), "d.yaml").sites.find((s) => s.name === "primary")!.platform!.dataVolumes;
    expect(placement(before.primary)).toEqual(file);
  });

  test("GIVEN one more client, or one fewer that holds none, THEN no data volume moves", () => {
    const more = synth(editedYaml((d) => { d.sites[0].vms.client.count += 1; }));
    expect(placement(more.primary)).toEqual(placement(before.primary));
    const backup = synth(editedYaml((d) => { d.sites[1].vms.client.count += 1; }));
    expect(placement(backup.backup)).toEqual(placement(before.backup));
  });

  test("fails when a client that keeps a data volume is removed, naming the volume and the workload", () => {
    expect(errorsOf(editedYaml((d) => { d.sites[0].vms.client.count = 3; }))).toEqual([
      'site primary: platform.dataVolumes.community-postgres: client-4 is not a client of the site (clients: client-1, client-2, client-3); expected the client that keeps the data of workload "community-postgres". A client that holds a data volume is not removed before its data is moved (README, "Changing a running site": moving a data volume)',
      'site primary: platform.dataVolumes.prometheus-data: client-4 is not a client of the site (clients: client-1, client-2, client-3); expected the client that keeps the data of workload "prometheus". A client that holds a data volume is not removed before its data is moved (README, "Changing a running site": moving a data volume)',
    ]);
  });

  test("fails when a data volume has no client, suggesting a placement; and on a volume no workload uses", () => {
    expect(errorsOf(editedYaml((d) => { delete d.sites[0].platform.dataVolumes["fleet-postgres"]; d.sites[0].platform.dataVolumes["old-db"] = "client-2"; }))).toEqual([
      "site primary: platform.dataVolumes: no client keeps fleet-postgres; expected each data volume pinned to a client, which keeps it whatever clients are added later, e.g. dataVolumes: { fleet-postgres: client-1 }",
      expect.stringMatching(/^site primary: platform\.dataVolumes\.old-db: no workload of the site has a data volume old-db; expected one of: community-postgres, fleet-influxdb, /),
    ]);
  });
});

describe("certificates: explicit lifetimes and renewal", () => {
  const certs = (j: StackJson) => Object.values(j.resource.tls_locally_signed_cert ?? {});
  const ca = (j: StackJson) => Object.values(j.resource.tls_self_signed_cert ?? {});

  test("GIVEN the default deployment THEN agents' certificates last 365 days and are re-issued 30 days before; the CA lasts 5 years and is re-issued (same key) a year before", () => {
    for (const c of certs(before.primary)) expect(c).toMatchObject({ validity_period_hours: 8760, early_renewal_hours: 720 });
    expect(ca(before.primary)).toEqual([expect.objectContaining({ validity_period_hours: 43800, early_renewal_hours: 8760 })]);
    expect(ca(before.backup)).toEqual([]); // the federation's CA is the primary's
  });

  test("GIVEN certificates in the file THEN those lifetimes, for both sites", () => {
    const after = synth(editedYaml((d) => { d.certificates = { agentValidityDays: 730, renewBeforeDays: 60, caValidityDays: 3650 }; }));
    for (const j of Object.values(after)) for (const c of certs(j)) expect(c).toMatchObject({ validity_period_hours: 17520, early_renewal_hours: 1440 });
    expect(ca(after.primary)).toEqual([expect.objectContaining({ validity_period_hours: 87600 })]);
  });

  const refused = (certificates: Record<string, number>) => {
    try {
      parseDeployment(editedYaml((d) => { d.certificates = certificates; }), "d.yaml");
    } catch (err) {
      return (err as Error).message.split("\n").filter((l) => l.includes("certificates"));
    }
    throw new Error("expected the deployment to be refused");
  };
  test("fails when renewal starts before the certificate is issued", () => {
    expect(refused({ agentValidityDays: 60, renewBeforeDays: 60 }).join("\n")).toMatch(/certificates\.renewBeforeDays[\s\S]*60[\s\S]*fewer days than certificates\.agentValidityDays \(60\)/);
  });
  test("fails when the CA would be re-issued at once (its last year) or outlived by an agent's certificate", () => {
    expect(refused({ agentValidityDays: 365, caValidityDays: 365 }).join("\n")).toMatch(/certificates\.caValidityDays[\s\S]*365[\s\S]*at least certificates\.agentValidityDays \+ 365 \(730\)/);
    expect(refused({ agentValidityDays: 800, caValidityDays: 1000 }).join("\n")).toMatch(/certificates\.caValidityDays[\s\S]*1000[\s\S]*at least certificates\.agentValidityDays \+ 365 \(1165\)/);
  });
});

describe("upgrades: the agents' versions are per-site settings", () => {
  const [cMajor, cMinor] = TESTED_AGENT_VERSIONS.consul.split(".").map(Number);
  const [nMajor, nMinor] = TESTED_AGENT_VERSIONS.nomad.split(".").map(Number);
  const packagesOf = (j: StackJson) => Object.values(j.locals ?? {}).map(String).flatMap((v) => [...v.matchAll(/(consul|nomad)=(\d+\.\d+\.\d+)-1/g)].map((m) => `${m[1]}=${m[2]}`));

  test("GIVEN no agents in the file THEN every VM installs the tested versions, and the infra stack records them in its agent_versions output", () => {
    for (const j of Object.values(before)) {
      expect([...new Set(packagesOf(j))].sort()).toEqual([`consul=${TESTED_AGENT_VERSIONS.consul}`, `nomad=${TESTED_AGENT_VERSIONS.nomad}`]);
      expect(j.output[AGENT_VERSIONS_OUTPUT]).toMatchObject({ value: TESTED_AGENT_VERSIONS });
      expect(j.output[AGENT_VERSIONS_OUTPUT].sensitive).toBeUndefined();
    }
  });

  test("GIVEN an earlier minor Consul and Nomad on the backup site THEN its VMs install them, the primary's do not change, and no VM is replaced (the backup's wait in pending_roll)", () => {
    const older = { consul: `${cMajor}.${cMinor - 2}.4`, nomad: `${nMajor}.${nMinor - 1}.7` };
    const after = synth(editedYaml((d) => { d.sites[1].agents = older; }));
    expect([...new Set(packagesOf(after.backup))].sort()).toEqual([`consul=${older.consul}`, `nomad=${older.nomad}`]);
    expect(after.primary).toEqual(before.primary);
    for (const r of Object.values(instances(after.backup))) expect(r.lifecycle).toEqual({ ignore_changes: [...Vm.ROLLED_ATTRIBUTES] });
  });

  test("GIVEN a later patch of the tested versions THEN it is accepted", () => {
    expect(() => parseDeployment(editedYaml((d) => { d.sites[0].agents = { consul: `${cMajor}.${cMinor}.99`, nomad: `${nMajor}.${nMinor}.99` }; }), "d.yaml")).not.toThrow();
  });

  const refusedAgents = (agents: Record<string, string>) => {
    try {
      parseDeployment(editedYaml((d) => { d.sites[0].agents = agents; }), "d.yaml");
    } catch (err) {
      return (err as Error).message.split("\n").filter((l) => l.includes("agents"));
    }
    throw new Error("expected the deployment to be refused");
  };
  test("fails on a version the library does not render for: a later minor, one older than the upgrade window, not major.minor.patch", () => {
    expect(refusedAgents({ nomad: `${nMajor}.${nMinor + 1}.0` }).join("\n")).toMatch(new RegExp(`sites\\[0\\]\\.agents\\.nomad[\\s\\S]*${nMajor}\\.${nMinor + 1}\\.0[\\s\\S]*Nomad ${nMajor}\\.${nMinor - 1}\\.x to ${nMajor}\\.${nMinor}\\.x: this library renders its configuration for Nomad ${TESTED_AGENT_VERSIONS.nomad}`));
    expect(refusedAgents({ consul: `${cMajor}.${cMinor - 3}.0` }).join("\n")).toMatch(new RegExp(`sites\\[0\\]\\.agents\\.consul[\\s\\S]*Consul ${cMajor}\\.${cMinor - 2}\\.x to ${cMajor}\\.${cMinor}\\.x`));
    expect(refusedAgents({ consul: "latest" }).join("\n")).toMatch(/sites\[0\]\.agents\.consul[\s\S]*latest[\s\S]*a version like \d+\.\d+\.\d+ \(major\.minor\.patch\)/);
  });

  test("an upgrade against the deployed versions: at most 2 minor versions for Consul, 1 for Nomad, never down (HashiCorp's upgrade guides)", () => {
    expect(upgradeProblem("consul", "1.20.3", "1.22.2")).toBeUndefined();
    expect(upgradeProblem("nomad", "1.10.5", "1.11.1")).toBeUndefined();
    expect(upgradeProblem("nomad", "1.11.0", "1.11.1")).toBeUndefined();
    expect(upgradeProblem("consul", "1.19.0", "1.22.2")).toBe("1.19.0 to 1.22.2 jumps 3 minor versions; Consul supports at most 2 per upgrade: upgrade to the latest 1.21.x first, roll it, then go on");
    expect(upgradeProblem("nomad", "1.9.7", "1.11.1")).toBe("1.9.7 to 1.11.1 jumps 2 minor versions; Nomad supports at most 1 per upgrade: upgrade to the latest 1.10.x first, roll it, then go on");
    expect(upgradeProblem("consul", "1.22.3", "1.22.2")).toMatch(/^1\.22\.2 is older than the 1\.22\.3 the site runs: Consul does not support a downgrade/);
    expect(upgradeRefusals("backup-infra", { consul: "1.22.2", nomad: "1.9.0" }, { consul: "1.22.2", nomad: "1.11.1" })).toEqual([
      "site backup: agents.nomad: 1.9.0 to 1.11.1 jumps 2 minor versions; Nomad supports at most 1 per upgrade: upgrade to the latest 1.10.x first, roll it, then go on",
    ]);
    expect(upgradeRefusals("backup-infra", undefined, { consul: "1.22.2", nomad: "1.11.1" })).toEqual([]);
    // Until every VM has rolled, the VMs may still run older versions than the deployed output says.
    expect(upgradeRefusals("backup-infra", { consul: "1.21.0", nomad: "1.11.1" }, { consul: "1.22.2", nomad: "1.11.1" }, ["fleet-backup-server-1"])).toEqual([
      "site backup: agents: consul 1.21.0 to 1.22.2 while 1 VM(s) still wait for a roll (fleet-backup-server-1): they may still run older versions; roll them first (npm run roll -- backup-infra), then deploy the new versions",
    ]);
    expect(upgradeRefusals("backup-infra", { consul: "1.22.2", nomad: "1.11.1" }, { consul: "1.22.2", nomad: "1.11.1" }, ["fleet-backup-server-1"])).toEqual([]);
  });

  test("the deploy command line's infra stacks: those named, or every one for none or a glob", () => {
    const manifest = { stacks: { "primary-infra": {}, "primary-platform": {}, "backup-infra": { workingDirectory: "stacks/backup-infra" } } };
    expect(infraStacksOf(["primary-infra", "--auto-approve"], manifest).map((s) => s.stack)).toEqual(["primary-infra"]);
    expect(infraStacksOf(["--output", "out"], manifest).map((s) => s.stack)).toEqual(["primary-infra", "backup-infra"]);
    expect(infraStacksOf(["*"], manifest).map((s) => s.stack)).toEqual(["primary-infra", "backup-infra"]);
    expect(infraStacksOf(["primary-platform"], manifest)).toEqual([]);
    expect(infraStacksOf(["backup-*", "--outputs-file", "primary-infra"], manifest).map((s) => s.stack)).toEqual(["backup-infra"]);
    expect(infraStacksOf(["p?imary-infra", "--parallelism", "2"], manifest).map((s) => s.stack)).toEqual(["primary-infra"]);
  });
});
