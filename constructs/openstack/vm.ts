import { Fn, Op, TerraformLocal, Token } from "cdktf";
import { Construct } from "constructs";
import { CloudConfig } from "../../cloud-init/cloud-config";
import { BlockstorageVolumeV3, ComputeInstanceV2, ComputeServergroupV2, NetworkingFloatingipAssociateV2, NetworkingFloatingipV2, NetworkingPortV2 } from "./l1";
import { SiteNetwork } from "./network";
import { Connections, IConnectable, SecurityGroup } from "./security";

/** How strictly the members of a server group are kept on different hypervisors. */
export enum AntiAffinity {
  /** Never on the same hypervisor: scheduling fails when there are too few. */
  HARD = "anti-affinity",
  /** On different hypervisors when possible, for small clouds. */
  SOFT = "soft-anti-affinity",
}

export interface ServerGroupProps {
  readonly name: string;
  readonly policy: AntiAffinity;
}

/** A Nova server group: its members are spread across hypervisors. */
export class ServerGroup extends Construct {
  readonly resource: ComputeServergroupV2;
  readonly policy: AntiAffinity;
  constructor(scope: Construct, id: string, props: ServerGroupProps) {
    super(scope, id);
    this.policy = props.policy;
    this.resource = new ComputeServergroupV2(this, "group", { name: props.name, policies: [props.policy] });
  }
}

export interface VmProps {
  /** Instance name. */
  readonly name: string;
  /** What the VM is for (server, client, bastion...), kept in its metadata. */
  readonly role: string;
  readonly flavor: string;
  /** Image name. */
  readonly image: string;
  readonly network: SiteNetwork;
  /** The tier whose subnet the VM sits in. */
  readonly tier: string;
  /** Fixed address in the tier. @default - one from DHCP */
  readonly fixedIp?: string;
  /** Security groups of the VM's port. */
  readonly securityGroups: readonly SecurityGroup[];
  readonly userData: CloudConfig;
  /** Server group for anti-affinity. @default - none */
  readonly serverGroup?: ServerGroup;
  /** Size in GB of a persistent data volume attached at boot. @default - none */
  readonly volumeGb?: number;
  /** Extra source networks the port may send from (a router VM's routed ranges). @default - none */
  readonly allowedAddressPairs?: readonly string[];
  /** Give the VM a floating IP. Only the bastion, the VPN gateway and the ingress have one. @default false */
  readonly publicIp?: boolean;
}

/** One OpenStack VM: a port in its tier with its security groups, the instance, and optionally a data volume and a floating IP. */
export class Vm extends Construct implements IConnectable {
  /** Device name of the data volume inside the VM. */
  static readonly DATA_VOLUME_DEVICE = "/dev/vdb";

  readonly name: string;
  readonly role: string;
  readonly port: NetworkingPortV2;
  /** The raw provider resource. */
  readonly instance: ComputeInstanceV2;
  readonly privateIp: string;
  /** The floating IP's address, when the VM has one. */
  readonly publicIp?: string;
  readonly floatingIp?: NetworkingFloatingipV2;
  readonly volume?: BlockstorageVolumeV3;
  readonly connections: Connections;
  readonly userData: CloudConfig;
  readonly serverGroup?: ServerGroup;
  /**
   * What a roll of this VM would change (a Terraform list, empty when nothing): "user data",
   * "image", "flavor", "volumes", "server group". These attributes are ignored by `apply` (`ROLLED_ATTRIBUTES`):
   * a changed value waits, shown here, until `npm run roll` replaces the VM.
   */
  readonly pendingRoll: string;

  /**
   * The instance attributes an apply never changes on a running VM: each would replace it
   * (user data, image, volumes, server group: a changed anti-affinity policy makes a new group) or
   * reboot it (flavor). `npm run roll` carries them out, one VM at a time.
   */
  static readonly ROLLED_ATTRIBUTES: readonly string[] = ["user_data", "image_name", "flavor_name", "block_device", "scheduler_hints"];

  constructor(scope: Construct, id: string, props: VmProps) {
    super(scope, id);
    if (props.securityGroups.length === 0) throw new Error(`Vm ${props.name}: securityGroups is empty; expected at least one group (a port with none would be closed or, on some clouds, open)`);
    if (props.volumeGb !== undefined && (!Number.isInteger(props.volumeGb) || props.volumeGb < 1)) {
      throw new Error(`Vm ${props.name}: volumeGb ${props.volumeGb} is not a size; expected a whole number of GB >= 1`);
    }
    this.name = props.name;
    this.role = props.role;
    this.userData = props.userData;
    this.serverGroup = props.serverGroup;
    this.connections = new Connections(props.securityGroups[0]);
    const subnet = props.network.subnet(props.tier);
    this.port = new NetworkingPortV2(this, "port", {
      name: props.name,
      description: `${props.role} ${props.name}`,
      networkId: props.network.networkId,
      adminStateUp: true,
      fixedIp: [{ subnetId: subnet.id, ...(props.fixedIp ? { ipAddress: props.fixedIp } : {}) }],
      securityGroupIds: props.securityGroups.map((g) => g.id),
      ...(props.allowedAddressPairs && props.allowedAddressPairs.length > 0 ? { allowedAddressPairs: props.allowedAddressPairs.map((ipAddress) => ({ ipAddress })) } : {}),
    });
    const portId = this.port.id;
    this.privateIp = props.fixedIp ?? Token.asString(Fn.element(this.port.allFixedIps, 0));
    if (props.volumeGb) {
      // An apply never destroys data: removing the VM keeps its volume (README, "Deleting a data volume").
      this.volume = new BlockstorageVolumeV3(this, "data", { name: `${props.name}-data`, description: `Persistent data of ${props.name}`, size: props.volumeGb, lifecycle: { preventDestroy: true } });
    }
    // A local: the instance and the pending check read it, the JSON holds it once.
    const userData = new TerraformLocal(this, "user-data", props.userData.render()).asString;
    this.instance = new ComputeInstanceV2(this, "instance", {
      name: props.name,
      flavorName: props.flavor,
      imageName: props.image,
      network: [{ port: portId }],
      userData,
      lifecycle: { ignoreChanges: [...Vm.ROLLED_ATTRIBUTES] },
      metadata: { role: props.role },
      ...(props.serverGroup ? { schedulerHints: [{ group: props.serverGroup.resource.id }] } : {}),
      ...(this.volume
        ? { blockDevice: [{ uuid: this.volume.id, sourceType: "volume", destinationType: "volume", bootIndex: -1, deleteOnTermination: false }] }
        : {}),
    });
    // The provider keeps the SHA-1 of the user data the instance booted with in its state.
    const unless = (same: unknown, what: string) => Fn.conditional(same, "", what);
    this.pendingRoll = Token.asString(Fn.compact([
      // Whether two SHA-1s of the user data are equal reveals none of its secrets; Terraform marks
      // both sensitive (the instance's keeps the mark in its state), so the comparison is unmarked.
      unless(Fn.nonsensitive(Op.eq(this.instance.userData, Fn.sha1(userData))), "user data"),
      unless(Op.eq(this.instance.imageName, props.image), "image"),
      unless(Op.eq(this.instance.flavorName, props.flavor), "flavor"),
      // As strings: cdktf renders a literal 0 operand as `undefined`.
      unless(Op.eq(Fn.tostring(Fn.lengthOf(this.instance.blockDevice)), this.volume ? "1" : "0"), "volumes"),
      ...(props.serverGroup ? [unless(Op.eq(this.instance.schedulerHints.get(0).group, props.serverGroup.resource.id), "server group")] : []),
    ]));
    if (props.publicIp) {
      this.floatingIp = new NetworkingFloatingipV2(this, "floating-ip", { pool: props.network.externalNetworkName, description: `Public address of ${props.name}` });
      this.publicIp = this.floatingIp.address;
      new NetworkingFloatingipAssociateV2(this, "floating-ip-association", { floatingIp: this.publicIp, portId });
    }
  }
}
