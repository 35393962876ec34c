/** WireGuard interface configurations (wg-quick format) from typed inputs. */
import { renderIni } from "./formats";

export interface WireGuardPeer {
  /** A name for the peer, kept for reviewers; not part of the WireGuard format. */
  readonly name: string;
  readonly publicKey: string;
  /** Networks routed to this peer. */
  readonly allowedIps: readonly string[];
  /** host:port the interface dials. @default - none: the peer dials in */
  readonly endpoint?: string;
  /** Seconds between keepalives, to keep NAT state open. @default - none */
  readonly persistentKeepalive?: number;
}

export interface WireGuardInterface {
  /** The interface's private key (a Terraform variable's token on real VMs). */
  readonly privateKey: string;
  /** The interface's tunnel address with prefix, e.g. 10.210.0.1/24. */
  readonly address: string;
  /** UDP port to listen on. @default - a random port (dialing side) */
  readonly listenPort?: number;
  readonly peers: readonly WireGuardPeer[];
}

/** The wg-quick configuration of one interface. */
export function renderWireGuard(iface: WireGuardInterface): string {
  return renderIni([
    { name: "Interface", entries: { PrivateKey: iface.privateKey, Address: iface.address, ListenPort: iface.listenPort } },
    ...iface.peers.map((p) => ({
      name: "Peer",
      entries: {
        PublicKey: p.publicKey,
        AllowedIPs: p.allowedIps.join(", "),
        Endpoint: p.endpoint,
        PersistentKeepalive: p.persistentKeepalive,
      },
    })),
  ]);
}
