import { Construct } from "constructs";
import { AclPolicy } from "@cdktf/provider-consul/lib/acl-policy";
import { AclToken } from "@cdktf/provider-consul/lib/acl-token";

/** What a Consul ACL rule grants. */
export enum Access {
  READ = "read",
  WRITE = "write",
  LIST = "list",
  DENY = "deny",
}

type Resource = "service" | "service_prefix" | "key" | "key_prefix" | "node" | "node_prefix" | "agent" | "agent_prefix" | "session" | "session_prefix" | "query" | "query_prefix";
type Scalar = "operator" | "acl" | "mesh" | "keyring" | "peering";

/**
 * Consul ACL rules, built rule by rule and serialized to Consul's JSON rule format.
 * Immutable: every method returns new rules.
 */
export class AclRules {
  static none(): AclRules {
    return new AclRules({}, {});
  }

  private constructor(
    private readonly resources: Readonly<Record<string, Readonly<Record<string, Access>>>>,
    private readonly scalars: Readonly<Record<string, Access>>,
  ) {}

  service(name: string, access: Access): AclRules {
    return this.with("service", name, access);
  }
  servicePrefix(prefix: string, access: Access): AclRules {
    return this.with("service_prefix", prefix, access);
  }
  key(path: string, access: Access): AclRules {
    return this.with("key", path, access);
  }
  keyPrefix(prefix: string, access: Access): AclRules {
    return this.with("key_prefix", prefix, access);
  }
  node(name: string, access: Access): AclRules {
    return this.with("node", name, access);
  }
  nodePrefix(prefix: string, access: Access): AclRules {
    return this.with("node_prefix", prefix, access);
  }
  agentPrefix(prefix: string, access: Access): AclRules {
    return this.with("agent_prefix", prefix, access);
  }
  sessionPrefix(prefix: string, access: Access): AclRules {
    return this.with("session_prefix", prefix, access);
  }
  queryPrefix(prefix: string, access: Access): AclRules {
    return this.with("query_prefix", prefix, access);
  }
  operator(access: Access): AclRules {
    return this.withScalar("operator", access);
  }
  mesh(access: Access): AclRules {
    return this.withScalar("mesh", access);
  }

  /** Both sets of rules; where both name the same resource, the second wins. */
  merge(other: AclRules): AclRules {
    const resources: Record<string, Record<string, Access>> = {};
    for (const src of [this.resources, other.resources]) {
      for (const [kind, entries] of Object.entries(src)) resources[kind] = { ...(resources[kind] ?? {}), ...entries };
    }
    return new AclRules(resources, { ...this.scalars, ...other.scalars });
  }

  get isEmpty(): boolean {
    return Object.keys(this.resources).length === 0 && Object.keys(this.scalars).length === 0;
  }

  /** Consul's JSON rule format: `{"service": {"api": {"policy": "write"}}, "operator": "read"}`. */
  toJson(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const kind of Object.keys(this.resources).sort()) {
      const entries = this.resources[kind];
      out[kind] = Object.fromEntries(Object.keys(entries).sort().map((name) => [name, { policy: entries[name] }]));
    }
    for (const kind of Object.keys(this.scalars).sort()) out[kind] = this.scalars[kind];
    return out;
  }

  toString(): string {
    return JSON.stringify(this.toJson());
  }

  private with(kind: Resource, name: string, access: Access): AclRules {
    if (kind === "service" && !name) throw new Error(`AclRules.service: empty service name; expected a name (use servicePrefix("") for every service)`);
    return new AclRules({ ...this.resources, [kind]: { ...(this.resources[kind] ?? {}), [name]: access } }, this.scalars);
  }

  private withScalar(kind: Scalar, access: Access): AclRules {
    if (access === Access.LIST) throw new Error(`AclRules.${kind}: "list" does not apply; expected read, write or deny`);
    return new AclRules(this.resources, { ...this.scalars, [kind]: access });
  }
}

export interface ConsulPolicyProps {
  /** Policy name, unique in the datacenter. */
  readonly name: string;
  readonly description: string;
  readonly rules: AclRules;
  /** Datacenters the policy applies in. @default - every datacenter */
  readonly datacenters?: readonly string[];
}

/** A Consul ACL policy from typed rules. */
export class ConsulPolicy extends Construct {
  readonly resource: AclPolicy;
  readonly name: string;
  readonly rules: AclRules;

  constructor(scope: Construct, id: string, props: ConsulPolicyProps) {
    super(scope, id);
    if (props.rules.isEmpty) throw new Error(`ConsulPolicy ${props.name}: rules are empty; expected at least one rule (an empty policy grants nothing)`);
    this.name = props.name;
    this.rules = props.rules;
    this.resource = new AclPolicy(this, "policy", {
      name: props.name,
      description: props.description,
      rules: props.rules.toString(),
      ...(props.datacenters ? { datacenters: [...props.datacenters] } : {}),
    });
  }
}

export interface ConsulTokenProps {
  readonly description: string;
  readonly policies: readonly ConsulPolicy[];
  /** Valid in this datacenter only. @default true */
  readonly local?: boolean;
}

/** A Consul ACL token holding the given policies. Its secret stays in state (read it with consul_acl_token_secret_id). */
export class ConsulToken extends Construct {
  readonly resource: AclToken;
  constructor(scope: Construct, id: string, props: ConsulTokenProps) {
    super(scope, id);
    if (props.policies.length === 0) throw new Error(`ConsulToken "${props.description}": policies is empty; expected at least one policy`);
    this.resource = new AclToken(this, "token", { description: props.description, policies: props.policies.map((p) => p.resource.name), local: props.local ?? true });
  }
  /** The token's accessor id (not secret). */
  get accessorId(): string {
    return this.resource.accessorId;
  }
}
