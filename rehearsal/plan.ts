/**
 * The rehearsal's plan of a site, read from its synthesized infra stack (cdktf.out): the tiers
 * (subnets), the VMs with their ports (address, security groups, allowed address pairs), the
 * router's routes, the floating IPs and the security groups with their rules. Nothing here is
 * written by hand: what the rehearsal builds comes from the JSON that would be deployed.
 *
 * Addresses OpenStack would assign (DHCP ports, floating IPs) are the rehearsal's own: DHCP
 * ports take the first free addresses of their subnet's allocation pool, in declaration order;
 * floating IPs come from `PUBLIC_RANGE`.
 */
import ipaddr from "ipaddr.js";

/** The synthesized Terraform JSON of a stack, as far as the rehearsal reads it. */
export interface StackJson {
  readonly resource?: Readonly<Record<string, Readonly<Record<string, Record<string, unknown>>>>>;
  readonly data?: Readonly<Record<string, Readonly<Record<string, Record<string, unknown>>>>>;
  readonly output?: Readonly<Record<string, Record<string, unknown>>>;
  readonly terraform?: Record<string, unknown>;
  readonly provider?: Record<string, unknown>;
  readonly locals?: Record<string, unknown>;
  readonly variable?: Readonly<Record<string, { readonly description?: string; readonly sensitive?: boolean }>>;
}

export interface Subnet {
  /** Terraform resource name (uniqueId) of the subnet. */
  readonly id: string;
  readonly name: string;
  readonly cidr: string;
  readonly gateway: string;
}

export interface Port {
  readonly id: string;
  readonly ip: string;
  readonly subnet: Subnet;
  /** Security group resource names. */
  readonly groups: readonly string[];
  /** allowed_address_pairs: prefixes the port may send from (and receive for) besides its own. */
  readonly allowedPrefixes: readonly string[];
  /** Whether the address came from DHCP (the rehearsal's choice) rather than the plan. */
  readonly dhcp: boolean;
}

export interface Vm {
  /** Terraform resource name of the instance. */
  readonly id: string;
  /** The VM's name (its hostname). */
  readonly name: string;
  readonly role: string;
  readonly port: Port;
  /** The floating IP associated with the VM's port, if any (the rehearsal's public address). */
  readonly floatingIp?: string;
}

export interface Rule {
  readonly id: string;
  readonly group: string;
  readonly direction: "ingress" | "egress";
  /** tcp, udp, icmp, a protocol number, or undefined for any. */
  readonly protocol?: string;
  readonly portMin?: number;
  readonly portMax?: number;
  readonly remotePrefix?: string;
  readonly remoteGroup?: string;
}

export interface SecurityGroup {
  readonly id: string;
  readonly name: string;
  /** OpenStack adds allow-all egress rules to a new group unless this is set. */
  readonly deleteDefaultRules: boolean;
  readonly rules: readonly Rule[];
}

export interface Route {
  readonly destination: string;
  readonly nextHop: string;
}

export interface FloatingIp {
  /** Terraform resource name of the floating IP. */
  readonly id: string;
  readonly address: string;
  readonly vm?: string;
}

export interface SitePlan {
  /** The stack name, e.g. `primary-infra`. */
  readonly stack: string;
  readonly subnets: readonly Subnet[];
  readonly vms: readonly Vm[];
  readonly groups: readonly SecurityGroup[];
  readonly routes: readonly Route[];
  readonly floatingIps: readonly FloatingIp[];
}

/** The rehearsal's "internet": floating IPs and site routers' gateways (TEST-NET-3, RFC 5737). */
export const PUBLIC_RANGE = "203.0.113.0/24";

/** Thrown for a stack the rehearsal cannot read; the message is one line naming what and why. */
export class PlanError extends Error {}

const REF = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$/;

/** The resource name a `${type.name.attr}` reference points at, checking its type. */
export function refName(expr: unknown, type: string, where: string): string {
  const m = typeof expr === "string" ? REF.exec(expr) : null;
  if (!m || m[1] !== type) throw new PlanError(`${where}: expected a reference to a ${type}, got ${JSON.stringify(expr)}`);
  return m[2];
}

function resources(stack: StackJson, type: string): [string, Record<string, unknown>][] {
  return Object.entries(stack.resource?.[type] ?? {});
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string") throw new PlanError(`${where}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function list<T = Record<string, unknown>>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** The addresses of a pool, in order, from `start` to `end` inclusive. */
function* poolAddresses(start: string, end: string): Generator<string> {
  const last = ipaddr.IPv4.parse(end).toByteArray().reduce((a, b) => a * 256 + b, 0);
  for (let n = ipaddr.IPv4.parse(start).toByteArray().reduce((a, b) => a * 256 + b, 0); n <= last; n++) {
    yield [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  }
}

/** The n-th host address of a range (n from 1). */
export function hostAddress(cidr: string, n: number): string {
  const [base] = ipaddr.parseCIDR(cidr);
  const v = base.toByteArray().reduce((a, b) => a * 256 + b, 0) + n;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/**
 * Reads a site's plan from its synthesized infra stack. `publicBase` numbers the site's floating
 * IPs in PUBLIC_RANGE so that two sites never share one.
 */
export function readSitePlan(stack: string, json: StackJson, publicBase: number): SitePlan {
  const subnets = new Map<string, Subnet & { pool: string[] }>();
  for (const [id, s] of resources(json, "openstack_networking_subnet_v2")) {
    const cidr = str(s.cidr, `${stack} subnet ${id} cidr`);
    const pools = list<{ start: string; end: string }>(s.allocation_pool);
    const pool = pools.flatMap((p) => [...poolAddresses(p.start, p.end)]);
    subnets.set(id, { id, name: str(s.name, `${stack} subnet ${id} name`), cidr, gateway: str(s.gateway_ip, `${stack} subnet ${id} gateway_ip`), pool });
  }
  const ports = new Map<string, Port>();
  const taken = new Set<string>();
  const portEntries = resources(json, "openstack_networking_port_v2");
  for (const [, p] of portEntries) for (const f of list<{ ip_address?: string }>(p.fixed_ip)) if (f.ip_address) taken.add(f.ip_address);
  for (const [id, p] of portEntries) {
    const where = `${stack} port ${id}`;
    const fixed = list<{ ip_address?: string; subnet_id?: string }>(p.fixed_ip);
    if (fixed.length !== 1) throw new PlanError(`${where}: the rehearsal models one fixed IP per port, got ${fixed.length}`);
    const subnet = subnets.get(refName(fixed[0].subnet_id, "openstack_networking_subnet_v2", `${where} fixed_ip.subnet_id`));
    if (!subnet) throw new PlanError(`${where}: its subnet is not in the stack`);
    let ip = fixed[0].ip_address;
    const dhcp = ip === undefined;
    if (ip === undefined) {
      ip = subnet.pool.find((a) => !taken.has(a));
      if (!ip) throw new PlanError(`${where}: no free address left in ${subnet.cidr}'s allocation pool`);
      taken.add(ip);
    }
    ports.set(id, {
      id,
      ip,
      subnet,
      dhcp,
      groups: list<string>(p.security_group_ids).map((g, i) => refName(g, "openstack_networking_secgroup_v2", `${where} security_group_ids[${i}]`)),
      allowedPrefixes: list<{ ip_address: string }>(p.allowed_address_pairs).map((a) => a.ip_address),
    });
  }
  const fips = resources(json, "openstack_networking_floatingip_v2").map(([id], i) => ({ id, address: hostAddress(PUBLIC_RANGE, publicBase + i) }));
  const fipOfPort = new Map<string, string>();
  for (const [id, a] of resources(json, "openstack_networking_floatingip_associate_v2")) {
    const fip = refName(a.floating_ip, "openstack_networking_floatingip_v2", `${stack} ${id} floating_ip`);
    fipOfPort.set(refName(a.port_id, "openstack_networking_port_v2", `${stack} ${id} port_id`), fip);
  }
  const vms: Vm[] = [];
  for (const [id, inst] of resources(json, "openstack_compute_instance_v2")) {
    const where = `${stack} instance ${id}`;
    const nets = list<{ port?: string }>(inst.network);
    if (nets.length !== 1) throw new PlanError(`${where}: the rehearsal models one network port per VM, got ${nets.length}`);
    const portId = refName(nets[0].port, "openstack_networking_port_v2", `${where} network[0].port`);
    const port = ports.get(portId);
    if (!port) throw new PlanError(`${where}: its port ${portId} is not in the stack`);
    const fipId = fipOfPort.get(portId);
    const metadata = (inst.metadata ?? {}) as Record<string, string>;
    const name = str(inst.name, `${where} name`);
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw new PlanError(`${where}: name ${JSON.stringify(name)} is not a hostname (lowercase letters, digits and -)`);
    vms.push({
      id,
      name,
      role: metadata.role ?? "vm",
      port,
      ...(fipId ? { floatingIp: fips.find((f) => f.id === fipId)!.address } : {}),
    });
  }
  const rules = resources(json, "openstack_networking_secgroup_rule_v2").map(([id, r]): Rule => {
    const where = `${stack} rule ${id}`;
    // A field the rehearsal cannot read would widen the rule to "any": refuse it instead.
    for (const k of ["port_range_min", "port_range_max"]) if (r[k] !== undefined && !Number.isInteger(r[k])) throw new PlanError(`${where}: ${k} is ${JSON.stringify(r[k])}, expected a port number`);
    if (r.protocol !== undefined && (typeof r.protocol !== "string" || !/^(tcp|udp|icmp|any|\d+)$/.test(r.protocol))) throw new PlanError(`${where}: protocol is ${JSON.stringify(r.protocol)}, expected tcp, udp, icmp or a protocol number`);
    if (r.remote_ip_prefix !== undefined && (typeof r.remote_ip_prefix !== "string" || !ipaddr.isValidCIDR(r.remote_ip_prefix))) throw new PlanError(`${where}: remote_ip_prefix is ${JSON.stringify(r.remote_ip_prefix)}, expected an address range such as 10.10.1.0/24`);
    const direction = str(r.direction, `${where} direction`);
    if (direction !== "ingress" && direction !== "egress") throw new PlanError(`${where}: direction ${direction} is neither ingress nor egress`);
    if (r.ethertype !== undefined && r.ethertype !== "IPv4") throw new PlanError(`${where}: the rehearsal models IPv4 rules only, got ${String(r.ethertype)}`);
    return {
      id,
      group: refName(r.security_group_id, "openstack_networking_secgroup_v2", `${where} security_group_id`),
      direction,
      ...(typeof r.protocol === "string" ? { protocol: r.protocol } : {}),
      ...(typeof r.port_range_min === "number" ? { portMin: r.port_range_min } : {}),
      ...(typeof r.port_range_max === "number" ? { portMax: r.port_range_max } : {}),
      ...(typeof r.remote_ip_prefix === "string" ? { remotePrefix: r.remote_ip_prefix } : {}),
      ...(r.remote_group_id !== undefined ? { remoteGroup: refName(r.remote_group_id, "openstack_networking_secgroup_v2", `${where} remote_group_id`) } : {}),
    };
  });
  const groups = resources(json, "openstack_networking_secgroup_v2").map(([id, g]): SecurityGroup => ({
    id,
    name: str(g.name, `${stack} security group ${id} name`),
    deleteDefaultRules: g.delete_default_rules === true,
    rules: rules.filter((r) => r.group === id),
  }));
  const routes = resources(json, "openstack_networking_router_route_v2").map(([id, r]) => ({
    destination: str(r.destination_cidr, `${stack} route ${id} destination_cidr`),
    nextHop: str(r.next_hop, `${stack} route ${id} next_hop`),
  }));
  const floatingIps = fips.map((f) => {
    const port = [...fipOfPort].find(([, fip]) => fip === f.id)?.[0];
    const vm = port ? vms.find((v) => v.port.id === port)?.name : undefined;
    return { ...f, ...(vm ? { vm } : {}) };
  });
  return { stack, subnets: [...subnets.values()].map(({ pool: _pool, ...s }) => s), vms, groups, routes, floatingIps };
}

/**
 * The addresses a security group's members hold, as a remote group matches them: each member
 * port's fixed IP and its allowed address pairs (Neutron puts both in the remote group's set).
 */
export function groupMembers(plan: SitePlan, group: string): string[] {
  return plan.vms.filter((v) => v.port.groups.includes(group)).flatMap((v) => [v.port.ip, ...v.port.allowedPrefixes]);
}
