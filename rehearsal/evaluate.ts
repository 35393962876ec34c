/**
 * What Terraform would compute for each VM: a scratch Terraform root made from the synthesized
 * infra stack, holding its `tls_*` and `random_*` resources unchanged, its outputs, and each
 * instance's `user_data` as a sensitive output. References to what OpenStack would create are
 * replaced by the rehearsal's own values (floating IPs, DHCP addresses, IDs); a reference the
 * rehearsal does not model is an error that names it. A site that reads another's state
 * (`terraform_remote_state`, the backup's cross-stack references) reads the other's scratch state.
 * The real Terraform applies it; nothing here computes a secret or renders a template itself.
 */
import { PENDING_ROLL_OUTPUT } from "../ops/infra-outputs";
import { PlanError, SitePlan, StackJson } from "./plan";

/** The sensitive output holding every instance's evaluated user data, keyed by resource name. */
export const USER_DATA_OUTPUT = "rehearsal_user_data";

const OPENSTACK_REF = /\b(data\.)?(openstack_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)/g;

/** The rehearsal's value for an attribute of an OpenStack object, or undefined when it has none. */
function openstackValue(plan: SitePlan, type: string, name: string, attr: string): unknown {
  if (attr === "id") return `rehearsal-${name}`;
  if (type === "openstack_networking_floatingip_v2" && attr === "address") return plan.floatingIps.find((f) => f.id === name)?.address;
  const vm = type === "openstack_compute_instance_v2" ? plan.vms.find((v) => v.id === name) : undefined;
  const port = type === "openstack_networking_port_v2" ? plan.vms.find((v) => v.port.id === name)?.port : vm?.port;
  if (port && (attr === "all_fixed_ips" || attr === "all_ips")) return [port.ip];
  if (vm && attr === "access_ip_v4") return vm.port.ip;
  if (type === "openstack_networking_subnet_v2" && attr === "cidr") return plan.subnets.find((s) => s.id === name)?.cidr;
  return undefined;
}

/** Applies `f` to every string of a Terraform JSON value (comments, `//`, left as they are). */
export function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "//" ? v : mapStrings(v, f)]));
  return value;
}

/**
 * The value the rehearsal gives a stack's input variable: a fresh WireGuard key for a gateway's
 * private key (the operator's secret on a real site); any other variable is an error naming it.
 */
export function variableValue(stack: string, name: string, genkey: () => string): string {
  if (/private_key$/.test(name)) return genkey();
  throw new PlanError(`${stack}: the rehearsal has no value for the input variable ${name}`);
}

export interface ScratchOptions {
  /** Absolute paths of the scratch states of the stacks this one reads, by stack name. */
  readonly remoteStates: Readonly<Record<string, string>>;
}

/**
 * The scratch root of a site's infra stack (Terraform JSON). Throws PlanError, naming the
 * reference, for an OpenStack attribute the rehearsal has no value for.
 */
export function scratchRoot(plan: SitePlan, stack: StackJson, opts: ScratchOptions): Record<string, unknown> {
  const locals: Record<string, unknown> = {};
  const substitute = (where: string) => (s: string) =>
    s.replace(OPENSTACK_REF, (whole, data: string | undefined, type: string, name: string, attr: string) => {
      const value = data ? undefined : openstackValue(plan, type, name, attr);
      if (value === undefined) throw new PlanError(`${plan.stack} ${where}: the rehearsal has no value for ${whole}`);
      const local = `rh_${type.replace(/^openstack_/, "")}_${name}_${attr}`.replace(/[^A-Za-z0-9_]/g, "_");
      locals[local] = value;
      return `local.${local}`;
    });
  const resource: Record<string, unknown> = {};
  for (const [type, rs] of Object.entries(stack.resource ?? {})) {
    if (!/^(tls|random)_/.test(type)) continue;
    resource[type] = Object.fromEntries(Object.entries(rs).map(([name, r]) => [name, mapStrings(r, substitute(`${type}.${name}`))]));
  }
  const data: Record<string, Record<string, unknown>> = {};
  for (const [name, r] of Object.entries(stack.data?.terraform_remote_state ?? {})) {
    const from = Object.keys(opts.remoteStates).find((s) => name.endsWith(s));
    if (!from) throw new PlanError(`${plan.stack}: it reads the state of another stack (${name}) that is not rehearsed before it`);
    data[name] = { backend: "local", config: { path: opts.remoteStates[from] }, ...(r.workspace ? { workspace: r.workspace } : {}) };
  }
  // The stack's own locals (each VM's user data is one), with the same substitutions.
  for (const [name, v] of Object.entries(stack.locals ?? {})) locals[name] = mapStrings(v, substitute(`local ${name}`));
  const output: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(stack.output ?? {})) {
    // What a roll would change compares with the instances' state in OpenStack: nothing here.
    if (name === PENDING_ROLL_OUTPUT) continue;
    output[name] = mapStrings(o, substitute(`output ${name}`));
  }
  const instances = stack.resource?.openstack_compute_instance_v2 ?? {};
  output[USER_DATA_OUTPUT] = {
    sensitive: true,
    value: Object.fromEntries(Object.entries(instances).map(([name, i]) => [name, mapStrings(i.user_data, substitute(`instance ${name} user_data`))])),
  };
  const required = (stack.terraform?.required_providers ?? {}) as Record<string, unknown>;
  const providers = Object.fromEntries(Object.entries(required).filter(([p]) => p === "tls" || p === "random"));
  return {
    terraform: { required_providers: providers },
    ...(Object.keys(providers).length > 0 ? { provider: Object.fromEntries(Object.keys(providers).map((p) => [p, [{}]])) } : {}),
    ...(stack.variable ? { variable: stack.variable } : {}),
    ...(Object.keys(locals).length > 0 ? { locals } : {}),
    ...(Object.keys(resource).length > 0 ? { resource } : {}),
    ...(Object.keys(data).length > 0 ? { data: { terraform_remote_state: data } } : {}),
    output,
  };
}
