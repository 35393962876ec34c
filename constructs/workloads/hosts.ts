/**
 * What the workloads ask of the client VMs, read from their Nomad jobs (the job model is what
 * Nomad schedules, so the VMs declare and open exactly what the jobs use): the host volumes each
 * client declares and the host ports the firewall opens. What the job model does not hold stays
 * in the declaration: a shared folder's path on the host, and who may reach a host port.
 */
import { ANY_NODE_CLASS, HostPort, WorkloadSpec } from "./spec";
import { workloadJob } from "./workload";

/** What one workload's job asks of the clients: its node class, host volumes and host ports. */
interface JobHostNeeds {
  /** ANY_NODE_CLASS when the job has no node class constraint. */
  readonly nodeClass: string;
  readonly volumes: readonly { readonly source: string; readonly readOnly: boolean }[];
  readonly ports: readonly { readonly label: string; readonly port: number }[];
}

/** Reads a workload's needs from the JSON of its job (the Nomad API's job format). */
function jobHostNeeds(spec: WorkloadSpec): JobHostNeeds {
  type JobJson = {
    Job: {
      Constraints?: { LTarget: string; RTarget: string; Operand: string }[];
      TaskGroups: { Volumes?: Record<string, { Type: string; Source: string; ReadOnly?: boolean }>; Networks?: { ReservedPorts?: { Label: string; Value: number }[] }[] }[];
    };
  };
  const job = (workloadJob(spec, ["*"]).toJson() as unknown as JobJson).Job;
  const nodeClass = (job.Constraints ?? []).find((c) => c.LTarget === "${node.class}" && c.Operand === "=")?.RTarget ?? ANY_NODE_CLASS;
  const groups = job.TaskGroups;
  return {
    nodeClass,
    volumes: groups.flatMap((g) => Object.values(g.Volumes ?? {}).filter((v) => v.Type === "host").map((v) => ({ source: v.Source, readOnly: v.ReadOnly === true }))),
    ports: groups.flatMap((g) => (g.Networks ?? []).flatMap((n) => (n.ReservedPorts ?? []).map((r) => ({ label: r.Label, port: r.Value })))),
  };
}

/** A Nomad client VM as the plan sees it. */
export interface ClientHost {
  readonly name: string;
  readonly nodeClass: string;
  /** The VM has a persistent data disk (vms.client.volumeGb). */
  readonly hasDataDisk: boolean;
}

export interface HostPlan {
  /** Per client: host volume name to host path. */
  readonly volumes: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Per client: host volumes declared read-only (shared host folders every workload only reads). */
  readonly readOnlyVolumes: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly problems: readonly string[];
}

/**
 * Where each data volume lives. With `pinned` (the deployment file's `platform.dataVolumes`),
 * each one is on the client it names, and stays there whatever clients are added or removed; a
 * volume it does not place, a client it names that is gone, or a volume no workload uses is a
 * problem (the first lists a placement to start from). Without it (a library user's own stack),
 * data volumes go round-robin to the clients of the workload's class that have a data disk.
 * Shared host folders go to every client of the class.
 */
export function planHostVolumes(where: string, specs: readonly WorkloadSpec[], clients: readonly ClientHost[], dataDir: string, pinned?: Readonly<Record<string, string>>): HostPlan {
  const volumes = new Map<string, Record<string, string>>(clients.map((c) => [c.name, {}]));
  const readOnlyVolumes = new Map<string, Record<string, string>>(clients.map((c) => [c.name, {}]));
  const problems: string[] = [];
  const next = new Map<string, number>();
  const unplaced: { source: string; candidates: readonly ClientHost[] }[] = [];
  const used = new Set<string>();
  for (const s of specs) {
    const needs = s.volume ? jobHostNeeds(s) : undefined;
    if (!needs) continue;
    const cls = needs.nodeClass;
    const ofClass = clients.filter((c) => cls === ANY_NODE_CLASS || c.nodeClass === cls);
    for (const v of needs.volumes) {
      // A shared folder of the host: where it is on the host is the declaration's, not the job's.
      const hostPath = s.volume?.source === v.source ? s.volume.hostPath : undefined;
      if (hostPath) {
        const into = v.readOnly ? readOnlyVolumes : volumes;
        for (const c of ofClass) into.get(c.name)![v.source] = hostPath;
        continue;
      }
      used.add(v.source);
      const withDisk = ofClass.filter((c) => c.hasDataDisk);
      if (withDisk.length === 0) {
        problems.push(`${where} workload "${s.name}": needs data volume "${v.source}", but no client of node class "${cls}" has a data disk; expected vms.client.volumeGb`);
        continue;
      }
      if (!pinned) {
        const i = next.get(cls) ?? 0;
        next.set(cls, i + 1);
        volumes.get(withDisk[i % withDisk.length].name)![v.source] = `${dataDir}/${v.source}`;
        continue;
      }
      const at = pinned[v.source];
      if (at === undefined) {
        unplaced.push({ source: v.source, candidates: withDisk });
        continue;
      }
      const host = clients.find((c) => c.name === at);
      if (!host) {
        problems.push(
          `${where} platform.dataVolumes.${v.source}: ${at} is not a client of the site (clients: ${withDisk.map((c) => c.name).join(", ")}); expected the client that keeps the data of workload "${s.name}". A client that holds a data volume is not removed before its data is moved (README, "Changing a running site": moving a data volume)`,
        );
      } else if (!withDisk.includes(host)) {
        problems.push(`${where} platform.dataVolumes.${v.source}: ${at} ${ofClass.includes(host) ? "has no data disk" : `is not of node class "${cls}"`}; expected a client of class "${cls}" with a data disk for workload "${s.name}": ${withDisk.map((c) => c.name).join(", ")}`);
      } else {
        volumes.get(host.name)![v.source] = `${dataDir}/${v.source}`;
      }
    }
  }
  if (unplaced.length > 0) {
    // A placement to start from: each to the candidate holding the fewest volumes so far.
    const load = new Map(clients.map((c) => [c.name, Object.keys(volumes.get(c.name) ?? {}).length]));
    const suggestion = unplaced.map(({ source, candidates }) => {
      const c = [...candidates].sort((a, b) => load.get(a.name)! - load.get(b.name)!)[0];
      load.set(c.name, load.get(c.name)! + 1);
      return `${source}: ${c.name}`;
    });
    problems.push(`${where} platform.dataVolumes: no client keeps ${unplaced.map((u) => u.source).join(", ")}; expected each data volume pinned to a client, which keeps it whatever clients are added later, e.g. dataVolumes: { ${suggestion.join(", ")} }`);
  }
  for (const k of Object.keys(pinned ?? {})) {
    if (!used.has(k)) problems.push(`${where} platform.dataVolumes.${k}: no workload of the site has a data volume ${k}; expected one of: ${[...used].sort().join(", ") || "none (no workload keeps data)"}`);
  }
  return { volumes, readOnlyVolumes, problems };
}

/**
 * Host ports the workloads' jobs bind, by node class, each with who may reach it (from the
 * declaration's host port of the same label; the clients, when it declares none).
 */
export function hostPortsByNodeClass(specs: readonly WorkloadSpec[]): Map<string, HostPort[]> {
  const out = new Map<string, HostPort[]>();
  for (const s of specs) {
    if ((s.hostPorts ?? []).length === 0) continue;
    const needs = jobHostNeeds(s);
    for (const p of needs.ports) {
      const declared = (s.hostPorts ?? []).find((h) => h.label === p.label);
      const port: HostPort = { ...(declared ?? { label: p.label, from: "clients" as const }), port: p.port };
      out.set(needs.nodeClass, [...(out.get(needs.nodeClass) ?? []), port]);
    }
  }
  return out;
}
