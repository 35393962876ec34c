import { Annotations, DefaultTokenResolver, IAspect, StringConcat, TerraformOutput, TerraformStack, TerraformVariable, Tokenization } from "cdktf";
import { IConstruct } from "constructs";
import { USER_DATA_LIMIT_BYTES } from "../../cloud-init/cloud-config";
import { Peer, Port, Protocol, SecurityGroup } from "../openstack/security";
import { Vm } from "../openstack/vm";

export interface PlatformPolicyProps {
  /** Roles whose VMs may have a floating IP. @default PlatformPolicy.PUBLIC_ROLES */
  readonly publicRoles?: readonly string[];
}

function coversSsh(port: Port): boolean {
  return port.protocol === Protocol.TCP && port.from !== undefined && port.to !== undefined && port.from <= 22 && port.to >= 22;
}

/** Resource attributes that hold secrets; an output referring to one must be sensitive. */
const SECRET_REFERENCES = [/\brandom_uuid\.[\w-]+\.result\b/, /\brandom_bytes\.[\w-]+\.(base64|hex)\b/, /\brandom_password\.[\w-]+\.result\b/, /\btls_private_key\.[\w-]+\.private_key/, /\bprivate_key_pem\b/];

/**
 * Fails synth (error annotations) when a stack breaks the platform's rules: SSH open outside the
 * bastion, a rule open to anywhere outside the public entry points, a floating IP on an inner VM,
 * an even or too small server count, servers without anti-affinity, user data over OpenStack's
 * limit, a secret in an output not marked sensitive.
 */
export class PlatformPolicy implements IAspect {
  /** Roles that may have a floating IP. */
  static readonly PUBLIC_ROLES = ["bastion", "vpn", "ingress"] as const;
  /** Ports that may be open to 0.0.0.0/0, by role. */
  static readonly PUBLIC_PORTS: Readonly<Record<string, readonly string[]>> = { ingress: ["tcp-80", "tcp-443"], vpn: ["udp-*"] };

  private readonly publicRoles: readonly string[];

  constructor(props: PlatformPolicyProps = {}) {
    this.publicRoles = props.publicRoles ?? PlatformPolicy.PUBLIC_ROLES;
  }

  visit(node: IConstruct): void {
    if (node instanceof SecurityGroup) this.checkGroup(node);
    if (node instanceof Vm) this.checkVm(node);
    if (node instanceof TerraformOutput) this.checkOutput(node);
    if (node instanceof TerraformStack) this.checkServers(node);
  }

  private checkGroup(group: SecurityGroup): void {
    const role = group.role;
    for (const rule of group.rules) {
      const source = this.describePeer(rule.peer);
      if (coversSsh(rule.port) && !this.sshAllowed(group, rule.peer)) {
        Annotations.of(group).addError(`policy: SSH (${rule.port}) is open from ${source}; expected SSH only from the bastion, and to the bastion only from the admin networks`);
      }
      if (this.isAnywhere(rule.peer)) {
        const allowed = PlatformPolicy.PUBLIC_PORTS[role ?? ""] ?? [];
        const ok = allowed.some((p) => p === rule.port.key || (p.endsWith("-*") && rule.port.key.startsWith(p.slice(0, -1))));
        if (!ok) Annotations.of(group).addError(`policy: ${rule.port} is open to 0.0.0.0/0 on a ${role ?? "non-public"} group; expected rules from anywhere only for HTTP(S) on the ingress and WireGuard on the VPN gateway`);
      }
    }
  }

  private checkVm(vm: Vm): void {
    if (vm.floatingIp && !this.publicRoles.includes(vm.role)) {
      Annotations.of(vm).addError(`policy: ${vm.name} (role ${vm.role}) has a floating IP; expected floating IPs only on ${this.publicRoles.join(", ")}`);
    }
    const bytes = vm.userData.estimatedEncodedBytes();
    if (bytes > USER_DATA_LIMIT_BYTES) {
      Annotations.of(vm).addError(`policy: ${vm.name} user data can reach ${bytes} bytes base64-encoded; expected at most ${USER_DATA_LIMIT_BYTES} (OpenStack's limit)`);
    }
  }

  private checkServers(stack: TerraformStack): void {
    const servers = stack.node.findAll().filter((c): c is Vm => c instanceof Vm && c.role === "server");
    if (servers.length === 0) return;
    if (servers.length < 3 || servers.length % 2 === 0) {
      Annotations.of(stack).addError(`policy: ${servers.length} Consul/Nomad servers; expected an odd number, at least 3 (Raft quorum)`);
    }
    for (const s of servers) {
      if (!s.serverGroup) Annotations.of(s).addError(`policy: server ${s.name} is in no anti-affinity server group; expected servers spread across hypervisors`);
    }
  }

  private checkOutput(output: TerraformOutput): void {
    if (output.sensitive) return;
    const resolved = JSON.stringify(Tokenization.resolve(output.value, { scope: output, preparing: false, resolver: new DefaultTokenResolver(new StringConcat()) }));
    const secretVariables = TerraformStack.of(output)
      .node.findAll()
      .filter((c): c is TerraformVariable => c instanceof TerraformVariable && c.sensitive === true)
      .map((v) => `var.${v.friendlyUniqueId}`);
    if (SECRET_REFERENCES.some((re) => re.test(resolved)) || secretVariables.some((v) => resolved.includes(v))) {
      Annotations.of(output).addError(`policy: output ${output.friendlyUniqueId} exposes a secret (${resolved.slice(0, 120)}); expected sensitive = true`);
    }
  }

  private isAnywhere(peer: Peer): boolean {
    return peer.key === "anywhere";
  }

  private describePeer(peer: Peer): string {
    return this.isAnywhere(peer) ? "0.0.0.0/0" : peer.key;
  }

  /** SSH: to the bastion from a bounded network; to anything else from the bastion's group only. */
  private sshAllowed(group: SecurityGroup, peer: Peer): boolean {
    const source = (peer as { group?: SecurityGroup }).group;
    if (group.role === "bastion") return !this.isAnywhere(peer) && source === undefined;
    return source?.role === "bastion";
  }
}
