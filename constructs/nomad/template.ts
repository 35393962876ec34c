import { Duration } from "./duration";
import { compact, isNonEmptyString, JsonObject, nonEmpty, Problems } from "./internal";

/** Props of {@link ChangeMode.script}. */
export interface ChangeScriptProps {
  /** Script or executable run in the task. */
  readonly command: string;
  /**
   * Arguments.
   *
   * @default - none
   */
  readonly args?: string[];
  /**
   * Time the script may run.
   *
   * @default Duration.seconds(5)
   */
  readonly timeout?: Duration;
  /**
   * Kill the task when the script fails.
   *
   * @default false
   */
  readonly failOnError?: boolean;
}

/**
 * What Nomad does when a rendered template (or a workload identity token) changes.
 */
export class ChangeMode {
  /** Restart the task. */
  public static restart(): ChangeMode {
    return new ChangeMode("restart");
  }

  /** Do nothing. */
  public static noop(): ChangeMode {
    return new ChangeMode("noop");
  }

  /** Send a signal to the task, e.g. `SIGHUP`. */
  public static signal(signal: string): ChangeMode {
    return new ChangeMode("signal", signal);
  }

  /** Run a script in the task (templates only). */
  public static script(props: ChangeScriptProps): ChangeMode {
    return new ChangeMode("script", undefined, props);
  }

  private constructor(
    /** Mode as written in the job. */
    public readonly mode: "restart" | "noop" | "signal" | "script",
    /** Signal, for the signal mode. */
    public readonly signal?: string,
    /** Script, for the script mode. */
    public readonly script?: ChangeScriptProps,
  ) {}

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    if (this.mode === "signal" && (typeof this.signal !== "string" || !/^SIG[A-Z0-9]+$/.test(this.signal))) {
      problems.add(`${field}.signal`, this.signal, "a signal name such as \"SIGHUP\"");
    }
    if (this.mode === "script" && !isNonEmptyString(this.script?.command)) {
      problems.add(`${field}.script.command`, this.script?.command, "a non-empty command");
    }
  }
}

/** Props of {@link Template}. */
export interface TemplateProps {
  /** Path of the rendered file, relative to the task directory (e.g. `local/app.conf`). */
  readonly destination: string;
  /**
   * Inline template (consul-template syntax). Exactly one of `data` and `source` is required.
   *
   * @default - none
   */
  readonly data?: string;
  /**
   * Path of a template file on the client (e.g. fetched by an artifact).
   *
   * @default - none
   */
  readonly source?: string;
  /**
   * What happens when the rendered content changes.
   *
   * @default ChangeMode.restart()
   */
  readonly changeMode?: ChangeMode;
  /**
   * Also load the rendered `KEY=value` lines as environment variables.
   *
   * @default false
   */
  readonly env?: boolean;
  /**
   * Octal permissions of the rendered file.
   *
   * @default "0644"
   */
  readonly perms?: string;
  /**
   * Random wait before the change mode fires.
   *
   * @default Duration.seconds(5)
   */
  readonly splay?: Duration;
  /**
   * Left delimiter.
   *
   * @default "{{"
   */
  readonly leftDelimiter?: string;
  /**
   * Right delimiter.
   *
   * @default "}}"
   */
  readonly rightDelimiter?: string;
}

/**
 * A file rendered into the task directory with consul-template.
 */
export class Template {
  /** Destination path. */
  public readonly destination: string;
  /** Change mode. */
  public readonly changeMode: ChangeMode;
  private readonly props: TemplateProps;

  constructor(props: TemplateProps) {
    this.props = props;
    this.destination = props.destination;
    this.changeMode = props.changeMode ?? ChangeMode.restart();
  }

  /** @internal */
  public _validate(problems: Problems, index: number): void {
    const field = `templates[${index}]`;
    const props = this.props;
    if (!isNonEmptyString(this.destination)) problems.add(`${field}.destination`, this.destination, "a non-empty path relative to the task directory");
    const hasData = typeof props.data === "string" && props.data.length > 0;
    const hasSource = isNonEmptyString(props.source);
    if (hasData === hasSource) {
      problems.add(`${field}.data/source`, hasData ? "both" : "neither", "exactly one of data (inline template) and source (template file)");
    }
    if (!(this.changeMode instanceof ChangeMode)) problems.add(`${field}.changeMode`, this.changeMode, "a ChangeMode such as ChangeMode.restart()");
    else this.changeMode._validate(problems, `${field}.changeMode`);
    if (props.perms !== undefined && !/^[0-7]{3,4}$/.test(props.perms)) problems.add(`${field}.perms`, props.perms, "octal permissions such as \"0640\"");
  }

  /** @internal */
  public _toJson(): JsonObject {
    const props = this.props;
    const script = this.changeMode.script;
    return compact({
      DestPath: this.destination,
      EmbeddedTmpl: props.data,
      SourcePath: props.source,
      ChangeMode: this.changeMode.mode,
      ChangeSignal: this.changeMode.signal,
      ChangeScript: script
        ? compact({
            Command: script.command,
            Args: nonEmpty(script.args),
            Timeout: script.timeout?.toNanoseconds(),
            FailOnError: script.failOnError,
          })
        : undefined,
      Envvars: props.env,
      Perms: props.perms,
      Splay: props.splay?.toNanoseconds(),
      LeftDelim: props.leftDelimiter,
      RightDelim: props.rightDelimiter,
    });
  }
}
