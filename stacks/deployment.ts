import { DataTerraformRemoteStateConfig, HttpBackend, LocalBackend, S3Backend, TerraformBackend, TerraformRemoteState, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { DeploymentConfig, SiteConfig } from "../config/deployment";
import { BackendInput } from "../config/schema";
import { InfraStack } from "./infra-stack";
import { PlatformStack } from "./platform-stack";
import { siteWorkloads } from "./site-workloads";
import { ProblemsError, reportProblems } from "../constructs/problems";

/** The stacks of one site. */
export interface SiteStacks {
  readonly infra: InfraStack;
  readonly platform: PlatformStack;
}

/**
 * Every site's stacks, `<site>-infra` and `<site>-platform`. Sites that dial a site-to-site
 * tunnel come after the site they dial, whose VPN endpoint they read. Each site's workloads are
 * declared once and given to both layers: the infra stack opens their host ports and declares
 * their volumes, the platform stack runs them.
 */
export function buildDeployment(scope: Construct, deployment: DeploymentConfig): Map<string, SiteStacks> {
  const byName = new Map(deployment.sites.map((s) => [s.name, s]));
  const ordered = [...deployment.sites].sort((a, b) => Number(a.initiatesTunnel) - Number(b.initiatesTunnel));
  const stacks = new Map<string, SiteStacks>();
  // A workload that cannot be built is a problem of its site's platform stack, reported with the others.
  const problemsOf = new Map<string, readonly string[]>();
  const workloadsOf = new Map(
    deployment.sites.map((s) => {
      try {
        return [s.name, siteWorkloads(s)];
      } catch (e) {
        if (!(e instanceof ProblemsError)) throw e;
        problemsOf.set(s.name, e.problems);
        return [s.name, []];
      }
    }),
  );
  // A site that dials its peer federates with it (infra-stack.ts): the peer is its primary.
  const primaryOf = (site: SiteConfig): SiteConfig | undefined => (site.initiatesTunnel && site.peerSite ? byName.get(site.peerSite) : undefined);
  for (const site of ordered) {
    const peerSite: SiteConfig | undefined = site.peerSite ? byName.get(site.peerSite) : undefined;
    const primary = primaryOf(site);
    const peerStack = primary ? stacks.get(primary.name)?.infra : undefined;
    const workloads = workloadsOf.get(site.name) ?? [];
    // The federation's global objects belong to its primary site's stack (PlatformStackProps).
    const globalObjectsFor = primary
      ? []
      : [site, ...deployment.sites.filter((s) => primaryOf(s) === site)].map((s) => ({ datacenter: s.datacenter, workloads: workloadsOf.get(s.name) ?? [] }));
    const infra = new InfraStack(scope, `${site.name}-infra`, { deployment, site, workloads, ...(peerSite ? { peerSite } : {}), ...(peerStack ? { peerStack } : {}) });
    const platform = new PlatformStack(scope, `${site.name}-platform`, { deployment, site, infra, workloads, globalObjectsFor, ...(peerSite ? { failoverDatacenter: peerSite.datacenter } : {}) });
    reportProblems(platform, problemsOf.get(site.name) ?? []);
    useBackend(infra, deployment.backend);
    useBackend(platform, deployment.backend);
    stacks.set(site.name, { infra, platform });
  }
  return stacks;
}

/**
 * Where a stack keeps its state, from the deployment file. The platform stack's references to the
 * infra stack's outputs read it back from the same backend (cdktf writes the remote state data
 * source from the referenced stack's backend). No credential is written: the backends read them
 * from the environment. The state holds the cluster's secrets: see README, Secrets.
 */
export function useBackend(stack: TerraformStack, backend: BackendInput = { type: "local" }): void {
  const name = stack.node.id;
  switch (backend.type) {
    case "local":
      useLocalState(stack);
      return;
    case "s3":
      new S3Backend(stack, {
        bucket: backend.bucket,
        key: `${backend.keyPrefix}${name}.tfstate`,
        region: backend.region,
        encrypt: true,
        ...(backend.endpoint
          ? { endpoints: { s3: backend.endpoint }, usePathStyle: true, skipCredentialsValidation: true, skipRegionValidation: true, skipRequestingAccountId: true, skipS3Checksum: true }
          : {}),
      });
      return;
    case "http":
      new HttpBackend(stack, { address: `${backend.address}${name}`, lockAddress: `${backend.address}${name}`, unlockAddress: `${backend.address}${name}` });
      return;
    case "pg":
      new PgStateBackend(stack, pgSchemaName(backend.schemaPrefix, name));
      return;
  }
}

/** The PostgreSQL schema of a stack's state: `<schemaPrefix><stack>`, `-` written `_` (site names hold no `_`). */
function pgSchemaName(schemaPrefix: string, stack: string): string {
  return `${schemaPrefix}${stack.replace(/-/g, "_")}`;
}

/**
 * Terraform's pg backend with the connection string left to Terraform, which reads PG_CONN_STR
 * (and the libpq variables) from the environment, for the backend and for the remote state the
 * platform stack reads. cdktf's PgBackend requires `connStr` and would write it into the JSON.
 * @internal
 */
class PgStateBackend extends TerraformBackend {
  constructor(
    scope: Construct,
    private readonly schemaName: string,
  ) {
    super(scope, "backend", "pg");
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    return { schema_name: this.schemaName };
  }

  protected synthesizeHclAttributes(): Record<string, unknown> {
    return { schema_name: this.schemaName };
  }

  getRemoteStateDataSource(scope: Construct, name: string, _fromStack: string): TerraformRemoteState {
    return new PgRemoteState(scope, name, { schemaName: this.schemaName, workspace: "${terraform.workspace}" });
  }
}

/** `terraform_remote_state` of a pg backend, with no connection string (PG_CONN_STR). @internal */
class PgRemoteState extends TerraformRemoteState {
  constructor(scope: Construct, id: string, config: DataTerraformRemoteStateConfig & { readonly schemaName: string }) {
    super(scope, id, "pg", config);
  }
}

/**
 * State in the project folder, `terraform.<stack>.tfstate`, by a path relative to the stack's
 * working folder (cdktf.out/stacks/<stack>), so that the synthesized JSON does not depend on
 * where the project is checked out.
 */
export function useLocalState(stack: TerraformStack): void {
  new LocalBackend(stack, { path: `../../../terraform.${stack.node.id}.tfstate` });
}
