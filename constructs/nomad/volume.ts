import { compact, isNonEmptyString, JsonObject, nonEmpty, Problems } from "./internal";

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

/** Access mode of a CSI volume. */
export enum CsiAccessMode {
  /** Read-only, one node. */
  SINGLE_NODE_READER_ONLY = "single-node-reader-only",
  /** Read-write, one node. */
  SINGLE_NODE_WRITER = "single-node-writer",
  /** Read-only, many nodes. */
  MULTI_NODE_READER_ONLY = "multi-node-reader-only",
  /** One writer, many readers. */
  MULTI_NODE_SINGLE_WRITER = "multi-node-single-writer",
  /** Many writers. */
  MULTI_NODE_MULTI_WRITER = "multi-node-multi-writer",
}

/** How a CSI volume is attached. */
export enum CsiAttachmentMode {
  /** Mounted as a file system. */
  FILE_SYSTEM = "file-system",
  /** Exposed as a block device. */
  BLOCK_DEVICE = "block-device",
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

/** Props of {@link Volume.csi}. */
export interface CsiVolumeProps {
  /** ID of the registered CSI volume. */
  readonly source: string;
  /** Access mode. */
  readonly accessMode: CsiAccessMode;
  /** Attachment mode. */
  readonly attachmentMode: CsiAttachmentMode;
  /**
   * Mount read-only.
   *
   * @default false
   */
  readonly readOnly?: boolean;
  /**
   * One volume per allocation: `source` gets the suffix `[<alloc index>]`.
   *
   * @default false
   */
  readonly perAlloc?: boolean;
  /**
   * File system type and mount flags (file-system attachment only).
   *
   * @default - the plugin's defaults
   */
  readonly mountOptions?: { readonly fsType?: string; readonly mountFlags?: string[] };
}

interface VolumeFields {
  readonly source?: string;
  readonly readOnly?: boolean;
  readonly accessMode?: string;
  readonly attachmentMode?: string;
  readonly perAlloc?: boolean;
  readonly sticky?: boolean;
  readonly mountOptions?: { readonly fsType?: string; readonly mountFlags?: string[] };
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
    return new Volume(name, "host", props);
  }

  /** A CSI volume. */
  public static csi(name: string, props: CsiVolumeProps): Volume {
    return new Volume(name, "csi", props);
  }

  /** Name of the volume in the group, used by mounts. */
  public readonly name: string;
  /** `host` or `csi`. */
  public readonly type: "host" | "csi";
  /** Source. */
  public readonly source: string;
  /** Read-only. */
  public readonly readOnly: boolean;
  private readonly props: VolumeFields;

  private constructor(name: string, type: "host" | "csi", props: HostVolumeProps | CsiVolumeProps) {
    this.name = name;
    this.type = type;
    this.props = (props ?? {}) as VolumeFields;
    this.source = this.props.source as string;
    this.readOnly = this.props.readOnly ?? false;
  }

  /** True for a per-allocation CSI volume. */
  public get perAlloc(): boolean {
    return this.props.perAlloc ?? false;
  }

  /** @internal */
  public _validate(problems: Problems, count: number): void {
    const p = problems.at(`volume "${this.name}"`);
    const props = this.props;
    if (!isNonEmptyString(this.name) || !/^[A-Za-z0-9_.-]+$/.test(this.name)) p.add("name", this.name, "a non-empty name of letters, digits, '.', '_' or '-'");
    if (!isNonEmptyString(this.source)) p.add("source", this.source, "a non-empty volume source");
    if (this.type === "host") {
      if (props.accessMode !== undefined && !Object.values(HostVolumeAccessMode).includes(props.accessMode as HostVolumeAccessMode)) {
        p.add("accessMode", props.accessMode, "a HostVolumeAccessMode");
      }
      if (props.accessMode === HostVolumeAccessMode.SINGLE_NODE_READER_ONLY && !this.readOnly) {
        p.add("readOnly", this.readOnly, "true with the single-node-reader-only access mode");
      }
      return;
    }
    const access = props.accessMode as CsiAccessMode | undefined;
    if (!Object.values(CsiAccessMode).includes(access as CsiAccessMode)) p.add("accessMode", access, "a CsiAccessMode");
    if (!Object.values(CsiAttachmentMode).includes(props.attachmentMode as CsiAttachmentMode)) p.add("attachmentMode", props.attachmentMode, "a CsiAttachmentMode");
    if (props.attachmentMode === CsiAttachmentMode.BLOCK_DEVICE && props.mountOptions !== undefined) {
      p.add("mountOptions", props.mountOptions, "no mount options on a block-device volume");
    }
    if ((access === CsiAccessMode.SINGLE_NODE_READER_ONLY || access === CsiAccessMode.MULTI_NODE_READER_ONLY) && !this.readOnly) {
      p.add("readOnly", this.readOnly, `true with the ${access} access mode`);
    }
    if ((access === CsiAccessMode.SINGLE_NODE_READER_ONLY || access === CsiAccessMode.SINGLE_NODE_WRITER) && count > 1 && !this.perAlloc) {
      p.add("accessMode", access, `a multi-node access mode or perAlloc: true, since the group count is ${count}`);
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
      AttachmentMode: props.attachmentMode,
      PerAlloc: props.perAlloc,
      Sticky: props.sticky,
      MountOptions: props.mountOptions
        ? compact({ FSType: props.mountOptions.fsType, MountFlags: nonEmpty(props.mountOptions.mountFlags) })
        : undefined,
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
