/**
 * The WireGuard keys of a rehearsal. On a real site each gateway's private key is the operator's
 * secret (an input variable) and each admin peer's private key is on the admin's machine: the
 * deployment file holds only the public keys. The rehearsal makes its own key pairs and puts
 * their public keys where the deployment file's are, in every stack's JSON, before Terraform
 * evaluates it: the tunnel then runs with exactly the rendered configuration otherwise.
 */
import { StackJson } from "./plan";

const KEY = "[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=";

/** The public key a gateway's private-key variable declares (its description says it). */
export function declaredGatewayKey(json: StackJson, variable = "vpn_private_key"): string | undefined {
  const d = json.variable?.[variable]?.description ?? "";
  return new RegExp(`its public key is (${KEY})`).exec(d)?.[1];
}

/** The admin peers of a stack: each `wireguard_<peer>` output's tunnel address. */
export function adminPeers(json: StackJson): { peer: string; address: string; output: string }[] {
  return Object.entries(json.output ?? {}).flatMap(([name, o]) => {
    const m = /^wireguard_(.+)$/.exec(name);
    const addr = m ? /Address = ([\d.]+)\/32/.exec(String(o.value))?.[1] : undefined;
    return m && addr ? [{ peer: m[1], address: addr, output: name }] : [];
  });
}

/** The public keys of the [Peer] sections that allow exactly `address/32`, in any string of the stack. */
export function peerKeysFor(json: StackJson, address: string): string[] {
  const re = new RegExp(`\\[Peer\\](?:\\\\n|\\n)PublicKey = (${KEY})(?:\\\\n|\\n)AllowedIPs = ${address.replace(/\./g, "\\.")}/32(?:\\\\n|\\n|$)`, "g");
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === "string") for (const m of v.matchAll(re)) found.add(m[1]);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  // The VMs' user data are locals of the stack (one per VM), the rest is in its resources.
  walk(json.resource);
  walk(json.locals);
  return [...found];
}

/** Replaces each key of `map` by its value in every string of the stack (in place). */
export function replaceKeys(json: StackJson, map: ReadonlyMap<string, string>): void {
  if (map.size === 0) return;
  const re = new RegExp([...map.keys()].map((k) => k.replace(/[+/=]/g, (c) => `\\${c}`)).join("|"), "g");
  const walk = (o: Record<string, unknown> | unknown[]): void => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === "string") (o as Record<string, unknown>)[k] = v.replace(re, (m) => map.get(m)!);
      else if (v && typeof v === "object") walk(v as Record<string, unknown>);
    }
  };
  walk(json as unknown as Record<string, unknown>);
}
