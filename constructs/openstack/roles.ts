import { Construct } from "constructs";
import { CloudConfig } from "../../cloud-init/cloud-config";
import { SiteNetwork } from "./network";
import { Connections, IConnectable, Peer, Port, SecurityGroup } from "./security";
import { AntiAffinity, ServerGroup, Vm } from "./vm";

/** A VM to create in a group. */
export interface VmGroupMember {
  readonly name: string;
  readonly flavor: string;
  readonly image: string;
  readonly fixedIp?: string;
  readonly volumeGb?: number;
}

export interface VmGroupProps {
  /** The role of the group's VMs (server, client, development...). */
  readonly role: string;
  /** Name prefix of the group's resources. */
  readonly namePrefix: string;
  readonly members: readonly VmGroupMember[];
  readonly network: SiteNetwork;
  readonly tier: string;
  /** Groups every member also belongs to (e.g. the cluster members' group). @default - none */
  readonly extraSecurityGroups?: readonly SecurityGroup[];
  /** The cloud-config of each member. */
  readonly userData: (member: VmGroupMember, index: number) => CloudConfig;
  /** Spread the members across hypervisors. @default - no server group */
  readonly antiAffinity?: AntiAffinity;
  /** Members get floating IPs (only for public roles). @default false */
  readonly publicIp?: boolean;
}

/** VMs of one role: a security group they share, an optional server group, the VMs. */
export class VmGroup extends Construct implements IConnectable {
  readonly role: string;
  readonly securityGroup: SecurityGroup;
  readonly connections: Connections;
  readonly serverGroup?: ServerGroup;
  readonly vms: readonly Vm[];

  constructor(scope: Construct, id: string, props: VmGroupProps) {
    super(scope, id);
    this.role = props.role;
    this.securityGroup = new SecurityGroup(this, "security-group", { name: `${props.namePrefix}-${props.role}`, description: `${props.role} VMs of ${props.namePrefix}`, role: props.role });
    this.connections = new Connections(this.securityGroup);
    if (props.antiAffinity) {
      this.serverGroup = new ServerGroup(this, "server-group", { name: `${props.namePrefix}-${props.role}`, policy: props.antiAffinity });
    }
    this.vms = props.members.map(
      (m, i) =>
        new Vm(this, m.name, {
          name: `${props.namePrefix}-${m.name}`,
          role: props.role,
          flavor: m.flavor,
          image: m.image,
          network: props.network,
          tier: props.tier,
          ...(m.fixedIp ? { fixedIp: m.fixedIp } : {}),
          ...(m.volumeGb ? { volumeGb: m.volumeGb } : {}),
          securityGroups: [this.securityGroup, ...(props.extraSecurityGroups ?? [])],
          userData: props.userData(m, i),
          ...(this.serverGroup ? { serverGroup: this.serverGroup } : {}),
          publicIp: props.publicIp ?? false,
        }),
    );
  }

  /** Private addresses of the members. */
  get privateIps(): string[] {
    return this.vms.map((v) => v.privateIp);
  }
}

/** What every edge VM (the bastion, the VPN gateway) is built from. */
export interface EdgeVmProps {
  readonly namePrefix: string;
  readonly member: VmGroupMember;
  readonly network: SiteNetwork;
  readonly tier: string;
  readonly extraSecurityGroups?: readonly SecurityGroup[];
}

/**
 * The one way an edge VM is built, in two steps so that its rules can be declared before the VM:
 * its own security group named after the site and its role, then one VM with a floating IP in that
 * group and the extra ones. @internal
 */
export const EdgeVm = {
  group(scope: Construct, props: EdgeVmProps, role: "bastion" | "vpn", description: string): { securityGroup: SecurityGroup; connections: Connections } {
    const securityGroup = new SecurityGroup(scope, "security-group", { name: `${props.namePrefix}-${role}`, description, role });
    return { securityGroup, connections: new Connections(securityGroup) };
  },
  vm(scope: Construct, props: EdgeVmProps, role: "bastion" | "vpn", securityGroup: SecurityGroup, userData: CloudConfig, allowedAddressPairs?: readonly string[]): Vm {
    return new Vm(scope, "vm", {
      name: `${props.namePrefix}-${props.member.name}`,
      role,
      flavor: props.member.flavor,
      image: props.member.image,
      network: props.network,
      tier: props.tier,
      ...(props.member.fixedIp ? { fixedIp: props.member.fixedIp } : {}),
      securityGroups: [securityGroup, ...(props.extraSecurityGroups ?? [])],
      userData,
      ...(allowedAddressPairs ? { allowedAddressPairs: [...allowedAddressPairs] } : {}),
      publicIp: true,
    });
  },
};

export interface BastionProps extends EdgeVmProps {
  /** Networks allowed to reach the bastion's SSH port. */
  readonly adminNetworks: readonly string[];
  readonly userData: CloudConfig;
  /** The admin user ProxyJump logs in as. */
  readonly adminUser: string;
}

/** The only SSH entry of a site: a VM with a floating IP, SSH from the admin networks only. */
export class Bastion extends Construct implements IConnectable {
  static readonly SSH = Port.tcp(22);

  readonly vm: Vm;
  readonly securityGroup: SecurityGroup;
  readonly connections: Connections;
  /** The bastion's public address. */
  readonly publicIp: string;
  private readonly adminUser: string;

  constructor(scope: Construct, id: string, props: BastionProps) {
    super(scope, id);
    if (props.adminNetworks.length === 0) throw new Error(`Bastion ${props.namePrefix}: adminNetworks is empty; expected at least one network allowed to SSH in`);
    this.adminUser = props.adminUser;
    ({ securityGroup: this.securityGroup, connections: this.connections } = EdgeVm.group(this, props, "bastion", `SSH entry of ${props.namePrefix}: SSH from the admin networks only`));
    for (const net of props.adminNetworks) this.connections.allowFrom(Peer.cidr(net), Bastion.SSH, `SSH from admin network ${net}`);
    this.vm = EdgeVm.vm(this, props, "bastion", this.securityGroup, props.userData);
    this.publicIp = this.vm.publicIp as string;
  }

  /** Lets SSH in from this bastion only, on every group given. */
  allowSshTo(...targets: IConnectable[]): void {
    for (const t of targets) t.connections.allowFrom(this, Bastion.SSH, "SSH from the bastion only");
  }

  /** ssh_config entries: the bastion, then every host reached through it with ProxyJump. */
  sshConfig(hosts: readonly { readonly name: string; readonly address: string }[]): string {
    const bastionName = this.vm.name;
    const entries: [string, Record<string, string>][] = [
      [bastionName, { HostName: this.publicIp, User: this.adminUser }],
      ...hosts.map((h): [string, Record<string, string>] => [h.name, { HostName: h.address, User: this.adminUser, ProxyJump: bastionName }]),
    ];
    return entries.map(([host, opts]) => [`Host ${host}`, ...Object.entries(opts).map(([k, v]) => `  ${k} ${v}`)].join("\n")).join("\n\n") + "\n";
  }
}
