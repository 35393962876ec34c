import { Duration } from "./duration";
import { compact, isInteger, isNonEmptyString, JsonObject, nonEmpty, Problems, validateDeclaredPort, validateMinDuration } from "./internal";
import { portLabel, PortRef } from "./network";

/** Kind of health check. */
export enum CheckType {
  /** HTTP GET (or other method) that must answer 2xx. */
  HTTP = "http",
  /** TCP connect. */
  TCP = "tcp",
  /** Command run inside the task that must exit 0 (Consul services only). */
  SCRIPT = "script",
}

/** Scheme of an HTTP check. */
export enum CheckProtocol {
  /** Plain HTTP. */
  HTTP = "http",
  /** HTTPS. */
  HTTPS = "https",
}

/** Restart the task when its check stays unhealthy (`check_restart`). */
export interface CheckRestart {
  /** Restart after this many consecutive failed checks; 0 disables. */
  readonly limit: number;
  /**
   * Time after a start or restart before failures count.
   *
   * @default Duration.seconds(1)
   */
  readonly grace?: Duration;
  /**
   * Treat a warning as passing (Consul checks only).
   *
   * @default false
   */
  readonly ignoreWarnings?: boolean;
}

/** Props shared by every check. */
export interface CheckCommonProps {
  /**
   * Check name.
   *
   * @default - Nomad's name, `service: "<service>" check`
   */
  readonly name?: string;
  /**
   * Time between two checks.
   *
   * @default Check.DEFAULT_INTERVAL (10 seconds)
   */
  readonly interval?: Duration;
  /**
   * Time after which a check attempt fails.
   *
   * @default Check.DEFAULT_TIMEOUT (2 seconds)
   */
  readonly timeout?: Duration;
  /**
   * Restart the task when the check keeps failing.
   *
   * @default - failing checks do not restart the task
   */
  readonly restart?: CheckRestart;
}

/** Props of {@link Check.http}. */
export interface HttpCheckProps extends CheckCommonProps {
  /** Path requested, relative and starting with `/`, e.g. `/health`. */
  readonly path: string;
  /**
   * Port checked; must be declared in the group network.
   *
   * @default - the service's port
   */
  readonly port?: PortRef;
  /**
   * HTTP method.
   *
   * @default "GET"
   */
  readonly method?: string;
  /**
   * Scheme.
   *
   * @default CheckProtocol.HTTP
   */
  readonly protocol?: CheckProtocol;
  /**
   * Request headers.
   *
   * @default - none
   */
  readonly headers?: Record<string, string[]>;
  /**
   * Skip TLS verification for HTTPS checks.
   *
   * @default false
   */
  readonly tlsSkipVerify?: boolean;
  /**
   * Expose the check path through the Connect sidecar so Consul can reach it (group services with
   * a Connect sidecar only).
   *
   * @default false
   */
  readonly expose?: boolean;
}

/** Props of {@link Check.tcp}. */
export interface TcpCheckProps extends CheckCommonProps {
  /**
   * Port checked; must be declared in the group network.
   *
   * @default - the service's port
   */
  readonly port?: PortRef;
}

/** Props of {@link Check.script}. */
export interface ScriptCheckProps extends CheckCommonProps {
  /** Command run inside the task. */
  readonly command: string;
  /**
   * Arguments of the command.
   *
   * @default - none
   */
  readonly args?: string[];
  /**
   * Task the command runs in; required when the service is declared on the group.
   *
   * @default - the task that declares the service
   */
  readonly task?: string;
}

/**
 * Where a check is validated: the facts of its service and group it depends on.
 *
 * @internal
 */
export interface CheckContext {
  readonly declaredPorts: ReadonlySet<string>;
  readonly servicePort: string | number | undefined;
  readonly hasSidecar: boolean;
  readonly isGroupService: boolean;
  readonly isNomadProvider: boolean;
  readonly taskNames: ReadonlySet<string>;
}

interface CheckFields {
  readonly type: CheckType;
  readonly common: CheckCommonProps;
  readonly port?: PortRef;
  readonly path?: string;
  readonly method?: string;
  readonly protocol?: CheckProtocol;
  readonly headers?: Record<string, string[]>;
  readonly tlsSkipVerify?: boolean;
  readonly expose?: boolean;
  readonly command?: string;
  readonly args?: string[];
  readonly task?: string;
}

/**
 * A health check of a service.
 *
 * ```ts
 * Check.http({ path: "/health", port: http });
 * Check.tcp({ port: db, interval: Duration.seconds(5) });
 * ```
 */
export class Check {
  /** Default time between checks. */
  public static readonly DEFAULT_INTERVAL = Duration.seconds(10);
  /** Default check timeout. */
  public static readonly DEFAULT_TIMEOUT = Duration.seconds(2);
  /** Smallest interval and timeout Nomad accepts. */
  public static readonly MIN_INTERVAL = Duration.seconds(1);

  /** An HTTP check. */
  public static http(props: HttpCheckProps): Check {
    return new Check({
      type: CheckType.HTTP,
      common: props,
      port: props.port,
      path: props.path,
      method: props.method,
      protocol: props.protocol,
      headers: props.headers,
      tlsSkipVerify: props.tlsSkipVerify,
      expose: props.expose,
    });
  }

  /** A TCP connect check. */
  public static tcp(props: TcpCheckProps = {}): Check {
    return new Check({ type: CheckType.TCP, common: props, port: props.port });
  }

  /** A script check (Consul services only). */
  public static script(props: ScriptCheckProps): Check {
    return new Check({ type: CheckType.SCRIPT, common: props, command: props.command, args: props.args, task: props.task });
  }

  /** Kind of check. */
  public readonly type: CheckType;
  /** Check name, if set. */
  public readonly name?: string;
  /** Time between checks. */
  public readonly interval: Duration;
  /** Check timeout. */
  public readonly timeout: Duration;
  /** Label of the checked port, if set on the check. */
  public readonly portLabel?: string;

  private readonly fields: CheckFields;

  private constructor(fields: CheckFields) {
    this.fields = fields;
    this.type = fields.type;
    this.name = fields.common?.name;
    this.interval = fields.common?.interval ?? Check.DEFAULT_INTERVAL;
    this.timeout = fields.common?.timeout ?? Check.DEFAULT_TIMEOUT;
    this.portLabel = fields.port === undefined ? undefined : portLabel(fields.port);
  }

  /** @internal */
  public _validate(problems: Problems, ctx: CheckContext): void {
    const f = this.fields;
    const p = problems.at(this.name !== undefined ? `check "${this.name}"` : `${this.type} check`);
    if (this.name !== undefined && !isNonEmptyString(this.name)) p.add("name", this.name, "a non-empty check name");
    validateMinDuration(p, "interval", this.interval, Check.MIN_INTERVAL);
    validateMinDuration(p, "timeout", this.timeout, Check.MIN_INTERVAL);
    const restart = f.common?.restart;
    if (restart !== undefined) {
      if (!isInteger(restart.limit) || restart.limit < 0) p.add("restart.limit", restart.limit, "an integer >= 0");
      if (restart.ignoreWarnings && ctx.isNomadProvider) {
        p.add("restart.ignoreWarnings", restart.ignoreWarnings, "false for services with the nomad provider (they have no warning state)");
      }
    }

    switch (f.type) {
      case CheckType.HTTP:
        if (!isNonEmptyString(f.path) || !f.path.startsWith("/")) {
          p.add("path", f.path, "a relative HTTP path starting with '/', e.g. \"/health\"");
        }
        if (f.method !== undefined && !/^[A-Z]+$/.test(f.method)) p.add("method", f.method, "an upper-case HTTP method such as GET");
        if (f.protocol !== undefined && !Object.values(CheckProtocol).includes(f.protocol)) {
          p.add("protocol", f.protocol, "CheckProtocol.HTTP or CheckProtocol.HTTPS");
        }
        break;
      case CheckType.SCRIPT:
        if (!isNonEmptyString(f.command)) p.add("command", f.command, "a non-empty command");
        if (ctx.isGroupService) {
          if (f.task === undefined) {
            p.add("task", f.task, "the name of the task the script runs in (script checks on group services must name a task)");
          } else if (!ctx.taskNames.has(f.task)) {
            p.add("task", f.task, `the name of a task of the group (${[...ctx.taskNames].join(", ")})`);
          }
        } else if (f.task !== undefined) {
          p.add("task", f.task, "no task on a check of a task service (it runs in that task)");
        }
        break;
      default:
        break;
    }

    if (ctx.isNomadProvider && f.type === CheckType.SCRIPT) {
      p.add("type", f.type, "an http or tcp check: services with the nomad provider support only those");
    }
    if (f.type === CheckType.TCP && ctx.hasSidecar) {
      p.add("type", f.type, "an http check: tcp checks do not work on Connect services (the service listens on the namespace loopback)");
    }
    if (f.expose) {
      if (!ctx.hasSidecar || !ctx.isGroupService) {
        p.add("expose", f.expose, "expose only on checks of a group service with a Connect sidecar");
      }
    }

    const needsPort = f.type !== CheckType.SCRIPT;
    if (this.portLabel !== undefined) {
      validateDeclaredPort(p, "port", this.portLabel, ctx.declaredPorts);
    } else if (needsPort && ctx.servicePort === undefined && !f.expose) {
      p.add("port", undefined, `a port on the check or on its service (${f.type} checks need one)`);
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    const f = this.fields;
    const restart = f.common?.restart;
    return compact({
      Name: this.name,
      Type: this.type,
      PortLabel: this.portLabel,
      Path: f.path,
      Method: f.method,
      Protocol: f.protocol,
      Header: f.headers ? Object.fromEntries(Object.entries(f.headers).map(([k, v]) => [k, [...v]])) : undefined,
      TLSSkipVerify: f.tlsSkipVerify,
      Expose: f.expose,
      Command: f.command,
      Args: nonEmpty(f.args),
      TaskName: f.task,
      Interval: this.interval.toNanoseconds(),
      Timeout: this.timeout.toNanoseconds(),
      CheckRestart: restart
        ? compact({
            Limit: restart.limit,
            Grace: restart.grace?.toNanoseconds(),
            IgnoreWarnings: restart.ignoreWarnings,
          })
        : undefined,
    });
  }
}
