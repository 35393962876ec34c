import { compact, isNonEmptyString, JsonObject, Problems } from "./internal";

/** Access mode of a host volume. */
export enum HostVolumeAccessMode {
  /** Read-only on one node. */
  SINGLE_NODE_READER_ONLY = "single-node-reader-only",
  /** Read-write on one node. */
  SINGLE_NODE_WRITER = "single-node-writer",
  /** One writer allocation on one node. */
  SINGLE_NODE_SINGLE_WRITER = "single-node-single-writer",
  /** Several writer allocations on one node. */
  SINGLE_NODE_MULTI_WRITER = "single-node-multi-writer",
}

/** Props of {@link Volume.host}. */
export interface HostVolumeProps {
  /** Name of the client's host volume. */
  readonly source: string;
  /**
   * Mount read-only.
   *
   * @default false
   */
  readonly readOnly?: boolean;
  /**
   * Access mode (dynamic host volumes).
   *
   * @default - unset (static host volumes)
   */
  readonly accessMode?: HostVolumeAccessMode;
  /**
   * Keep the allocation on the node that has the volume's data.
   *
   * @default false
   */
  readonly sticky?: boolean;
}

/**
 * A volume a task group asks for, mounted into tasks with {@link VolumeMount}.
 *
 * ```ts
 * const data = Volume.host("data", { source: "pg-data" });
 * ```
 */
export class Volume {
  /** A host volume of the client. */
  public static host(name: string, props: HostVolumeProps): Volume {
    return new Volume(name, props);
  }

  /** Name of the volume in the group, used by mounts. */
  public readonly name: string;
  /** Volume type: `host`. */
  public readonly type = "host";
  /** Source. */
  public readonly source: string;
  /** Read-only. */
  public readonly readOnly: boolean;
  private readonly props: Partial<HostVolumeProps>;

  private constructor(name: string, props: HostVolumeProps) {
    this.name = name;
    this.props = props ?? {};
    this.source = this.props.source as string;
    this.readOnly = this.props.readOnly ?? false;
  }

  /** @internal */
  public _validate(problems: Problems): void {
    const p = problems.at(`volume "${this.name}"`);
    const props = this.props;
    if (!isNonEmptyString(this.name) || !/^[A-Za-z0-9_.-]+$/.test(this.name)) p.add("name", this.name, "a non-empty name of letters, digits, '.', '_' or '-'");
    if (!isNonEmptyString(this.source)) p.add("source", this.source, "a non-empty volume source");
    if (props.accessMode !== undefined && !Object.values(HostVolumeAccessMode).includes(props.accessMode)) {
      p.add("accessMode", props.accessMode, "a HostVolumeAccessMode");
    }
    if (props.accessMode === HostVolumeAccessMode.SINGLE_NODE_READER_ONLY && !this.readOnly) {
      p.add("readOnly", this.readOnly, "true with the single-node-reader-only access mode");
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    const props = this.props;
    return compact({
      Name: this.name,
      Type: this.type,
      Source: this.source,
      ReadOnly: this.readOnly,
      AccessMode: props.accessMode,
      Sticky: props.sticky,
    });
  }
}

/** Mount propagation of a volume mount. */
export enum PropagationMode {
  /** No propagation. */
  PRIVATE = "private",
  /** Host mounts propagate into the task. */
  HOST_TO_TASK = "host-to-task",
  /** Both ways. */
  BIDIRECTIONAL = "bidirectional",
}

/** A group volume mounted into a task. */
export interface VolumeMount {
  /** The group volume; it must be declared in the group's `volumes`. */
  readonly volume: Volume;
  /** Path in the task. */
  readonly destination: string;
  /**
   * Mount read-only.
   *
   * @default - the volume's readOnly
   */
  readonly readOnly?: boolean;
  /**
   * Mount propagation.
   *
   * @default PropagationMode.PRIVATE
   */
  readonly propagationMode?: PropagationMode;
}

/**
 * Validates a volume mount against the group's volumes.
 *
 * @internal
 */
export function validateVolumeMount(problems: Problems, index: number, mount: VolumeMount, volumes: ReadonlyMap<string, Volume>): void {
  const field = `volumeMounts[${index}]`;
  if (!(mount?.volume instanceof Volume)) {
    problems.add(`${field}.volume`, mount?.volume, "a Volume declared in the group's volumes");
  } else if (volumes.get(mount.volume.name) !== mount.volume) {
    problems.add(`${field}.volume`, mount.volume.name, `a volume declared in the group's volumes (declared: ${[...volumes.keys()].join(", ") || "none"})`);
  } else if (mount.readOnly === false && mount.volume.readOnly) {
    problems.add(`${field}.readOnly`, false, `true or unset, since volume "${mount.volume.name}" is read-only`);
  }
  if (!isNonEmptyString(mount?.destination)) problems.add(`${field}.destination`, mount?.destination, "a non-empty path in the task");
  if (mount?.propagationMode !== undefined && !Object.values(PropagationMode).includes(mount.propagationMode)) {
    problems.add(`${field}.propagationMode`, mount.propagationMode, "a PropagationMode");
  }
}

/**
 * JSON of a volume mount.
 *
 * @internal
 */
export function volumeMountJson(mount: VolumeMount): JsonObject {
  return compact({
    Volume: mount.volume.name,
    Destination: mount.destination,
    ReadOnly: mount.readOnly ?? mount.volume.readOnly,
    PropagationMode: mount.propagationMode,
  });
}
