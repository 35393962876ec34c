/**
 * Security groups with a connections API: a rule is declared where the need is
 * (`db.connections.allowFrom(api, Port.tcp(5432), "API reads the database")`), and lands as an
 * ingress rule on the target's group. Every group and rule carries a description.
 */
import { Token } from "cdktf";
import { Construct } from "constructs";
import * as ipaddr from "ipaddr.js";
import { NetworkingSecgroupRuleV2, NetworkingSecgroupV2 } from "./l1";

export enum Protocol {
  TCP = "tcp",
  UDP = "udp",
  ICMP = "icmp",
}

/** A protocol and port range. */
export class Port {
  static tcp(port: number): Port {
    return new Port(Protocol.TCP, port, port);
  }
  static udp(port: number): Port {
    return new Port(Protocol.UDP, port, port);
  }
  static tcpRange(from: number, to: number): Port {
    return new Port(Protocol.TCP, from, to);
  }
  static udpRange(from: number, to: number): Port {
    return new Port(Protocol.UDP, from, to);
  }
  /** ICMP (ping, path MTU discovery). */
  static icmp(): Port {
    return new Port(Protocol.ICMP);
  }

  private constructor(
    readonly protocol: Protocol,
    readonly from?: number,
    readonly to?: number,
  ) {
    for (const [field, v] of [["from", from], ["to", to]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 65535)) {
        throw new Error(`Port.${protocol}: ${field} port ${v} is out of range; expected a whole number from 1 to 65535`);
      }
    }
    if (from !== undefined && to !== undefined && from > to) {
      throw new Error(`Port.${protocol}Range: ${from}-${to} is reversed; expected from <= to`);
    }
  }

  /** Stable construct id of the port, e.g. tcp-22 or udp-20000-32000. */
  get key(): string {
    if (this.from === undefined) return this.protocol;
    return this.from === this.to ? `${this.protocol}-${this.from}` : `${this.protocol}-${this.from}-${this.to}`;
  }

  toString(): string {
    return this.key;
  }
}

/** Where traffic comes from: a network, or the members of a security group. */
export abstract class Peer {
  /** A network in CIDR notation. */
  static cidr(cidr: string): Peer {
    return new CidrPeer(cidr);
  }
  /** Anywhere on IPv4. Only for what is public by design (HTTP(S) on the ingress, WireGuard). */
  static anyIpv4(): Peer {
    return new CidrPeer("0.0.0.0/0");
  }
  /** Stable construct id of the peer. */
  abstract readonly key: string;
  /** @internal */
  abstract _ruleTarget(): { remoteIpPrefix?: string; remoteGroupId?: string };
}

class CidrPeer extends Peer {
  readonly key: string;
  constructor(readonly cidr: string) {
    super();
    if (!Token.isUnresolved(cidr) && !ipaddr.IPv4.isValidCIDR(cidr)) {
      throw new Error(`Peer.cidr: "${cidr}" is not a network; expected IPv4 CIDR notation, e.g. 10.10.0.0/24`);
    }
    this.key = cidr === "0.0.0.0/0" ? "anywhere" : cidr.replace(/[./]/g, "_");
  }
  _ruleTarget(): { remoteIpPrefix: string } {
    return { remoteIpPrefix: this.cidr };
  }
}

class GroupPeer extends Peer {
  constructor(readonly group: SecurityGroup) {
    super();
  }
  get key(): string {
    return `sg-${this.group.node.addr.slice(0, 10)}`;
  }
  _ruleTarget(): { remoteGroupId: string } {
    return { remoteGroupId: this.group.id };
  }
}

export interface SecurityGroupProps {
  /** Group name in OpenStack. */
  readonly name: string;
  /** What the group is for. */
  readonly description: string;
  /** Role of the VMs the group protects (bastion, vpn, ingress...), for policy checks. @default - none */
  readonly role?: string;
}

/** An OpenStack security group. Ingress rules are added through Connections. */
export class SecurityGroup extends Construct {
  /** The raw provider resource. */
  readonly resource: NetworkingSecgroupV2;
  /** Role of the VMs the group protects, if it is a role's group. */
  readonly role?: string;
  /** Ingress rules added, for policy checks: peer, port and description. */
  readonly rules: { readonly peer: Peer; readonly port: Port; readonly description: string }[] = [];

  constructor(scope: Construct, id: string, props: SecurityGroupProps) {
    super(scope, id);
    if (!props.description.trim()) throw new Error(`SecurityGroup ${props.name}: description is empty; expected what the group is for`);
    this.role = props.role;
    this.resource = new NetworkingSecgroupV2(this, "group", { name: props.name, description: props.description });
  }

  /** The group's id (one token, reused: every reference costs at synth). */
  get id(): string {
    this.cachedId ??= this.resource.id;
    return this.cachedId;
  }
  private cachedId?: string;

  /** This group as the source of traffic. */
  asPeer(): Peer {
    return new GroupPeer(this);
  }

  /** Adds an ingress rule; the same peer and port twice is one rule. */
  addIngressRule(peer: Peer, port: Port, description: string): void {
    if (!description.trim()) throw new Error(`${this.node.path}: rule ${port} from ${peer.key} has an empty description; expected why it is open`);
    const peerScope = (this.node.tryFindChild(peer.key) as Construct | undefined) ?? new Construct(this, peer.key);
    if (peerScope.node.tryFindChild(port.key)) return;
    new NetworkingSecgroupRuleV2(peerScope, port.key, {
      securityGroupId: this.id,
      direction: "ingress",
      ethertype: "IPv4",
      protocol: port.protocol,
      ...(port.from !== undefined ? { portRangeMin: port.from, portRangeMax: port.to } : {}),
      ...peer._ruleTarget(),
      description,
    });
    this.rules.push({ peer, port, description });
  }
}

/** Something with a security group that others may be allowed to reach. */
export interface IConnectable {
  readonly connections: Connections;
}

/** The firewall side of a construct: who may reach it, on which ports. */
export class Connections implements IConnectable {
  readonly connections = this;

  constructor(readonly securityGroup: SecurityGroup) {}

  /** Allows `from` (a construct with connections, or a network) to reach this on `port`. */
  allowFrom(from: IConnectable | Peer, port: Port, description: string): void {
    const peer = from instanceof Peer ? from : from.connections.securityGroup.asPeer();
    this.securityGroup.addIngressRule(peer, port, description);
  }

  /** Allows the members of this group to reach each other on `port`. */
  allowInternally(port: Port, description: string): void {
    this.securityGroup.addIngressRule(this.securityGroup.asPeer(), port, description);
  }

  /** Allows this to reach `to` on `port` (the rule lands on `to`'s group). */
  allowTo(to: IConnectable, port: Port, description: string): void {
    to.connections.allowFrom(this, port, description);
  }
}
