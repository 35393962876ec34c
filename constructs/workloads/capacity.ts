/**
 * The capacity check: what the jobs ask (count × asks, autoscaler maximums and Connect sidecars
 * included, system jobs once per node of their class) against what the site's Nomad clients hold.
 */
import { ANY_NODE_CLASS, DEFAULT_NODE_CLASS, WorkloadKind, WorkloadSpec } from "./spec";
import { workloadJob } from "./workload";

/** What the clients of one node class hold. */
export interface NodeClassCapacity {
  readonly nodeClass: string;
  readonly nodes: number;
  readonly vcpusPerNode: number;
  readonly ramMbPerNode: number;
}

export interface CapacityOptions {
  readonly cpuMhzPerVcpu: number;
  /** Share of each node kept for the OS and the agents, in percent. */
  readonly reservedPercent: number;
}

export interface ClassUsage {
  readonly nodeClass: string;
  readonly askedCpuMhz: number;
  readonly askedMemoryMb: number;
  readonly cpuMhz: number;
  readonly memoryMb: number;
  /** The largest askers, for the message. */
  readonly top: readonly { readonly name: string; readonly cpuMhz: number; readonly memoryMb: number }[];
}

/** Asks and capacity per node class. */
export function capacityUsage(specs: readonly WorkloadSpec[], classes: readonly NodeClassCapacity[], opts: CapacityOptions): ClassUsage[] {
  const keep = 1 - opts.reservedPercent / 100;
  return classes.map((c) => {
    const asks = specs
      .filter((s) => s.nodeClass === ANY_NODE_CLASS || (s.nodeClass ?? DEFAULT_NODE_CLASS) === c.nodeClass)
      .map((s) => {
        const totals = workloadJob(s, ["capacity"]).resourceTotals();
        const times = (s.kind ?? WorkloadKind.SERVICE) === WorkloadKind.SYSTEM ? c.nodes : 1;
        return { name: s.name, cpuMhz: totals.cpuMhz * times, memoryMb: totals.memoryMb * times };
      })
      .sort((a, b) => b.cpuMhz - a.cpuMhz || a.name.localeCompare(b.name));
    return {
      nodeClass: c.nodeClass,
      askedCpuMhz: asks.reduce((t, a) => t + a.cpuMhz, 0),
      askedMemoryMb: asks.reduce((t, a) => t + a.memoryMb, 0),
      cpuMhz: Math.floor(c.nodes * c.vcpusPerNode * opts.cpuMhzPerVcpu * keep),
      memoryMb: Math.floor(c.nodes * c.ramMbPerNode * keep),
      top: asks.slice(0, 5),
    };
  });
}

/** One line per node class whose jobs do not fit, with the numbers. */
export function capacityProblems(where: string, specs: readonly WorkloadSpec[], classes: readonly NodeClassCapacity[], opts: CapacityOptions): string[] {
  const known = new Set(classes.map((c) => c.nodeClass));
  const problems: string[] = [];
  for (const s of specs) {
    const cls = s.nodeClass ?? DEFAULT_NODE_CLASS;
    if (cls !== ANY_NODE_CLASS && !known.has(cls)) problems.push(`capacity: ${where} workload "${s.name}" runs on node class "${cls}", which no client has; expected one of ${[...known].sort().join(", ")}`);
  }
  for (const u of capacityUsage(specs, classes, opts)) {
    const c = classes.find((x) => x.nodeClass === u.nodeClass) as NodeClassCapacity;
    const over: string[] = [];
    if (u.askedCpuMhz > u.cpuMhz) over.push(`CPU ${u.askedCpuMhz} MHz > ${u.cpuMhz} MHz`);
    if (u.askedMemoryMb > u.memoryMb) over.push(`memory ${u.askedMemoryMb} MB > ${u.memoryMb} MB`);
    if (over.length === 0) continue;
    const held = `${c.nodes} × (${c.vcpusPerNode} vCPU × ${opts.cpuMhzPerVcpu} MHz, ${c.ramMbPerNode} MB), ${opts.reservedPercent}% reserved`;
    const top = u.top.map((t) => `${t.name} ${t.cpuMhz} MHz/${t.memoryMb} MB`).join(", ");
    problems.push(`capacity: ${where} node class "${u.nodeClass}": the jobs ask ${over.join(" and ")} the clients hold (${held}); largest: ${top}; expected more or larger clients, or smaller asks`);
  }
  return problems;
}
