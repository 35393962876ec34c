import { Check, CheckContext } from "./check";
import { compact, isNonEmptyString, isPortNumber, isUnresolved, JsonObject, nonEmpty, Problems, stringMap, validateDeclaredPort, validateEach, validateResourceAsks, validateStringMap } from "./internal";
import { portLabel, PortRef } from "./network";

/** Where a service is registered. */
export enum ServiceProvider {
  /** Consul service catalog (needed for Connect and script checks). */
  CONSUL = "consul",
  /** Nomad's built-in service discovery. */
  NOMAD = "nomad",
}

/** Which address a service advertises. */
export enum AddressMode {
  /** Host address, or the driver's address when the driver sets one (Docker with a network plugin). */
  AUTO = "auto",
  /** The client host's address. */
  HOST = "host",
  /** The address the task driver reports (task services only). */
  DRIVER = "driver",
  /** The allocation's address in its network namespace. */
  ALLOC = "alloc",
}

/** An upstream service reachable through the Connect sidecar on a local port. */
export interface ConnectUpstream {
  /** Name of the Consul service to reach. */
  readonly destinationName: string;
  /** Port the sidecar listens on, inside the allocation, for this upstream. */
  readonly localBindPort: number;
  /**
   * Consul datacenter of the upstream.
   *
   * @default - the local datacenter
   */
  readonly datacenter?: string;
  /**
   * Address the sidecar listens on for this upstream.
   *
   * @default - 127.0.0.1
   */
  readonly localBindAddress?: string;
}

/** Resources of the injected sidecar proxy task. */
export interface SidecarResources {
  /** CPU in MHz. */
  readonly cpuMhz: number;
  /** Memory in MB. */
  readonly memoryMb: number;
}

/** An HTTP path of the service the sidecar serves outside the mesh (health checks, metrics). */
export interface ExposePath {
  /** Path, e.g. `/metrics`. */
  readonly path: string;
  /** Port the application serves the path on, inside the allocation. */
  readonly localPathPort: number;
  /** Label of the group port the sidecar listens on for it. */
  readonly listenerPort: string;
  /** @default "http" */
  readonly protocol?: "http" | "http2";
}

/** Options of a Connect sidecar. */
export interface ConnectSidecarOptions {
  /**
   * Paths served outside the mesh, on their own port, for Prometheus and the like.
   *
   * @default - none
   */
  readonly expose?: ExposePath[];
  /**
   * Tags of the sidecar service in Consul.
   *
   * @default - none
   */
  readonly tags?: string[];
  /**
   * Resources of the sidecar proxy task.
   *
   * @default ConnectSidecar.DEFAULT_RESOURCES (Nomad's: 250 MHz, 128 MB)
   */
  readonly resources?: SidecarResources;
}

/**
 * A Consul Connect sidecar proxy for a group service.
 *
 * ```ts
 * ConnectSidecar.upstreams([{ destinationName: "db", localBindPort: 5432 }]);
 * ```
 */
export class ConnectSidecar {
  /** Resources Nomad gives the injected sidecar task when none are set. */
  public static readonly DEFAULT_RESOURCES: SidecarResources = { cpuMhz: 250, memoryMb: 128 };

  /** A sidecar proxy that reaches the given upstream services. */
  public static upstreams(upstreams: ConnectUpstream[], options: ConnectSidecarOptions = {}): ConnectSidecar {
    return new ConnectSidecar(upstreams, options);
  }

  /** A sidecar proxy with no upstreams (the service only receives mesh traffic). */
  public static inbound(options: ConnectSidecarOptions = {}): ConnectSidecar {
    return new ConnectSidecar([], options);
  }

  /** Upstreams of the proxy. */
  public readonly upstreams: readonly ConnectUpstream[];
  /** Sidecar tags. */
  public readonly tags: readonly string[];
  /** Resources of the sidecar task. */
  public readonly resources: SidecarResources;
  /** Paths served outside the mesh. */
  public readonly expose: readonly ExposePath[];
  private readonly resourcesSet: boolean;

  private constructor(upstreams: ConnectUpstream[], options: ConnectSidecarOptions) {
    this.upstreams = upstreams ?? [];
    this.tags = options.tags ?? [];
    this.resources = options.resources ?? ConnectSidecar.DEFAULT_RESOURCES;
    this.resourcesSet = options.resources !== undefined;
    this.expose = options.expose ?? [];
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at("connect");
    if (!Array.isArray(this.upstreams)) {
      p.add("upstreams", this.upstreams, "an array of upstreams");
      return;
    }
    this.upstreams.forEach((u, i) => {
      if (!isNonEmptyString(u?.destinationName)) p.add(`upstreams[${i}].destinationName`, u?.destinationName, "a non-empty Consul service name");
      if (!isPortNumber(u?.localBindPort)) {
        p.add(`upstreams[${i}].localBindPort`, u?.localBindPort, "an integer port number from 1 to 65535");
      }
    });
    this.expose.forEach((e, i) => {
      if (!isNonEmptyString(e?.path) || !e.path.startsWith("/")) p.add(`expose[${i}].path`, e?.path, "a path starting with /");
      if (!isPortNumber(e?.localPathPort)) p.add(`expose[${i}].localPathPort`, e?.localPathPort, "an integer port number from 1 to 65535");
      if (!isNonEmptyString(e?.listenerPort)) p.add(`expose[${i}].listenerPort`, e?.listenerPort, "the label of a group port");
    });
    if (this.resourcesSet) validateResourceAsks(p, this.resources);
  }

  /** @internal */
  public _toJson(): JsonObject {
    return compact({
      SidecarService: compact({
        Tags: nonEmpty([...this.tags]),
        Proxy: compact({
          Upstreams: nonEmpty(
            this.upstreams.map((u) =>
              compact({
                DestinationName: u.destinationName,
                LocalBindPort: u.localBindPort,
                Datacenter: u.datacenter,
                LocalBindAddress: u.localBindAddress,
              }),
            ),
          ),
          Expose:
            this.expose.length > 0
              ? { Paths: this.expose.map((e) => ({ Path: e.path, Protocol: e.protocol ?? "http", LocalPathPort: e.localPathPort, ListenerPort: e.listenerPort })) }
              : undefined,
        }),
      }),
      SidecarTask: this.resourcesSet ? { Resources: { CPU: this.resources.cpuMhz, MemoryMB: this.resources.memoryMb } } : undefined,
    });
  }
}

/** Props of {@link Service}. */
export interface ServiceProps {
  /**
   * Service name: letters, digits and dashes, at most 63 characters (`${...}` interpolation
   * allowed).
   */
  readonly name: string;

  /**
   * Port advertised: a port declared in the group network, or, for Connect services and the
   * driver / alloc address modes, a port number inside the allocation.
   *
   * @default - no port
   */
  readonly port?: PortRef | number;

  /**
   * Health checks; at least one is required.
   */
  readonly checks: Check[];

  /**
   * Registration provider.
   *
   * @default ServiceProvider.CONSUL
   */
  readonly provider?: ServiceProvider;

  /**
   * Tags.
   *
   * @default - none
   */
  readonly tags?: string[];

  /**
   * Tags while the allocation is a canary.
   *
   * @default - the regular tags
   */
  readonly canaryTags?: string[];

  /**
   * Service metadata.
   *
   * @default - none
   */
  readonly meta?: Record<string, string>;

  /**
   * Address advertised.
   *
   * @default AddressMode.AUTO
   */
  readonly addressMode?: AddressMode;

  /**
   * Consul Connect sidecar proxy (group services with the consul provider only).
   *
   * @default - not in the service mesh
   */
  readonly connect?: ConnectSidecar;

  /**
   * Task the service belongs to, for a group service whose checks run in a task.
   *
   * @default - none
   */
  readonly task?: string;
}

/**
 * Where a service is validated.
 *
 * @internal
 */
export interface ServiceContext {
  readonly declaredPorts: ReadonlySet<string>;
  readonly isGroupService: boolean;
  readonly taskNames: ReadonlySet<string>;
  readonly groupName: string;
  readonly networkIsolated: boolean;
}

/**
 * A service registered for a group or a task, with its health checks.
 *
 * Every service must have at least one check: a service without one is reported healthy as soon as
 * it is registered, which defeats canaries and auto-revert.
 */
export class Service {
  /** Default provider. */
  public static readonly DEFAULT_PROVIDER = ServiceProvider.CONSUL;

  /** Service name. */
  public readonly name: string;
  /** Provider. */
  public readonly provider: ServiceProvider;
  /** Health checks. */
  public readonly checks: readonly Check[];
  /** Connect sidecar, if any. */
  public readonly connect?: ConnectSidecar;
  /** Advertised port: a label, a number, or undefined. */
  public readonly port?: string | number;

  private readonly props: ServiceProps;

  constructor(props: ServiceProps) {
    this.props = props;
    this.name = props.name;
    this.provider = props.provider ?? Service.DEFAULT_PROVIDER;
    this.checks = props.checks ?? [];
    this.connect = props.connect;
    this.port = props.port === undefined ? undefined : typeof props.port === "number" ? props.port : portLabel(props.port);
  }

  /** @internal */
  public _validate(problems: Problems, ctx: ServiceContext): void {
    const p = problems.at(`service "${this.name}"`);
    const props = this.props;
    if (!isNonEmptyString(this.name)) {
      p.add("name", this.name, "a non-empty service name");
    } else if (!isUnresolved(this.name)) {
      const stripped = this.name.replace(/\$\{[^}]*\}/g, "ENV-VAR");
      if (!/^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])$/.test(stripped)) {
        p.add("name", this.name, "letters, digits and dashes, not starting or ending with a dash, at most 63 characters (RFC 1123)");
      }
    }
    if (!Object.values(ServiceProvider).includes(this.provider)) {
      p.add("provider", this.provider, "ServiceProvider.CONSUL or ServiceProvider.NOMAD");
    }
    if (props.addressMode !== undefined && !Object.values(AddressMode).includes(props.addressMode)) {
      p.add("addressMode", props.addressMode, "an AddressMode");
    }
    if (props.addressMode === AddressMode.DRIVER && ctx.isGroupService) {
      p.add("addressMode", props.addressMode, "AUTO, HOST or ALLOC on a group service (DRIVER only works on task services)");
    }
    validateStringMap(p, "meta", props.meta);

    if (typeof this.port === "number") {
      const numericAllowed = this.connect !== undefined || props.addressMode === AddressMode.DRIVER || props.addressMode === AddressMode.ALLOC;
      if (!isPortNumber(this.port)) {
        p.add("port", this.port, "an integer port number from 1 to 65535");
      } else if (!numericAllowed) {
        p.add("port", this.port, "a port declared in the group network (a port number is only valid with Connect or the driver / alloc address mode)");
      }
    } else if (this.port !== undefined) {
      validateDeclaredPort(p, "port", this.port, ctx.declaredPorts);
    }

    if (props.task !== undefined) {
      if (!ctx.isGroupService) p.add("task", props.task, "no task on a task service (it belongs to the task that declares it)");
      else if (!ctx.taskNames.has(props.task)) p.add("task", props.task, `the name of a task of the group (${[...ctx.taskNames].join(", ")})`);
    }

    if (this.connect !== undefined) {
      if (!(this.connect instanceof ConnectSidecar)) {
        p.add("connect", this.connect, "a ConnectSidecar");
      } else {
        this.connect._validate(p);
        if (!ctx.isGroupService) p.add("connect", "sidecar", "Connect only on group services (declare the service on the group)");
        if (this.provider !== ServiceProvider.CONSUL) p.add("provider", this.provider, "ServiceProvider.CONSUL on a Connect service");
        if (!ctx.networkIsolated) p.add("connect", "sidecar", `a group network in bridge or cni/* mode (group "${ctx.groupName}" has none or host mode)`);
        if (this.name !== this.name.toLowerCase()) p.add("name", this.name, "a lower-case name on a Connect service");
        if (ctx.groupName !== ctx.groupName.toLowerCase()) p.add("group name", ctx.groupName, "a lower-case group name for a Connect service");
      }
    }

    if (!Array.isArray(this.checks) || this.checks.length === 0) {
      // An upstream-only Connect service (no port) exists so that its sidecar reaches the
      // upstreams; nothing connects to it, and Nomad checks the sidecar proxy itself.
      if (this.connect instanceof ConnectSidecar && this.port === undefined && Array.isArray(this.checks)) return;
      p.add("checks", this.checks, "at least one health check (Check.http, Check.tcp or Check.script), or none on an upstream-only Connect service (no port)");
      return;
    }
    const checkCtx: CheckContext = {
      declaredPorts: ctx.declaredPorts,
      servicePort: this.port,
      hasSidecar: this.connect !== undefined,
      isGroupService: ctx.isGroupService,
      isNomadProvider: this.provider === ServiceProvider.NOMAD,
      taskNames: ctx.taskNames,
    };
    const names = new Set<string>();
    validateEach(p, "checks", this.checks, Check, "a Check made with Check.http(), Check.tcp() or Check.script()", (check, field) => {
      check._validate(p, checkCtx);
      if (check.name !== undefined) {
        if (names.has(check.name)) p.add(`${field}.name`, check.name, "a check name unique within the service");
        names.add(check.name);
      }
    });
    if (this.checks.length > 1 && this.checks.filter((c) => c instanceof Check && c.name === undefined).length > 1) {
      p.add("checks", `${this.checks.length} checks without a name`, "a name on every check when a service has several (Nomad would give them the same name)");
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    const props = this.props;
    return compact({
      Name: this.name,
      Provider: this.provider,
      PortLabel: this.port === undefined ? undefined : String(this.port),
      AddressMode: props.addressMode,
      Tags: nonEmpty(props.tags),
      CanaryTags: nonEmpty(props.canaryTags),
      Meta: stringMap(props.meta),
      TaskName: props.task,
      Checks: this.checks.map((c) => c._toJson()),
      Connect: this.connect?._toJson(),
    });
  }
}
