import { TerraformResource, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { ConsulProvider } from "@cdktf/provider-consul/lib/provider";
import { KeyPrefix } from "@cdktf/provider-consul/lib/key-prefix";
import { Keys } from "@cdktf/provider-consul/lib/keys";
import { AclPolicy as NomadAclPolicy } from "@cdktf/provider-nomad/lib/acl-policy";
import { NomadProvider } from "@cdktf/provider-nomad/lib/provider";
import { Variable as NomadVariable } from "@cdktf/provider-nomad/lib/variable";
import { DeploymentConfig, SiteConfig } from "../config/deployment";
import { Password, PrivateKey, RandomProvider, SelfSignedCert, TlsProvider } from "../constructs/openstack/l1";
import { capacityProblems } from "../constructs/workloads/capacity";
import { nomadVariablesFor } from "../constructs/workloads/data";
import { FederatedSite, Platform } from "../constructs/workloads/platform";
import { SecretSource, WorkloadSpec } from "../constructs/workloads/spec";
import { InfraStack, NODE_CLASSES } from "./infra-stack";
import { collectingProblems, ProblemsError, reportProblems } from "../constructs/problems";

export interface PlatformStackProps {
  readonly deployment: DeploymentConfig;
  readonly site: SiteConfig;
  /** The site's infra stack: the cluster's addresses, CA and tokens come from it. */
  readonly infra: InfraStack;
  /** The site's workloads (stacks/site-workloads.ts). @default - none: the stack configures the cluster only */
  readonly workloads?: readonly WorkloadSpec[];
  /** Datacenter the services' prepared queries fail over to (the linked site). @default - none */
  readonly failoverDatacenter?: string;
  /**
   * The sites whose federation-wide objects (Consul ACL policies and roles, service-defaults and
   * intentions; Nomad ACL policies) this stack owns: the primary site's stack owns them for every
   * site federated with it, a federated site's stack owns none (Platform, globalObjectsFor).
   * @default - this site alone
   */
  readonly globalObjectsFor?: readonly FederatedSite[];
}

/**
 * Where resources lived before their declaration moved into the workloads (Terraform `moved`
 * blocks, so that a running site keeps them: Grafana's generated admin password above all). Keys
 * are `<type>.<workload or owner/key>` of the new declaration; values the former address.
 */
const FORMER_ADDRESSES: Readonly<Record<string, string>> = {
  "nomad_acl_policy.nomad-autoscaler": "nomad_acl_policy.autoscaler-policy",
  "consul_keys.grafana": "consul_keys.grafana-admin",
  "random_password.grafana/admin_password": "random_password.grafana-admin-password",
};

/** Adds a `moved` block from the resource's former address, when it had one. */
function carryOver(resource: TerraformResource, key: string): void {
  const from = FORMER_ADDRESSES[key];
  if (from) resource.moveFromId(from);
}

/**
 * A site's running platform, configured through Consul's and Nomad's APIs. Separate from the
 * infra stack because these providers need a running, bootstrapped cluster.
 */
export class PlatformStack extends TerraformStack {
  readonly consulProvider: ConsulProvider;
  readonly nomadProvider: NomadProvider;
  readonly platform?: Platform;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id);
    const { site, infra } = props;
    const ca = infra.cluster.ca.certPem;
    this.consulProvider = new ConsulProvider(this, "consul", {
      address: infra.consulAddresses[0].replace(/^https:\/\//, ""),
      scheme: "https",
      datacenter: site.datacenter,
      caPem: ca,
      token: infra.cluster.consulManagementToken.value,
    });
    this.nomadProvider = new NomadProvider(this, "nomad", {
      address: infra.nomadAddresses[0],
      region: site.datacenter,
      caPem: ca,
      secretId: infra.cluster.nomadManagementToken.value,
    });
    new KeyPrefix(this, "site", {
      pathPrefix: `platform/${site.name}/`,
      subkeys: { datacenter: site.datacenter, region: site.region, project: props.deployment.project },
    });

    const workloads = props.workloads ?? [];
    if (workloads.length === 0 || !site.platform) return;
    const p = site.platform;
    new RandomProvider(this, "random");
    new TlsProvider(this, "tls");

    reportProblems(this, this.capacity(site, workloads));

    this.platform = new Platform(this, "platform", {
      workloads,
      datacenter: site.datacenter,
      nomadAddress: infra.nomadAddresses[0],
      caPem: ca,
      ...(props.failoverDatacenter ? { failoverDatacenters: [props.failoverDatacenter] } : {}),
      ...(props.globalObjectsFor ? { globalObjectsFor: props.globalObjectsFor } : {}),
    });
    collectingProblems(this, () => this.secrets(workloads, infra, p.domain));
    // Nomad ACL policies are global to a federation of regions: owned with the other global objects.
    const globalSites = props.globalObjectsFor ?? [{ datacenter: site.datacenter, workloads }];
    const withPolicy = new Map(globalSites.flatMap((s) => s.workloads).filter((w) => w.nomadPolicy).map((w) => [w.name, w]));
    const policies = withPolicy.size > 0 ? new Construct(this, "nomad-policies") : undefined;
    for (const w of withPolicy.values()) {
      const policy = new NomadAclPolicy(policies as Construct, w.name, { name: w.name, description: w.nomadPolicy!.description, rulesHcl: w.nomadPolicy!.rules, jobAcl: { jobId: w.name } });
      carryOver(policy, `nomad_acl_policy.${w.name}`);
    }
  }

  /**
   * The capacity check's problems. A job that cannot be built is not counted: the Platform
   * reports its problems (once), and the capacity of the others is still checked.
   */
  private capacity(site: SiteConfig, workloads: readonly WorkloadSpec[]): readonly string[] {
    const p = site.platform as NonNullable<SiteConfig["platform"]>;
    try {
      return capacityProblems(`site ${site.name}`, workloads, this.nodeClasses(site), p);
    } catch (e) {
      if (!(e instanceof ProblemsError)) throw e;
      return [];
    }
  }

  /** What the clients hold, per node class, from the flavors' sizes. */
  private nodeClasses(site: SiteConfig) {
    const sizes = site.platform?.flavorSizes ?? {};
    const of = (vms: SiteConfig["clients"], nodeClass: string) =>
      vms.length === 0 ? [] : [{ nodeClass, nodes: vms.length, vcpusPerNode: sizes[vms[0].flavor]?.vcpus ?? 0, ramMbPerNode: sizes[vms[0].flavor]?.ramMb ?? 0 }];
    return [...of(site.clients, NODE_CLASSES.clients), ...of(site.ingress, NODE_CLASSES.ingress)];
  }

  /**
   * The Nomad variables the workloads' templates read, filled by Terraform: generated passwords
   * (one per key name, so a database and its backup share it), the ingress certificate, the
   * cluster's management tokens for the snapshots, and the backup credentials from sensitive
   * variables. All of it is in this stack's state; none of it is in the synthesized JSON.
   */
  private secrets(workloads: readonly WorkloadSpec[], infra: InfraStack, domain: string): void {
    const scope = new Construct(this, "secrets");
    let cert: { certPem: string; keyPem: string } | undefined;
    const ingress = () => (cert ??= this.ingressCertificate(scope, domain));
    /** The value a source stands for: made once per source (and per owner and key for generated ones). */
    const value = (key: string, source: SecretSource): string => {
      switch (source.kind) {
        case "cluster-ca":
          return infra.cluster.ca.certPem;
        case "cluster-token":
          return source.agent === "consul" ? infra.cluster.consulManagementToken.value : infra.cluster.nomadManagementToken.value;
        case "ingress-certificate":
          return ingress().certPem;
        case "ingress-private-key":
          return ingress().keyPem;
        case "variable": {
          const found = scope.node.tryFindChild(key) as TerraformVariable | undefined;
          if (found) return found.stringValue;
          const v = new TerraformVariable(scope, key, { type: "string", sensitive: true, nullable: false, description: source.description });
          v.overrideLogicalId(key);
          return v.stringValue;
        }
        case "generated": {
          // One secret per owner and key: a database and its backup job share it, two databases do not.
          const owner = (scope.node.tryFindChild(source.owner) as Construct | undefined) ?? new Construct(scope, source.owner);
          const found = owner.node.tryFindChild(key) as Password | undefined;
          if (found) return found.result;
          const password = new Password(owner, key, { length: 32, special: false });
          carryOver(password, `random_password.${source.owner}/${key}`);
          return password.result;
        }
      }
    };
    // One variable per path: several workloads may read the same one (the shared nomad/jobs).
    const byPath = new Map<string, Map<string, SecretSource>>();
    for (const need of nomadVariablesFor(workloads)) {
      const entry = byPath.get(need.path) ?? new Map<string, SecretSource>();
      for (const key of need.keys) entry.set(key, need.sources[key]);
      byPath.set(need.path, entry);
    }
    const vars = new Construct(scope, "variables");
    for (const [path, keys] of [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const items: Record<string, string> = {};
      for (const key of [...keys.keys()].sort()) items[key] = value(key, keys.get(key) as SecretSource);
      new NomadVariable(vars, path.replace(/\//g, "-"), { path, items });
    }
    // KV entries of secrets (a template's `key`), deleted with the stack.
    const kvWorkloads = workloads.filter((w) => (w.kvSecrets ?? []).length > 0);
    const kv = kvWorkloads.length > 0 ? new Construct(scope, "kv") : undefined;
    for (const w of kvWorkloads) {
      const entries = (w.kvSecrets ?? []).map((e) => ({ path: e.path, value: value(e.key, e.source), delete: true }));
      const keys = new Keys(kv as Construct, w.name, { key: entries });
      carryOver(keys, `consul_keys.${w.name}`);
    }
  }

  /** A self-signed certificate for *.<domain>, until a real one replaces it (README, Deploying). */
  private ingressCertificate(scope: Construct, domain: string): { certPem: string; keyPem: string } {
    const key = new PrivateKey(scope, "ingress-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const cert = new SelfSignedCert(scope, "ingress-cert", {
      privateKeyPem: key.privateKeyPem,
      validityPeriodHours: 8760,
      earlyRenewalHours: 720,
      allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
      dnsNames: [domain, `*.${domain}`],
      subject: [{ commonName: `*.${domain}` }],
    });
    return { certPem: cert.certPem, keyPem: key.privateKeyPem };
  }
}
