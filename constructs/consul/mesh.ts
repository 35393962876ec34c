import { Construct } from "constructs";
import { ConfigEntryServiceDefaults } from "@cdktf/provider-consul/lib/config-entry-service-defaults";
import { ConfigEntryServiceIntentions } from "@cdktf/provider-consul/lib/config-entry-service-intentions";
import { KeyPrefix } from "@cdktf/provider-consul/lib/key-prefix";
import { PreparedQuery } from "@cdktf/provider-consul/lib/prepared-query";

/** The protocol a service speaks, for Consul's service-defaults (L7 features need http/grpc). */
export enum ServiceProtocol {
  TCP = "tcp",
  HTTP = "http",
  HTTP2 = "http2",
  GRPC = "grpc",
}

export enum IntentionAction {
  ALLOW = "allow",
  DENY = "deny",
}

export interface ServiceIntentionsProps {
  /** The destination service. `*` for every service. */
  readonly destination: string;
  /** Services allowed to connect. */
  readonly allow: readonly string[];
  /** Services denied. @default - none */
  readonly deny?: readonly string[];
}

/**
 * The precedence Consul gives an intention (its docs' table, without namespaces or partitions):
 * exact source to exact destination 9, any source to an exact destination 8, an exact source to
 * any destination 6, any to any 5. Consul computes it; the consul provider (2.22) reads it back
 * into `sources`, so declaring it keeps a second plan empty. @internal
 */
export function intentionPrecedence(source: string, destination: string): number {
  const exactSource = source !== "*";
  const exactDestination = destination !== "*";
  return exactSource && exactDestination ? 9 : exactDestination ? 8 : exactSource ? 6 : 5;
}

/**
 * Who may connect to a service through the mesh. With ACLs at default deny, Consul already
 * refuses what no intention allows; `ServiceIntentions.denyAll` says so explicitly.
 */
export class ServiceIntentions extends Construct {
  /** A `* -> *` deny: the mesh's default, stated. */
  static denyAll(scope: Construct, id: string): ServiceIntentions {
    return new ServiceIntentions(scope, id, { destination: "*", allow: [], deny: ["*"] });
  }

  readonly resource: ConfigEntryServiceIntentions;
  readonly destination: string;
  readonly allowed: readonly string[];

  constructor(scope: Construct, id: string, props: ServiceIntentionsProps) {
    super(scope, id);
    const both = props.allow.filter((s) => (props.deny ?? []).includes(s));
    if (both.length > 0) throw new Error(`ServiceIntentions ${props.destination}: ${both.join(", ")} both allowed and denied; expected each source once`);
    if (props.allow.includes(props.destination)) throw new Error(`ServiceIntentions ${props.destination}: allows itself; expected other services (a service does not connect to itself through the mesh)`);
    if (props.allow.length === 0 && (props.deny ?? []).length === 0) throw new Error(`ServiceIntentions ${props.destination}: no source; expected at least one allowed or denied service`);
    this.destination = props.destination;
    this.allowed = [...props.allow].sort();
    const sources = [
      ...this.allowed.map((name) => ({ name, action: IntentionAction.ALLOW, description: `${name} depends on ${props.destination}`, precedence: intentionPrecedence(name, props.destination) })),
      ...[...(props.deny ?? [])]
        .sort()
        .map((name) => ({ name, action: IntentionAction.DENY, description: `${name} may not reach ${props.destination}`, precedence: intentionPrecedence(name, props.destination) })),
    ];
    this.resource = new ConfigEntryServiceIntentions(this, "intentions", { name: props.destination, sources });
  }
}

export interface ServiceDefaultsProps {
  readonly service: string;
  readonly protocol: ServiceProtocol;
}

/** A service's defaults for the mesh (its protocol). */
export class ServiceDefaults extends Construct {
  readonly resource: ConfigEntryServiceDefaults;
  constructor(scope: Construct, id: string, props: ServiceDefaultsProps) {
    super(scope, id);
    // The consul provider (2.22) reads these three blocks back with Consul's defaults whatever
    // was declared: declaring the same defaults keeps a second plan empty (measured by the
    // platform real tier: with `expose: [{}]` alone, every plan updated every entry).
    this.resource = new ConfigEntryServiceDefaults(this, "defaults", {
      name: props.service,
      protocol: props.protocol,
      expose: [{ checks: false }],
      meshGateway: [{ mode: "" }],
      transparentProxy: [{ dialedDirectly: false, outboundListenerPort: 0 }],
    });
  }
}

export interface AppSettingsProps {
  /** KV prefix, e.g. `config/api/`; must end with `/`. */
  readonly prefix: string;
  /** Settings under the prefix: key to value. Not for secrets: KV values are in the state. */
  readonly settings: Readonly<Record<string, string>>;
}

/** An application's settings in Consul KV, read by its tasks' templates. */
export class AppSettings extends Construct {
  readonly resource: KeyPrefix;
  readonly prefix: string;
  constructor(scope: Construct, id: string, props: AppSettingsProps) {
    super(scope, id);
    if (!props.prefix.endsWith("/") || props.prefix.startsWith("/")) throw new Error(`AppSettings: prefix "${props.prefix}" expected a relative path ending with "/", e.g. config/api/`);
    this.prefix = props.prefix;
    this.resource = new KeyPrefix(this, "kv", { pathPrefix: props.prefix, subkeys: { ...props.settings } });
  }
}

export interface FailoverQueryProps {
  /** The query name (DNS: `<name>.query.consul`). @default the service name */
  readonly name?: string;
  readonly service: string;
  /** Datacenters to try, in order, when no healthy instance is left here. */
  readonly failoverDatacenters: readonly string[];
  /** Also try the N nearest datacenters by round-trip time. @default 0 */
  readonly nearestN?: number;
  /** DNS TTL of the answers. @default "10s" */
  readonly ttl?: string;
}

/** A prepared query that answers with healthy instances here, or in the other site's datacenter. */
export class FailoverQuery extends Construct {
  static readonly DEFAULT_TTL = "10s";
  readonly resource: PreparedQuery;
  readonly name: string;
  constructor(scope: Construct, id: string, props: FailoverQueryProps) {
    super(scope, id);
    if (props.failoverDatacenters.length === 0) throw new Error(`FailoverQuery ${props.service}: failoverDatacenters is empty; expected the datacenter(s) to fail over to`);
    this.name = props.name ?? props.service;
    this.resource = new PreparedQuery(this, "query", {
      name: this.name,
      service: props.service,
      onlyPassing: true,
      // Mesh services are reached through their sidecar proxies.
      connect: true,
      failover: { datacenters: [...props.failoverDatacenters], nearestN: props.nearestN ?? 0 },
      dns: { ttl: props.ttl ?? FailoverQuery.DEFAULT_TTL },
    });
  }
}
