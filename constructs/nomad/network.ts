import { compact, isNonEmptyString, isPortNumber, JsonObject, nonEmpty, Problems } from "./internal";

/** Options shared by dynamic and static ports. */
export interface PortOptions {
  /**
   * Port inside the task's network namespace (or container) that the host port maps to.
   *
   * @default - no mapping: the task listens on the allocated host port itself
   */
  readonly to?: number;

  /**
   * Name of the client `host_network` the port is allocated on.
   *
   * @default - the client's default network
   */
  readonly hostNetwork?: string;
}

/**
 * A port a task group asks for, referred to by its label from services, checks and drivers.
 *
 * ```ts
 * const http = Port.dynamic("http", { to: 8080 });
 * const dns = Port.static("dns", 53);
 * ```
 */
export class Port {
  /** A port that Nomad picks from the client's dynamic range. */
  public static dynamic(label: string, options: PortOptions = {}): Port {
    return new Port(label, undefined, options);
  }

  /** A port with a fixed host port number. */
  public static static(label: string, value: number, options: PortOptions = {}): Port {
    return new Port(label, value, options);
  }

  /** Label of the port, unique within its group. */
  public readonly label: string;
  /** Fixed host port, or `undefined` for a dynamic port. */
  public readonly value?: number;
  /** Port inside the task the host port maps to, if any. */
  public readonly to?: number;
  /** Client host network the port is allocated on, if not the default one. */
  public readonly hostNetwork?: string;

  private constructor(label: string, value: number | undefined, options: PortOptions) {
    this.label = label;
    this.value = value;
    this.to = options.to;
    this.hostNetwork = options.hostNetwork;
  }

  /** True for a dynamic port. */
  public get isDynamic(): boolean {
    return this.value === undefined;
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at(`port "${this.label}"`);
    if (!isNonEmptyString(this.label) || !/^[A-Za-z0-9_-]+$/.test(this.label)) {
      p.add("label", this.label, "a non-empty label of letters, digits, '_' or '-'");
    }
    if (this.value !== undefined && !isPortNumber(this.value)) {
      p.add("value", this.value, "an integer port number from 1 to 65535");
    }
    if (this.to !== undefined && !isPortNumber(this.to)) {
      p.add("to", this.to, "an integer port number from 1 to 65535");
    }
    if (this.hostNetwork !== undefined && !isNonEmptyString(this.hostNetwork)) {
      p.add("hostNetwork", this.hostNetwork, "a non-empty host network name");
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    return compact({
      Label: this.label,
      Value: this.value,
      To: this.to,
      HostNetwork: this.hostNetwork,
    });
  }
}

/**
 * How the allocation's network namespace is set up.
 */
export class NetworkMode {
  /** Tasks share the host's network namespace (Nomad's default). */
  public static readonly HOST = new NetworkMode("host");
  /** A network namespace per allocation, bridged to the host (needed by Consul Connect). */
  public static readonly BRIDGE = new NetworkMode("bridge");
  /** A network namespace with no connectivity. */
  public static readonly NONE = new NetworkMode("none");

  /** A network namespace set up by the named CNI network configuration. */
  public static cni(name: string): NetworkMode {
    return new NetworkMode(`cni/${name}`);
  }

  private constructor(
    /** The mode as written in the job, e.g. `bridge` or `cni/mynet`. */
    public readonly value: string,
  ) {}

  /** True when the mode gives the allocation its own network namespace (bridge or CNI). */
  public get isolatesNamespace(): boolean {
    return this.value === "bridge" || this.value.startsWith("cni/");
  }
}

/** DNS settings of the allocation's network namespace. */
export interface NetworkDns {
  /** DNS servers. */
  readonly servers: string[];
  /**
   * Search domains.
   *
   * @default - none
   */
  readonly searches?: string[];
  /**
   * resolv.conf options.
   *
   * @default - none
   */
  readonly options?: string[];
}

/** Props of {@link Network}. */
export interface NetworkProps {
  /**
   * Network mode of the group.
   *
   * @default NetworkMode.HOST
   */
  readonly mode?: NetworkMode;

  /**
   * Ports the group asks for; labels must be unique within the group.
   *
   * @default - no ports
   */
  readonly ports?: Port[];

  /**
   * Hostname inside the network namespace (bridge / CNI modes only).
   *
   * @default - Nomad's default hostname
   */
  readonly hostname?: string;

  /**
   * DNS configuration inside the network namespace.
   *
   * @default - the client's resolv.conf
   */
  readonly dns?: NetworkDns;
}

/**
 * The network block of a task group: its mode and its ports.
 */
export class Network {
  /** Default network mode. */
  public static readonly DEFAULT_MODE = NetworkMode.HOST;

  /** Network mode. */
  public readonly mode: NetworkMode;
  /** Ports asked for. */
  public readonly ports: readonly Port[];
  /** Hostname inside the namespace, if set. */
  public readonly hostname?: string;
  /** DNS settings, if set. */
  public readonly dns?: NetworkDns;

  constructor(props: NetworkProps = {}) {
    this.mode = props.mode ?? Network.DEFAULT_MODE;
    this.ports = props.ports ?? [];
    this.hostname = props.hostname;
    this.dns = props.dns;
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at("network");
    if (!(this.mode instanceof NetworkMode)) {
      p.add("mode", this.mode, "a NetworkMode such as NetworkMode.BRIDGE");
    } else if (this.mode.value.startsWith("cni/") && this.mode.value.length <= "cni/".length) {
      p.add("mode", this.mode.value, "a CNI network name after 'cni/'");
    }
    const seen = new Map<string, number>();
    this.ports.forEach((port, index) => {
      if (!(port instanceof Port)) {
        p.add(`ports[${index}]`, port, "a Port made with Port.dynamic() or Port.static()");
        return;
      }
      port._validate(p);
      if (seen.has(port.label)) {
        p.add(`ports[${index}].label`, port.label, `a label not already used by ports[${seen.get(port.label)}] (port labels must be unique within a group)`);
      } else {
        seen.set(port.label, index);
      }
    });
    const statics = new Map<string, string>();
    for (const port of this.ports) {
      if (!(port instanceof Port) || port.value === undefined) continue;
      const key = `${port.hostNetwork ?? "default"}:${port.value}`;
      const other = statics.get(key);
      if (other !== undefined) {
        p.add(`port "${port.label}" value`, port.value, `a static port not already reserved by port "${other}"`);
      } else {
        statics.set(key, port.label);
      }
    }
    if (this.hostname !== undefined && this.mode instanceof NetworkMode && !this.mode.isolatesNamespace) {
      p.add("hostname", this.hostname, "no hostname unless the mode is bridge or cni/*");
    }
    if (this.dns !== undefined && (!Array.isArray(this.dns.servers) || this.dns.servers.length === 0)) {
      p.add("dns.servers", this.dns.servers, "at least one DNS server address");
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    const dynamic = this.ports.filter((port) => port.isDynamic).map((port) => port._toJson());
    const reserved = this.ports.filter((port) => !port.isDynamic).map((port) => port._toJson());
    return compact({
      Mode: this.mode.value,
      Hostname: this.hostname,
      DynamicPorts: nonEmpty(dynamic),
      ReservedPorts: nonEmpty(reserved),
      DNS: this.dns
        ? compact({
            Servers: [...this.dns.servers],
            Searches: nonEmpty(this.dns.searches),
            Options: nonEmpty(this.dns.options),
          })
        : undefined,
    });
  }
}

/**
 * A reference to a port: the {@link Port} itself or its label.
 */
export type PortRef = Port | string;

/**
 * The label of a port reference.
 *
 * @internal
 */
export function portLabel(ref: PortRef): string {
  return ref instanceof Port ? ref.label : ref;
}
