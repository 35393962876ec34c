/**
 * `npm run bench`: median wall time and peak memory of the cdktf app command (what `cdktf synth`
 * runs: node --import tsx main.ts) for the real deployment and for generated deployments of 10,
 * 100 and 1000 VMs with as many jobs, beside an empty cdktf app (the floor), all in one run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));

interface Sample {
  readonly seconds: number;
  readonly peakMb: number;
}

/** Runs the app command once under GNU time; returns wall seconds and peak RSS. */
function once(entry: string, env: Record<string, string>): Sample {
  const outdir = path.join(work, "out");
  fs.rmSync(outdir, { recursive: true, force: true });
  const t0 = process.hrtime.bigint();
  const res = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, "--import", "tsx", entry], {
    cwd: ROOT,
    env: { ...process.env, CDKTF_OUTDIR: outdir, ...env },
    encoding: "utf8",
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (res.status !== 0) throw new Error(`${entry} failed: ${res.stderr}`);
  const kb = Number(res.stderr.trim().split("\n").pop());
  return { seconds, peakMb: kb / 1024 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(entry: string, env: Record<string, string> = {}, runs = RUNS): Sample {
  once(entry, env); // warm tsx's transform cache and the OS file cache
  const samples = Array.from({ length: runs }, () => once(entry, env));
  return { seconds: median(samples.map((s) => s.seconds)), peakMb: Math.max(...samples.map((s) => s.peakMb)) };
}

/**
 * The default deployment with its primary site grown to `vms` VMs (servers, utility, clients)
 * running as many jobs: apps declared in the file, each calling the one before it.
 */
function generated(vms: number): string {
  const doc = parse(fs.readFileSync(path.join(ROOT, "config", "deployment.yaml"), "utf8"));
  const site = doc.sites[0];
  const fixed = 3 + 3; // servers + bastion, vpn, ingress
  site.addressPlan.tiers = { utility: "10.10.0.0/24", servers: "10.10.1.0/24", clients: "10.10.16.0/20", development: "10.10.2.0/24" };
  site.vms.client = { count: Math.max(vms - fixed, 1), volumeGb: 50 };
  site.vms.development = { count: 0 };
  site.platform.systems = [];
  site.platform.apps = Array.from({ length: vms }, (_, i) => ({
    name: `app-${i}`,
    image: "registry.example.org/app",
    version: "1.0.0",
    cpuMhz: 50,
    memoryMb: 64,
    port: 8080,
    ...(i % 10 === 0 ? { public: `app-${i}` } : {}),
    ...(i > 0 ? { dependsOn: [{ service: `app-${i - 1}`, localPort: 9000 }] } : {}),
  }));
  doc.sites = [site];
  delete site.peerSite;
  const file = path.join(work, `deployment-${vms}.yaml`);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

/**
 * The rehearsal's boot times of the default primary site (rehearsal/): boot to Consul leader,
 * to Nomad leader, to every check of the cluster passed. Needs root and the toolchain; without
 * them the table says so instead.
 */
async function rehearsalRows(): Promise<string[]> {
  const { loadToolchainEnv } = await import("../rehearsal/host");
  if (process.getuid?.() !== 0 || !loadToolchainEnv(path.join(ROOT, ".toolchain", "env"))) return ["rehearsal: not measured (needs root and npm run toolchain)"];
  const { rehearse } = await import("../rehearsal/run");
  const outdir = path.join(work, "rehearsal-out");
  const r = spawnSync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { ...process.env, CDKTF_OUTDIR: outdir }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`synth for the rehearsal failed: ${r.stderr}`);
  const which = (t: string) => fs.realpathSync(spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim());
  const report = await rehearse({ from: outdir, sites: ["primary"], platform: false, faults: false, binaries: { consul: which("consul"), nomad: which("nomad") }, out: () => undefined });
  const ms = (re: RegExp) => report.checks.find((c) => re.test(c.name))?.ms;
  const cluster = report.checks.filter((c) => c.name.startsWith("primary: "));
  const sec = (v: number | undefined) => (v === undefined ? "-" : (v / 1000).toFixed(1));
  return [
    `rehearsal of the primary site (${report.vms.length} VMs), ${report.ok ? "every check passed" : "SOME CHECKS FAILED"}:`,
    "| from boot to | s |",
    "| --- | ---: |",
    `| Consul leader | ${sec(ms(/Consul leader/))} |`,
    `| Nomad leader | ${sec(ms(/Nomad leader/))} |`,
    `| every cluster check passed | ${sec(Math.max(...cluster.map((c) => c.ms)))} |`,
    `| (whole rehearsal, agents' peak ${report.peakMemoryMb} MB) | ${sec(report.wallMs)} |`,
  ];
}

async function main(): Promise<void> {
  const rows: [string, Sample][] = [];
  const floor = measure("scripts/bench/empty-app.ts");
  rows.push(["empty cdktf app (floor)", floor]);
  rows.push(["config/deployment.yaml", measure("main.ts")]);
  for (const n of [10, 100, 1000]) rows.push([`generated, ${n} VMs and ${n} jobs`, measure("main.ts", { DEPLOYMENT_CONFIG: generated(n) }, n >= 1000 ? Math.min(RUNS, 3) : RUNS)]);
  const lines = [
    `bench: ${RUNS} runs each (median wall time, peak RSS), node ${process.version}, ${os.cpus().length} CPUs`,
    "| case | median s | x floor | peak MB |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map(([name, s]) => `| ${name} | ${s.seconds.toFixed(2)} | ${(s.seconds / floor.seconds).toFixed(2)} | ${s.peakMb.toFixed(0)} |`),
  ];
  process.stdout.write(`${lines.join("\n")}\n\n`);
  process.stdout.write(`${(await rehearsalRows()).join("\n")}\n`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
