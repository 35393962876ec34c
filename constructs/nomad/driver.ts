import { compact, isNonEmptyString, isUnresolved, JsonObject, nonEmpty, Problems, stringMap, validateDeclaredPort } from "./internal";
import { portLabel, PortRef } from "./network";

/** Props of {@link Driver.docker}. */
export interface DockerDriverProps {
  /** Image reference, e.g. `nginx:1.27` or `registry.example.org/api@sha256:...`. */
  readonly image: string;

  /**
   * Command to run, replacing the image's CMD.
   *
   * @default - the image's CMD
   */
  readonly command?: string;

  /**
   * Arguments to the command.
   *
   * @default - none
   */
  readonly args?: string[];

  /**
   * Entrypoint, replacing the image's ENTRYPOINT.
   *
   * @default - the image's ENTRYPOINT
   */
  readonly entrypoint?: string[];

  /**
   * Group ports to expose to the container; each must be declared in the group's network.
   *
   * @default - none
   */
  readonly ports?: PortRef[];

  /**
   * Pull the image on every start even if it is cached.
   *
   * @default false
   */
  readonly forcePull?: boolean;

  /**
   * Container labels.
   *
   * @default - none
   */
  readonly labels?: Record<string, string>;

  /**
   * Bind mounts in `host_path:container_path[:ro]` form, relative to the task directory.
   *
   * @default - none
   */
  readonly volumes?: string[];

  /**
   * Working directory in the container.
   *
   * @default - the image's WORKDIR
   */
  readonly workDir?: string;
}

/**
 * The task driver of a task and its configuration.
 *
 * ```ts
 * Driver.docker({ image: "nginx:1.27", ports: [http] });
 * ```
 */
export class Driver {
  /** Runs a Docker container. */
  public static docker(props: DockerDriverProps): Driver {
    return new Driver("docker", props, (problems) => {
      if (!isNonEmptyString(props?.image)) {
        problems.add("driver.image", props?.image, "a non-empty Docker image reference");
      } else if (!isUnresolved(props.image) && /\s/.test(props.image)) {
        problems.add("driver.image", props.image, "an image reference without whitespace");
      }
    }, () =>
      compact({
        image: props.image,
        command: props.command,
        args: nonEmpty(props.args),
        entrypoint: nonEmpty(props.entrypoint),
        ports: nonEmpty(props.ports?.map(portLabel)),
        force_pull: props.forcePull,
        labels: stringMap(props.labels),
        volumes: nonEmpty(props.volumes),
        work_dir: props.workDir,
      }),
    props?.ports?.map(portLabel) ?? []);
  }

  private constructor(
    /** Task driver name as written in the job (`docker`). */
    public readonly name: string,
    private readonly props: unknown,
    private readonly check: (problems: Problems) => void,
    private readonly render: () => JsonObject,
    /** Port labels the driver configuration refers to. */
    public readonly portLabels: readonly string[],
  ) {}

  /** @internal */
  public _validate(problems: Problems, declaredPorts: ReadonlySet<string>): void {
    if (this.props === undefined || this.props === null) {
      problems.add(`driver ${this.name} props`, this.props, "an object");
      return;
    }
    this.check(problems);
    this.portLabels.forEach((label, index) => validateDeclaredPort(problems, `driver.ports[${index}]`, label, declaredPorts));
  }

  /** @internal */
  public _configJson(): JsonObject {
    return this.render();
  }
}
