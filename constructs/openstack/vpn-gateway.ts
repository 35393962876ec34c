import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { registerTokenSize } from "../../cloud-init/cloud-config";
import { renderWireGuard, WireGuardInterface, WireGuardPeer } from "../../cloud-init/wireguard";
import { EdgeVm, EdgeVmProps } from "./roles";
import { Connections, IConnectable, Peer, Port, SecurityGroup } from "./security";
import { Vm } from "./vm";
import { CloudConfig } from "../../cloud-init/cloud-config";

/** An admin's WireGuard peer. */
export interface AdminPeer {
  readonly name: string;
  readonly publicKey: string;
  /** The peer's tunnel address (a /32 inside the VPN range). */
  readonly address: string;
}

/** The other end of a site-to-site tunnel. */
export interface SiteLink {
  /** The other site's name. */
  readonly site: string;
  /** The other gateway's WireGuard public key. */
  readonly publicKey: string;
  /** The other site's ranges (its site range and its VPN range): AllowedIPs and routes. */
  readonly ranges: readonly string[];
  /** host:port to dial; only on the side that initiates. @default - the other side dials in */
  readonly endpoint?: string;
}

export interface VpnGatewayProps extends EdgeVmProps {
  /** WireGuard UDP port. @default 51820 */
  readonly port?: number;
  /** Admin peers' tunnel range; the gateway takes `gatewayAddress` in it. */
  readonly vpnRange: string;
  readonly gatewayAddress: string;
  /** This gateway's public key (its private key is the sensitive variable `privateKeyVariable`). */
  readonly publicKey: string;
  readonly adminPeers: readonly AdminPeer[];
  /** The site-to-site tunnel. @default - none */
  readonly siteLink?: SiteLink;
  /** Name of the Terraform variable holding the private key (set it as TF_VAR_<name>). @default VpnGateway.DEFAULT_PRIVATE_KEY_VARIABLE */
  readonly privateKeyVariableName?: string;
  /** Builds the gateway's cloud-config from its WireGuard interfaces. */
  readonly userData: (interfaces: Readonly<Record<string, WireGuardInterface>>) => CloudConfig;
}

/**
 * The site's WireGuard gateway: wg0 gives the admins' peers the site's ranges; wg1 links the site
 * to the other one, AllowedIPs = the other site's ranges, keepalive 25 s. The router sends the
 * VPN ranges to it, and its port may send from them (allowed address pairs).
 *
 * The private key is a sensitive Terraform variable (TF_VAR_<name>), never in the synthesized
 * JSON; it does land in the state, inside the VM's user data.
 */
export class VpnGateway extends Construct implements IConnectable {
  static readonly DEFAULT_PORT = 51820;
  static readonly KEEPALIVE_SECONDS = 25;
  static readonly DEFAULT_PRIVATE_KEY_VARIABLE = "vpn_private_key";

  readonly vm: Vm;
  readonly securityGroup: SecurityGroup;
  readonly connections: Connections;
  readonly port: number;
  readonly publicIp: string;
  readonly publicKey: string;
  /** The admins' tunnel range. */
  readonly vpnRange: string;
  readonly adminPeers: readonly AdminPeer[];
  readonly privateKeyVariable: TerraformVariable;
  /** The rendered interfaces (tokens for the private key), for tests and the real tier. */
  readonly interfaces: Readonly<Record<string, WireGuardInterface>>;

  constructor(scope: Construct, id: string, props: VpnGatewayProps) {
    super(scope, id);
    this.port = props.port ?? VpnGateway.DEFAULT_PORT;
    this.publicKey = props.publicKey;
    this.vpnRange = props.vpnRange;
    this.adminPeers = props.adminPeers;
    this.privateKeyVariable = new TerraformVariable(this, "private-key", {
      type: "string",
      sensitive: true,
      nullable: false,
      description: `WireGuard private key of the ${props.namePrefix} VPN gateway (base64, from \`wg genkey\`); its public key is ${props.publicKey}`,
    });
    this.privateKeyVariable.overrideLogicalId(props.privateKeyVariableName ?? VpnGateway.DEFAULT_PRIVATE_KEY_VARIABLE);
    const privateKey = registerTokenSize(this.privateKeyVariable.stringValue, 44);
    ({ securityGroup: this.securityGroup, connections: this.connections } = EdgeVm.group(this, props, "vpn", `WireGuard gateway of ${props.namePrefix}: UDP ${this.port} from anywhere`));
    this.connections.allowFrom(Peer.anyIpv4(), Port.udp(this.port), "WireGuard from admins and the other site");
    const prefix = props.vpnRange.split("/")[1];
    const admin: WireGuardInterface = {
      privateKey,
      address: `${props.gatewayAddress}/${prefix}`,
      listenPort: this.port,
      peers: props.adminPeers.map((p): WireGuardPeer => ({ name: p.name, publicKey: p.publicKey, allowedIps: [`${p.address}/32`] })),
    };
    const interfaces: Record<string, WireGuardInterface> = { wg0: admin };
    if (props.siteLink) {
      interfaces.wg1 = {
        privateKey,
        address: `${props.gatewayAddress}/32`,
        listenPort: this.port + 1,
        peers: [
          {
            name: props.siteLink.site,
            publicKey: props.siteLink.publicKey,
            allowedIps: props.siteLink.ranges,
            ...(props.siteLink.endpoint ? { endpoint: props.siteLink.endpoint } : {}),
            persistentKeepalive: VpnGateway.KEEPALIVE_SECONDS,
          },
        ],
      };
      this.connections.allowFrom(Peer.anyIpv4(), Port.udp(this.port + 1), `Site-to-site WireGuard from ${props.siteLink.site}`);
    }
    this.interfaces = interfaces;
    const routed = [props.vpnRange, ...(props.siteLink?.ranges ?? [])];
    this.vm = EdgeVm.vm(this, props, "vpn", this.securityGroup, props.userData(interfaces), routed);
    this.publicIp = this.vm.publicIp as string;
    routed.forEach((range, i) => props.network.addRoute(i === 0 ? "vpn-admins" : `vpn-site-${i}`, range, this.vm.privateIp));
  }

  /**
   * A ready wg-quick configuration for each admin peer, by peer name: its tunnel address, the
   * gateway as its only peer, routes for `ranges` (the site's ranges) and the VPN range. The
   * private key is a placeholder the operator fills: it never leaves the operator's machine.
   */
  clientConfigs(ranges: readonly string[]): Record<string, string> {
    const prefix = this.vpnRange;
    return Object.fromEntries(
      this.adminPeers.map((p) => [
        p.name,
        renderWireGuard({
          privateKey: VpnGateway.PRIVATE_KEY_PLACEHOLDER,
          address: `${p.address}/32`,
          peers: [{ name: "gateway", publicKey: this.publicKey, allowedIps: [...ranges, prefix], endpoint: `${this.publicIp}:${this.port}`, persistentKeepalive: VpnGateway.KEEPALIVE_SECONDS }],
        }),
      ]),
    );
  }

  /** What an admin peer's configuration holds instead of its private key. */
  static readonly PRIVATE_KEY_PLACEHOLDER = "REPLACE_WITH_YOUR_PRIVATE_KEY";

  /** host:port of the site-to-site listener. */
  get siteEndpoint(): string {
    return `${this.publicIp}:${this.port + 1}`;
  }
}
