import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ConsulProvider } from "@cdktf/provider-consul/lib/provider";
import { KeyPrefix } from "@cdktf/provider-consul/lib/key-prefix";
import { NomadProvider } from "@cdktf/provider-nomad/lib/provider";
import { DeploymentConfig, SiteConfig } from "../config/deployment";
import { InfraStack } from "./infra-stack";

export interface PlatformStackProps {
  readonly deployment: DeploymentConfig;
  readonly site: SiteConfig;
  /** The site's infra stack: the cluster's addresses, CA and tokens come from it. */
  readonly infra: InfraStack;
}

/**
 * A site's running platform, configured through Consul's and Nomad's APIs. Separate from the
 * infra stack because these providers need a running, bootstrapped cluster.
 */
export class PlatformStack extends TerraformStack {
  readonly consulProvider: ConsulProvider;
  readonly nomadProvider: NomadProvider;

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
  }
}
