/**
 * What the workloads ask of the client VMs, derived from their declarations: the Nomad host
 * volumes each client declares and the host ports the firewall opens.
 */
import { ANY_NODE_CLASS, DEFAULT_NODE_CLASS, HostPort, WorkloadSpec } from "./spec";

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
 * Data volumes go round-robin to the clients of the workload's class that have a data disk (so a
 * stateful workload always lands where its data is); shared host folders go to every client of
 * the class.
 */
export function planHostVolumes(where: string, specs: readonly WorkloadSpec[], clients: readonly ClientHost[], dataDir: string): HostPlan {
  const volumes = new Map<string, Record<string, string>>(clients.map((c) => [c.name, {}]));
  const readOnlyVolumes = new Map<string, Record<string, string>>(clients.map((c) => [c.name, {}]));
  const problems: string[] = [];
  const next = new Map<string, number>();
  for (const s of specs) {
    if (!s.volume) continue;
    const cls = s.nodeClass ?? DEFAULT_NODE_CLASS;
    const ofClass = clients.filter((c) => cls === ANY_NODE_CLASS || c.nodeClass === cls);
    if (s.volume.hostPath) {
      const into = s.volume.readOnly ? readOnlyVolumes : volumes;
      for (const c of ofClass) into.get(c.name)![s.volume.source] = s.volume.hostPath;
      continue;
    }
    const withDisk = ofClass.filter((c) => c.hasDataDisk);
    if (withDisk.length === 0) {
      problems.push(`${where} workload "${s.name}": needs data volume "${s.volume.source}", but no client of node class "${cls}" has a data disk; expected vms.client.volumeGb`);
      continue;
    }
    const i = next.get(cls) ?? 0;
    next.set(cls, i + 1);
    volumes.get(withDisk[i % withDisk.length].name)![s.volume.source] = `${dataDir}/${s.volume.source}`;
  }
  return { volumes, readOnlyVolumes, problems };
}

/** Host ports the workloads bind, by node class. */
export function hostPortsByNodeClass(specs: readonly WorkloadSpec[]): Map<string, HostPort[]> {
  const out = new Map<string, HostPort[]>();
  for (const s of specs) {
    for (const h of s.hostPorts ?? []) {
      const cls = s.nodeClass ?? DEFAULT_NODE_CLASS;
      out.set(cls, [...(out.get(cls) ?? []), h]);
    }
  }
  return out;
}
