/**
 * The rehearsal's networks, all inside namespaces it made: an "internet" namespace with a bridge
 * that the sites' routers and the operators hang off; per site, a router namespace with one
 * bridge per tier (the subnet's gateway address on it), the router's static routes, and the
 * floating IPs as one-to-one NAT on its public side (as Neutron's router does); per VM, its port
 * `eth0` on its tier's bridge with the address the plan gives it, and its security groups as
 * nftables rules (firewall.ts).
 */
import ipaddr from "ipaddr.js";
import { portRuleset, PORT_IF } from "./firewall";
import { Host, Netns } from "./host";
import { hostAddress, PUBLIC_RANGE, SitePlan, Vm } from "./plan";

/** Where the operators are: the admin range the deployment lets reach the bastion, or this. */
export const DEFAULT_OPERATOR_RANGE = "198.51.100.0/24";

export interface Internet {
  readonly ns: Netns;
  /** The operators' range (gateway `.254`). */
  readonly operatorRange: string;
  /** Next free port number on the internet's bridge. */
  ports: number;
}

function prefixLength(cidr: string): number {
  return ipaddr.parseCIDR(cidr)[1];
}

/** The internet namespace: one bridge, the public range and the operators' range routed. */
export function buildInternet(host: Host, operatorRange: string): Internet {
  const ns = host.netns("internet");
  ns.ip("link", "add", "br0", "type", "bridge");
  ns.ip("link", "set", "br0", "up");
  ns.ip("addr", "add", `${hostAddress(PUBLIC_RANGE, 254)}/${prefixLength(PUBLIC_RANGE)}`, "dev", "br0");
  ns.ip("addr", "add", `${hostAddress(operatorRange, 254)}/${prefixLength(operatorRange)}`, "dev", "br0");
  ns.execOk(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  return { ns, operatorRange, ports: 0 };
}

/** Links a namespace to the internet's bridge; its end is `ifname` with `address/prefix`. */
export function linkToInternet(internet: Internet, ns: Netns, ifname: string, cidr: string): void {
  const peer = `p${internet.ports++}`;
  internet.ns.ip("link", "add", peer, "type", "veth", "peer", "name", ifname, "netns", ns.name);
  internet.ns.ip("link", "set", peer, "master", "br0");
  internet.ns.ip("link", "set", peer, "up");
  ns.ip("addr", "add", cidr, "dev", ifname);
  ns.ip("link", "set", ifname, "up");
}

export interface SiteNetwork {
  readonly router: Netns;
  /** The router's public address. */
  readonly routerAddress: string;
}

/** The site's router: a bridge per tier, its routes, NAT for the floating IPs and the rest. */
export function buildRouter(host: Host, internet: Internet, plan: SitePlan, index: number): SiteNetwork {
  const router = host.netns(`${index}-router`);
  const routerAddress = hostAddress(PUBLIC_RANGE, 250 - index);
  linkToInternet(internet, router, "ext", `${routerAddress}/${prefixLength(PUBLIC_RANGE)}`);
  router.ip("route", "add", "default", "via", hostAddress(PUBLIC_RANGE, 254));
  plan.subnets.forEach((s, i) => {
    router.ip("link", "add", `br${i}`, "type", "bridge");
    router.ip("link", "set", `br${i}`, "up");
    router.ip("addr", "add", `${s.gateway}/${prefixLength(s.cidr)}`, "dev", `br${i}`);
  });
  router.execOk(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  for (const f of plan.floatingIps) router.ip("addr", "add", `${f.address}/32`, "dev", "ext");
  const nat = [
    "table ip nat {",
    "  chain prerouting { type nat hook prerouting priority dstnat;",
    ...plan.floatingIps.flatMap((f) => {
      const vm = plan.vms.find((v) => v.name === f.vm);
      return vm ? [`    ip daddr ${f.address} dnat to ${vm.port.ip}`] : [];
    }),
    "  }",
    "  chain postrouting { type nat hook postrouting priority srcnat;",
    ...plan.floatingIps.flatMap((f) => {
      const vm = plan.vms.find((v) => v.name === f.vm);
      return vm ? [`    oifname "ext" ip saddr ${vm.port.ip} snat to ${f.address}`] : [];
    }),
    ...plan.subnets.map((s) => `    oifname "ext" ip saddr ${s.cidr} snat to ${routerAddress}`),
    "  }",
    "}",
    "",
  ].join("\n");
  router.execOk(["nft", "-f", "-"], { input: nat });
  return { router, routerAddress };
}

/** Adds the router's static routes (after the VMs they go through have their ports). */
export function addRoutes(net: SiteNetwork, plan: SitePlan): void {
  for (const r of plan.routes) net.router.ip("route", "add", r.destination, "via", r.nextHop);
}

/** The VM's port: a veth from its tier's bridge, its address, its default route, its firewall. */
export function plugVm(net: SiteNetwork, plan: SitePlan, vm: Vm, ns: Netns, index: number): void {
  const bridge = `br${plan.subnets.findIndex((s) => s.id === vm.port.subnet.id)}`;
  const peer = `v${index}`;
  net.router.ip("link", "add", peer, "type", "veth", "peer", "name", PORT_IF, "netns", ns.name);
  net.router.ip("link", "set", peer, "master", bridge);
  net.router.ip("link", "set", peer, "up");
  ns.ip("addr", "add", `${vm.port.ip}/${prefixLength(vm.port.subnet.cidr)}`, "dev", PORT_IF);
  ns.ip("link", "set", PORT_IF, "up");
  ns.ip("route", "add", "default", "via", vm.port.subnet.gateway);
  ns.execOk(["nft", "-f", "-"], { input: portRuleset(plan, vm) });
}

/**
 * Cuts the sites' tunnel where a real cut happens, between the gateways: the internet's bridge
 * drops the site-to-site WireGuard port (both directions); `restore` removes that rule.
 */
export function tunnelCut(internet: Internet, port: number): { what: string; cut(): void; restore(): void } {
  return {
    what: `UDP ${port} dropped between the sites' routers`,
    cut: () => { internet.ns.execOk(["nft", "-f", "-"], { input: `table bridge cut {\n  chain forward { type filter hook forward priority 0; udp dport ${port} drop; udp sport ${port} drop; }\n}\n` }); },
    restore: () => { internet.ns.execOk(["nft", "delete", "table", "bridge", "cut"]); },
  };
}
