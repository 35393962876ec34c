/** IPv4 network arithmetic on CIDR strings, on top of ipaddr.js. */
import * as ipaddr from "ipaddr.js";

/** True when `inner` lies wholly inside `outer`. */
export function contains(outer: string, inner: string): boolean {
  const [a, innerLen] = ipaddr.IPv4.parseCIDR(inner);
  const [b, outerLen] = ipaddr.IPv4.parseCIDR(outer);
  return innerLen >= outerLen && a.match(b, outerLen);
}

/** True when two networks share an address. */
export function overlaps(a: string, b: string): boolean {
  return contains(a, b) || contains(b, a);
}

/** Number of addresses in a network. */
export function size(cidr: string): number {
  return 2 ** (32 - ipaddr.IPv4.parseCIDR(cidr)[1]);
}

/** The address `offset` hosts after the network address. */
export function hostAt(cidr: string, offset: number): string {
  const base = ipaddr.IPv4.networkAddressFromCIDR(cidr).toByteArray();
  const n = ((base[0] << 24) >>> 0) + (base[1] << 16) + (base[2] << 8) + base[3] + offset;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Prefix length of a network. */
export function prefixLength(cidr: string): number {
  return ipaddr.IPv4.parseCIDR(cidr)[1];
}
