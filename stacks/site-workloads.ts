/**
 * Every workload of a site, from the deployment file: the reference systems it runs, the apps it
 * declares, and the shared services (ingress, monitoring, logs, autoscaler, backups).
 * One list, used by both layers: the infra stack opens ports and declares host volumes from it;
 * the platform stack deploys it.
 */
import { SiteConfig } from "../config/deployment";
import { AppInput } from "../config/schema";
import { ServiceProtocol } from "../constructs/consul/mesh";
import { autoscalerWorkload } from "../constructs/workloads/autoscaler";
import { BackupTarget, Backups } from "../constructs/workloads/backups";
import { InfluxDb, MariaDb, Postgres } from "../constructs/workloads/data";
import { Ingress, routesFrom } from "../constructs/workloads/ingress";
import { loggingWorkloads } from "../constructs/workloads/logging";
import { monitoringWorkloads } from "../constructs/workloads/monitoring";
import { CLUSTER_CA_TEMPLATE, WorkloadSpec } from "../constructs/workloads/spec";
import { SYSTEM_BLUEPRINTS } from "../constructs/workloads/systems";

/** A workload declared under `platform.apps` in the deployment file. */
export function appWorkload(app: AppInput, domain: string): WorkloadSpec {
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
    dependsOn: app.dependsOn,
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
  const own = [
    ...p.systems.flatMap((name) => SYSTEM_BLUEPRINTS[name]({ domain: p.domain, registry: p.registry, version: p.version, standby: p.standby })),
    ...p.apps.map((a) => appWorkload(a, p.domain)),
  ];
  const shared = [
    ...monitoringWorkloads({ datacenter: site.datacenter, domain: p.domain, caPem, alertWebhookUrl: p.alertWebhook }),
    ...loggingWorkloads(),
    autoscalerWorkload({ caPem, region: site.datacenter }),
  ];
  const backups = p.backups ? Backups.specs({ destination: { ...p.backups, prefix: site.name }, clusterCaPem: caPem, targets: backupTargets(own, p.registry) }) : [];
  const all = [...own, ...shared, ...backups];
  return [...all, Ingress.spec({ routes: routesFrom(all) })];
}

/** Consul, Nomad, and every database the site runs; each backup job has its one upstream. */
function backupTargets(specs: readonly WorkloadSpec[], registry: string): BackupTarget[] {
  const targets = [BackupTarget.consul(), BackupTarget.nomad()];
  for (const s of specs) {
    if (s.image === Postgres.DEFAULT_IMAGE) targets.push(BackupTarget.postgres({ service: s.name, image: { image: `${registry}/postgres-backup`, version: s.version } }));
    if (s.image === MariaDb.DEFAULT_IMAGE) targets.push(BackupTarget.mariadb({ service: s.name, image: { image: `${registry}/mariadb-backup`, version: s.version } }));
    if (s.image === InfluxDb.DEFAULT_IMAGE) targets.push(BackupTarget.influxdb({ service: s.name }));
  }
  return targets;
}
