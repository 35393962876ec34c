import { Construct } from "constructs";
import { hostAt, size } from "../../config/net";
import {
  DataOpenstackNetworkingNetworkV2,
  NetworkingNetworkV2,
  NetworkingRouterInterfaceV2,
  NetworkingRouterRouteV2,
  NetworkingRouterV2,
  NetworkingSubnetV2,
} from "./l1";

/** A subnet of the site network. */
export interface Subnet {
  readonly name: string;
  readonly cidr: string;
  /** OpenStack subnet id (a token). */
  readonly id: string;
  /** The raw provider resource. */
  readonly resource: NetworkingSubnetV2;
}

export interface TierSpec {
  /** Subnet range. */
  readonly cidr: string;
  /**
   * Hand out addresses by DHCP from the whole range (true), or keep the range for fixed
   * addresses and give DHCP only hosts .2 to .9 (false).
   * @default true
   */
  readonly dynamic?: boolean;
}

export interface SiteNetworkProps {
  /** Name prefix of the network's resources. */
  readonly name: string;
  /** Subnets by tier name. */
  readonly tiers: Readonly<Record<string, TierSpec>>;
  /** Name of the external network the router uses as its gateway. */
  readonly externalNetworkName: string;
  /** DNS servers handed out by DHCP. */
  readonly dnsServers: readonly string[];
}

/** A private network with a subnet per tier and a router to the external network. */
export class SiteNetwork extends Construct {
  /** Hosts below this offset are DHCP's in tiers kept for fixed addresses. */
  static readonly FIXED_TIER_DHCP_HOSTS = 8;

  readonly network: NetworkingNetworkV2;
  /** The network's id. */
  readonly networkId: string;
  readonly router: NetworkingRouterV2;
  /** The external network's id, looked up by name. */
  readonly externalNetworkId: string;
  readonly externalNetworkName: string;
  private readonly subnets = new Map<string, Subnet>();

  constructor(scope: Construct, id: string, props: SiteNetworkProps) {
    super(scope, id);
    if (Object.keys(props.tiers).length === 0) throw new Error(`SiteNetwork ${props.name}: tiers is empty; expected at least one subnet`);
    const external = new DataOpenstackNetworkingNetworkV2(this, "external", { name: props.externalNetworkName, external: true });
    this.externalNetworkId = external.id;
    this.externalNetworkName = props.externalNetworkName;
    this.network = new NetworkingNetworkV2(this, "network", { name: props.name, adminStateUp: true, description: `Private network of ${props.name}` });
    this.networkId = this.network.id;
    this.router = new NetworkingRouterV2(this, "router", {
      name: props.name,
      description: `Router of ${props.name} to ${props.externalNetworkName}`,
      adminStateUp: true,
      externalNetworkId: this.externalNetworkId,
    });
    const subnetsScope = new Construct(this, "subnets");
    for (const [tier, spec] of Object.entries(props.tiers)) {
      const tierScope = new Construct(subnetsScope, tier);
      const dynamic = spec.dynamic ?? true;
      const subnet = new NetworkingSubnetV2(tierScope, "subnet", {
        name: `${props.name}-${tier}`,
        description: `${tier} tier of ${props.name}`,
        networkId: this.networkId,
        cidr: spec.cidr,
        ipVersion: 4,
        gatewayIp: hostAt(spec.cidr, 1),
        dnsNameservers: [...props.dnsServers],
        enableDhcp: true,
        allocationPool: [
          dynamic
            ? { start: hostAt(spec.cidr, 2), end: hostAt(spec.cidr, size(spec.cidr) - 2) }
            : { start: hostAt(spec.cidr, 2), end: hostAt(spec.cidr, 1 + SiteNetwork.FIXED_TIER_DHCP_HOSTS) },
        ],
      });
      new NetworkingRouterInterfaceV2(tierScope, "router-interface", { routerId: this.router.id, subnetId: subnet.id });
      this.subnets.set(tier, { name: tier, cidr: spec.cidr, id: subnet.id, resource: subnet });
    }
  }

  /** The subnet of a tier. */
  subnet(tier: string): Subnet {
    const s = this.subnets.get(tier);
    if (!s) throw new Error(`${this.node.path}: no tier "${tier}"; expected one of ${[...this.subnets.keys()].join(", ")}`);
    return s;
  }

  /** Routes `destination` through `nextHop` (a VM's fixed address), e.g. to a VPN gateway. */
  addRoute(id: string, destination: string, nextHop: string): NetworkingRouterRouteV2 {
    const routes = (this.node.tryFindChild("routes") as Construct | undefined) ?? new Construct(this, "routes");
    return new NetworkingRouterRouteV2(routes, id, { routerId: this.router.id, destinationCidr: destination, nextHop });
  }
}
