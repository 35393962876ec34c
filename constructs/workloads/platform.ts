import { Fn } from "cdktf";
import { Construct } from "constructs";
import { AclAuthMethod } from "@cdktf/provider-consul/lib/acl-auth-method";
import { AclBindingRule } from "@cdktf/provider-consul/lib/acl-binding-rule";
import { FailoverQuery, ServiceIntentions } from "../consul/mesh";
import { WorkloadSpec, validateWorkloads } from "./spec";
import { WORKLOAD_ROLE_PREFIX, Workload } from "./workload";

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
}

/** Thrown when the workloads, taken together, do not hold. */
export class WorkloadsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "WorkloadsError";
  }
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
    if (problems.length > 0) throw new WorkloadsError(problems);

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

    ServiceIntentions.denyAll(this, "deny-all");
    const workloads = new Map<string, Workload>();
    const workloadsScope = new Construct(this, "workloads");
    for (const spec of props.workloads) {
      workloads.set(spec.name, new Workload(workloadsScope, spec.name, { spec, datacenters: [props.datacenter], datacenter: props.datacenter }));
    }
    this.workloads = workloads;

    const sources = new Map<string, string[]>();
    for (const spec of props.workloads) {
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
}
