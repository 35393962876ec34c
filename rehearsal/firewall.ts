/**
 * The security groups, enforced: an nftables ruleset per VM generated from the synthesized
 * `openstack_networking_secgroup_rule_v2` resources of its port's groups, the way Neutron applies
 * them at the port (stateful; ingress and egress rules; a new group's default allow-all egress
 * unless `delete_default_rules`; remote groups matched by their members' fixed IPs and allowed
 * address pairs; anti-spoofing: the port sends only from its own address or an allowed pair).
 * Traffic the VM routes (a VPN gateway) crosses its port too, and is filtered the same way.
 * No rule here is written by hand: a rule missing from the JSON is missing here.
 */
import { groupMembers, Rule, SitePlan, Vm } from "./plan";

/** The interface of a VM's port inside its namespace. */
export const PORT_IF = "eth0";

function setName(group: string): string {
  return `g_${group.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

function match(rule: Rule, remote: "saddr" | "daddr"): string {
  const parts: string[] = [];
  if (rule.remotePrefix !== undefined && rule.remotePrefix !== "0.0.0.0/0") parts.push(`ip ${remote} ${rule.remotePrefix}`);
  if (rule.remoteGroup !== undefined) parts.push(`ip ${remote} @${setName(rule.remoteGroup)}`);
  const proto = rule.protocol;
  if (proto === "tcp" || proto === "udp") {
    if (rule.portMin !== undefined) {
      const max = rule.portMax ?? rule.portMin;
      parts.push(`${proto} dport ${max === rule.portMin ? rule.portMin : `${rule.portMin}-${max}`}`);
    } else {
      parts.push(`meta l4proto ${proto}`);
    }
  } else if (proto === "icmp") {
    parts.push(rule.portMin !== undefined ? `icmp type ${rule.portMin}` : "meta l4proto icmp");
  } else if (proto !== undefined && proto !== "any") {
    parts.push(`meta l4proto ${proto}`);
  }
  return parts.join(" ");
}

/** The nftables ruleset (for `nft -f`) of one VM's port. */
export function portRuleset(plan: SitePlan, vm: Vm): string {
  const groups = plan.groups.filter((g) => vm.port.groups.includes(g.id));
  const rules = groups.flatMap((g) => g.rules);
  const remoteGroups = [...new Set(rules.flatMap((r) => (r.remoteGroup ? [r.remoteGroup] : [])))].sort();
  const sets = remoteGroups.map((g) => {
    const members = [...new Set(groupMembers(plan, g))];
    return [`  set ${setName(g)} {`, "    type ipv4_addr; flags interval; auto-merge;", ...(members.length > 0 ? [`    elements = { ${members.join(", ")} }`] : []), "  }"].join("\n");
  });
  const line = (r: Rule, remote: "saddr" | "daddr") => `    ${[match(r, remote), "accept"].filter(Boolean).join(" ")} comment "${r.id}"`;
  const ingress = rules.filter((r) => r.direction === "ingress").map((r) => line(r, "saddr"));
  const egress = rules.filter((r) => r.direction === "egress").map((r) => line(r, "daddr"));
  if (groups.some((g) => !g.deleteDefaultRules)) egress.push(`    accept comment "default egress rule of a new security group"`);
  const own = [vm.port.ip, ...vm.port.allowedPrefixes].join(", ");
  return [
    `# ${vm.name}: port ${vm.port.id} (${vm.port.ip}), groups ${groups.map((g) => g.name).join(", ")}`,
    "table inet port {",
    ...sets,
    "  # What the port dropped coming in, for the rehearsal's diagnostics (source, protocol, port).",
    "  set dropped { type ipv4_addr . inet_proto . inet_service; flags dynamic; size 4096; }",
    "  chain from_net {",
    "    ct state established,related accept",
    "    ct state invalid drop",
    ...ingress,
    "    meta l4proto { tcp, udp } add @dropped { ip saddr . meta l4proto . th dport }",
    "    counter drop",
    "  }",
    "  chain to_net {",
    "    ct state established,related accept",
    `    ip saddr != { ${own} } drop comment "port security: source not the port's"`,
    ...egress,
    "    drop",
    "  }",
    "  chain input { type filter hook input priority 0; policy accept;",
    `    iifname "${PORT_IF}" jump from_net`,
    "  }",
    "  chain forward { type filter hook forward priority 0; policy accept;",
    `    iifname "${PORT_IF}" jump from_net`,
    `    oifname "${PORT_IF}" jump to_net`,
    "  }",
    "  chain output { type filter hook output priority 0; policy accept;",
    `    oifname "${PORT_IF}" jump to_net`,
    "  }",
    "}",
    "",
  ].join("\n");
}
