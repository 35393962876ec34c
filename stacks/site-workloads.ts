/**
 * Every workload of a site, from the deployment file: the reference systems it runs, the apps it
 * declares, and the shared services (ingress, monitoring, logs, autoscaler, backups).
 * One list, used by both layers: the infra stack opens ports and declares host volumes from it;
 * the platform stack deploys it.
 */
import { ConfigProblem, SiteConfig } from "../config/deployment";
import { ProblemsError } from "../constructs/problems";
import { AppInput } from "../config/schema";
import { ServiceProtocol } from "../constructs/consul/mesh";
import { autoscalerWorkload } from "../constructs/workloads/autoscaler";
import { BackupTarget, Backups } from "../constructs/workloads/backups";
import { Ingress, routesFrom } from "../constructs/workloads/ingress";
import { loggingWorkloads } from "../constructs/workloads/logging";
import { monitoringWorkloads } from "../constructs/workloads/monitoring";
import { CLUSTER_CA_TEMPLATE, DataServiceKind, dependencyOn, WorkloadSpec } from "../constructs/workloads/spec";
import { SYSTEM_BLUEPRINTS } from "../constructs/workloads/systems";

/**
 * A workload declared under `platform.apps` in the deployment file. A dependency without a
 * localPort is reached on the port of the workload it names, looked up in `others`.
 */
export function appWorkload(app: AppInput, domain: string, others: readonly Pick<WorkloadSpec, "name" | "port">[] = []): WorkloadSpec {
  const byName = new Map(others.map((w) => [w.name, w]));
  return {
    name: app.name,
    description: app.description,
    image: app.image,
    version: app.version,
    resources: { cpuMhz: app.cpuMhz, memoryMb: app.memoryMb },
    count: app.count,
    port: {
      containerPort: app.port,
      protocol: ServiceProtocol.HTTP,
      healthPath: app.healthPath,
      ...(app.public ? { public: { host: `${app.public}.${domain}` } } : {}),
      ...(app.metricsPath ? { metricsPath: app.metricsPath } : {}),
    },
    dependsOn: app.dependsOn.map((d) => {
      const target = byName.get(d.service);
      return target ? dependencyOn(target, d.localPort !== undefined ? { localPort: d.localPort } : {}) : { service: d.service, localPort: d.localPort ?? 0 };
    }),
    ...(Object.keys(app.env).length > 0 ? { env: app.env } : {}),
    ...(Object.keys(app.settings).length > 0 ? { settings: app.settings } : {}),
    ...(app.scaling ? { scaling: app.scaling } : {}),
  };
}

/**
 * Everything a site runs, in one list. The workloads that talk to the agents read the cluster CA
 * from the shared Nomad variable (the platform stack fills it).
 */
export function siteWorkloads(site: SiteConfig): WorkloadSpec[] {
  const caPem = CLUSTER_CA_TEMPLATE;
  const p = site.platform;
  if (!p) return [];
  // The registry is needed by what pulls from it only (loadDeployment asks for it when systems run).
  const registry = (): string => {
    if (p.registry === undefined) throw new ProblemsError([`site ${site.name}: platform.registry: expected an image registry and path, e.g. registry.example.org/platform: the reference systems and the database backups pull their images from it`]);
    return p.registry;
  };
  const systems = p.systems.flatMap((name) => SYSTEM_BLUEPRINTS[name]({ domain: p.domain, registry: registry(), version: p.version, standby: p.standby }));
  const shared = [
    ...monitoringWorkloads({ datacenter: site.datacenter, domain: p.domain, caPem, ...(p.alertWebhook !== undefined ? { alertWebhookUrl: p.alertWebhook } : {}) }),
    ...loggingWorkloads(),
    autoscalerWorkload({ caPem, region: site.datacenter }),
  ];
  // What an app may call: the site's other workloads, with their ports.
  const callable = [...systems, ...shared, ...p.apps.map((a) => ({ name: a.name, port: { containerPort: a.port } }))];
  const own = [...systems, ...p.apps.map((a) => appWorkload(a, p.domain, callable))];
  const backups = p.backups ? Backups.specs({ destination: { ...p.backups, prefix: site.name }, clusterCaPem: caPem, targets: backupTargets(own, registry) }) : [];
  const all = [...own, ...shared, ...backups];
  return [...all, Ingress.spec({ routes: routesFrom(all) })];
}

/** Consul, Nomad, and every database the site runs (by what the catalog built); each backup job has its one upstream. */
function backupTargets(specs: readonly WorkloadSpec[], registry: () => string): BackupTarget[] {
  const targets = [BackupTarget.consul(), BackupTarget.nomad()];
  for (const s of specs) {
    switch (s.dataService) {
      case DataServiceKind.POSTGRES:
        targets.push(BackupTarget.postgres({ service: s.name, image: { image: `${registry()}/postgres-backup`, version: s.version } }));
        break;
      case DataServiceKind.MARIADB:
        targets.push(BackupTarget.mariadb({ service: s.name, image: { image: `${registry()}/mariadb-backup`, version: s.version } }));
        break;
      case DataServiceKind.INFLUXDB:
        targets.push(BackupTarget.influxdb({ service: s.name }));
        break;
      default:
      // MinIO and RabbitMQ have no backup target in the catalog (README, fail-over and restore).
    }
  }
  return targets;
}

/**
 * The apps of each site against the workloads the library adds to it (a DeploymentCheck): a name
 * a catalog or reference-system workload already has, a dependency on no workload of the site, a
 * public host another route serves, a scaling range that is empty or leaves out the count. One
 * problem per field, with its path in the deployment file.
 */
export function appProblems(sites: readonly SiteConfig[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  sites.forEach((site, i) => {
    const p = site.platform;
    if (!p || p.apps.length === 0) return;
    const at = `sites[${i}].platform.apps`;
    let added: WorkloadSpec[] = [];
    try {
      added = siteWorkloads({ ...site, platform: { ...p, apps: [] } });
    } catch (e) {
      if (!(e instanceof ProblemsError)) throw e; // reported by synth, with the stack that holds it
    }
    const reserved = new Set(added.map((w) => w.name));
    const all = [...new Set([...reserved, ...p.apps.map((a) => a.name)])].sort();
    const hosts = new Map(routesFrom(added).filter((r) => (r.pathPrefix ?? "/") === "/").map((r) => [r.host, r.service]));
    const appNames = new Set<string>();
    p.apps.forEach((a, j) => {
      if (reserved.has(a.name)) out.push({ path: `${at}[${j}].name`, value: a.name, expected: `a name no workload of site ${site.name} has (the library adds ${a.name} to every site with a platform, or with its systems)` });
      else if (appNames.has(a.name)) out.push({ path: `${at}[${j}].name`, value: a.name, expected: "a name used by one app only" });
      appNames.add(a.name);
      a.dependsOn.forEach((d, k) => {
        if (!all.includes(d.service) || d.service === a.name) out.push({ path: `${at}[${j}].dependsOn[${k}].service`, value: d.service, expected: `another workload of site ${site.name}: one of ${all.filter((n) => n !== a.name).join(", ")}` });
        else if (d.localPort === undefined && reserved.has(d.service) && !added.find((w) => w.name === d.service)?.port) {
          out.push({ path: `${at}[${j}].dependsOn[${k}].localPort`, value: undefined, expected: `a port: ${d.service} has none of its own to default to` });
        }
      });
      if (a.public) {
        const host = `${a.public}.${p.domain}`;
        const taken = hosts.get(host);
        if (taken) out.push({ path: `${at}[${j}].public`, value: a.public, expected: `a host name no other workload serves (${host} is ${taken}'s)` });
        else hosts.set(host, a.name);
      }
      if (a.scaling && a.scaling.min > a.scaling.max) out.push({ path: `${at}[${j}].scaling.min`, value: a.scaling.min, expected: `at most scaling.max (${a.scaling.max})` });
      else if (a.scaling && (a.count < a.scaling.min || a.count > a.scaling.max)) out.push({ path: `${at}[${j}].count`, value: a.count, expected: `a starting count inside scaling [${a.scaling.min}, ${a.scaling.max}]` });
    });
  });
  return out;
}
