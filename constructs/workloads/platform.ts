import { Annotations, Fn } from "cdktf";
import { Construct } from "constructs";
import { AclAuthMethod } from "@cdktf/provider-consul/lib/acl-auth-method";
import { AclBindingRule } from "@cdktf/provider-consul/lib/acl-binding-rule";
import { FailoverQuery, ServiceIntentions } from "../consul/mesh";
import { WorkloadSpec, validateWorkloads } from "./spec";
import { OtherDeclaration, WORKLOAD_ROLE_PREFIX, Workload, workloadProtocol, workloadRules } from "./workload";
import { collectingProblems, reportProblems } from "../problems";

/** The Consul auth method Nomad's workload identities log in with (Nomad's default name). */
export const NOMAD_AUTH_METHOD = "nomad-workloads";

export interface PlatformProps {
  /** Every workload of the site. */
  readonly workloads: readonly WorkloadSpec[];
  /** Consul datacenter and Nomad datacenter. */
  readonly datacenter: string;
  /** Nomad's HTTPS API, whose JWKS signs the workload identities. */
  readonly nomadAddress: string;
  /** CA certificate of the cluster (PEM), to trust Nomad's JWKS endpoint. */
  readonly caPem: string;
  /** Datacenters the services' prepared queries fail over to. @default - no prepared queries */
  readonly failoverDatacenters?: readonly string[];
  /**
   * The sites whose federation-wide objects this platform owns, this site first when it is
   * one of them. In a Consul federation, ACL policies, roles and config entries (service-defaults,
   * intentions) live in the primary datacenter and replicate from it: a write to a secondary is
   * forwarded there. So the primary site's stack owns them for every site it federates (the
   * policies valid in each datacenter where the workload runs), and a secondary's stack passes
   * `[]`; it owns only what is local to its datacenter (jobs, variables, KV, prepared queries,
   * the auth method and its binding rules).
   * @default - this site alone
   */
  readonly globalObjectsFor?: readonly FederatedSite[];
}

/** A site of the federation, as the owner of its global objects sees it. */
export interface FederatedSite {
  readonly datacenter: string;
  readonly workloads: readonly WorkloadSpec[];
}

/**
 * A site's workloads with what follows from their declarations: intentions from their
 * dependencies (everything else denied), each workload's ACL policy and role bound to its Nomad
 * workload identity, and prepared queries that fail over to the other site.
 */
export class Platform extends Construct {
  readonly workloads: ReadonlyMap<string, Workload>;
  readonly intentions: ReadonlyMap<string, ServiceIntentions>;
  readonly queries: readonly FailoverQuery[];

  constructor(scope: Construct, id: string, props: PlatformProps) {
    super(scope, id);
    const problems = validateWorkloads(props.workloads, `datacenter ${props.datacenter}:`);
    if (problems.length > 0) {
      // Recorded, not thrown: synth reports them with every other problem of the deployment.
      reportProblems(this, problems);
      this.workloads = new Map();
      this.intentions = new Map();
      this.queries = [];
      return;
    }

    const auth = new AclAuthMethod(this, "auth-method", {
      name: NOMAD_AUTH_METHOD,
      displayName: "Nomad workload identities",
      description: "Nomad tasks and services log in with their workload identity (JWT signed by Nomad)",
      type: "jwt",
      maxTokenTtl: "1h",
      // Terraform encodes it: the CA is a multi-line value known at apply time.
      configJson: Fn.jsonencode({
        JWKSURL: `${props.nomadAddress}/.well-known/jwks.json`,
        JWKSCACert: props.caPem,
        JWTSupportedAlgs: ["RS256"],
        BoundAudiences: ["consul.io"],
        ClaimMappings: { nomad_namespace: "nomad_namespace", nomad_job_id: "nomad_job_id", nomad_task: "nomad_task", nomad_service: "nomad_service" },
      }),
    });
    new AclBindingRule(this, "services-binding", {
      authMethod: auth.name,
      description: "A Nomad service registers as itself (service identity)",
      selector: '"nomad_service" in value',
      bindType: "service",
      bindName: "$${value.nomad_service}",
    });
    new AclBindingRule(this, "tasks-binding", {
      authMethod: auth.name,
      description: "A Nomad task gets its workload's role (least privilege per workload)",
      selector: '"nomad_service" not in value',
      bindType: "role",
      bindName: `${WORKLOAD_ROLE_PREFIX}$\${value.nomad_job_id}`,
    });

    const globalSites = props.globalObjectsFor ?? [{ datacenter: props.datacenter, workloads: props.workloads }];
    const owned = Platform.globalWorkloads(globalSites, props.datacenter, (problem) => Annotations.of(this).addError(problem));
    if (globalSites.length > 0) ServiceIntentions.denyAll(this, "deny-all");
    const workloads = new Map<string, Workload>();
    const workloadsScope = new Construct(this, "workloads");
    const here = new Set(props.workloads.map((s) => s.name));
    const specs = [...props.workloads, ...[...owned.values()].map((o) => o.spec).filter((s) => !here.has(s.name))];
    for (const spec of specs) {
      const workload = collectingProblems(
        workloadsScope,
        () =>
          new Workload(workloadsScope, spec.name, {
          spec,
          datacenters: [props.datacenter],
          datacenter: props.datacenter,
          runsHere: here.has(spec.name),
          globalDatacenters: owned.get(spec.name)?.datacenters ?? [],
          otherDatacenters: owned.get(spec.name)?.others ?? [],
          }),
      );
      if (workload) workloads.set(spec.name, workload);
    }
    this.workloads = workloads;

    const sources = new Map<string, string[]>();
    for (const spec of globalSites.flatMap((s) => s.workloads)) {
      for (const d of spec.dependsOn ?? []) {
        if (d.datacenter) continue;
        sources.set(d.service, [...(sources.get(d.service) ?? []), spec.name]);
      }
    }
    const intentions = new Map<string, ServiceIntentions>();
    const intentionsScope = new Construct(this, "intentions");
    for (const [destination, from] of [...sources.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      intentions.set(destination, new ServiceIntentions(intentionsScope, destination, { destination, allow: [...new Set(from)] }));
    }
    this.intentions = intentions;

    const queries: FailoverQuery[] = [];
    if (props.failoverDatacenters && props.failoverDatacenters.length > 0) {
      const queriesScope = new Construct(this, "queries");
      for (const spec of props.workloads.filter((s) => s.port)) {
        queries.push(new FailoverQuery(queriesScope, spec.name, { service: spec.name, failoverDatacenters: props.failoverDatacenters }));
      }
    }
    this.queries = queries;
  }

  /**
   * The workloads whose federation-wide objects are owned here: each with the declaration that
   * comes first (this site's), the datacenters that declare the same Consul rules, and those that
   * declare other rules (their own policy). Its service-defaults are one object for the whole
   * federation: two protocols for one service is an error naming both datacenters.
   */
  private static globalWorkloads(
    sites: readonly FederatedSite[],
    datacenter: string,
    problem: (message: string) => void,
  ): Map<string, { spec: WorkloadSpec; datacenters: string[]; others: OtherDeclaration[] }> {
    const out = new Map<string, { spec: WorkloadSpec; datacenters: string[]; others: OtherDeclaration[] }>();
    const ordered = [...sites].sort((a, b) => Number(b.datacenter === datacenter) - Number(a.datacenter === datacenter));
    for (const site of ordered) {
      for (const spec of site.workloads) {
        const seen = out.get(spec.name);
        if (!seen) {
          out.set(spec.name, { spec, datacenters: [site.datacenter], others: [] });
          continue;
        }
        if (workloadProtocol(seen.spec) !== workloadProtocol(spec)) {
          problem(
            `workload ${spec.name}: protocol ${workloadProtocol(seen.spec) ?? "none"} in datacenter ${seen.datacenters[0]}, ${workloadProtocol(spec) ?? "none"} in ${site.datacenter}; expected one protocol, since its service-defaults are shared by the federation`,
          );
        }
        if (workloadRules(seen.spec).toString() === workloadRules(spec).toString()) seen.datacenters.push(site.datacenter);
        else seen.others.push({ datacenter: site.datacenter, spec });
      }
    }
    return out;
  }
}
