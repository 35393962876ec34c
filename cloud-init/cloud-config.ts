/**
 * A typed `#cloud-config` document, rendered through the YAML library (never by concatenation).
 *
 * Values may be cdktf tokens (secrets and addresses known only at apply time). A file whose
 * content holds a token is written base64-encoded by Terraform (`base64encode`), so that a
 * multi-line value such as a PEM certificate can never break the YAML around it.
 */
import { Fn, Token } from "cdktf";
import { stringify } from "yaml";

/** OpenStack's limit on user data, counted after the base64 encoding Nova requires. */
export const USER_DATA_LIMIT_BYTES = 65535;

/** A file cloud-init writes. */
export interface CloudFile {
  /** Absolute path on the VM. */
  readonly path: string;
  /** The content; may hold cdktf tokens. */
  readonly content: string;
  /** Octal mode. @default "0644" */
  readonly permissions?: string;
  /** owner:group. @default "root:root" */
  readonly owner?: string;
  /** Write after users and packages are set up (needed for an owner created by a package). @default false */
  readonly deferred?: boolean;
}

/** An APT source with the signing key's fingerprint. */
export interface AptSource {
  readonly name: string;
  /** The deb line; `$KEY_FILE` and `$RELEASE` are filled in by cloud-init. */
  readonly source: string;
  /** Full fingerprint of the signing key, fetched from the keyserver. */
  readonly keyid: string;
  readonly keyserver?: string;
}

/** A system user. */
export interface CloudUser {
  readonly name: string;
  readonly sshAuthorizedKeys: readonly string[];
  /** Passwordless sudo. @default false */
  readonly sudo?: boolean;
  readonly shell?: string;
  readonly groups?: readonly string[];
}

/**
 * Estimated size of each token's resolved value, for the user-data size check at synth.
 * Registered where the token is made; an unregistered token counts as UNKNOWN_TOKEN_BYTES.
 */
const tokenSizes = new Map<string, number>();
const UNKNOWN_TOKEN_BYTES = 256;
const TOKEN_PATTERN = /\$\{TfToken\[[^\]]+\]\}/g;

/** Records the largest size a token can resolve to, for the user-data size check. */
export function registerTokenSize(token: string, maxBytes: number): string {
  tokenSizes.set(token, maxBytes);
  return token;
}

/** The size in bytes a string can reach once its tokens resolve. */
export function estimateBytes(text: string): number {
  let total = Buffer.byteLength(text.replace(TOKEN_PATTERN, ""), "utf8");
  for (const m of text.match(TOKEN_PATTERN) ?? []) total += tokenSizes.get(m) ?? UNKNOWN_TOKEN_BYTES;
  return total;
}

/**
 * Base64 of a file's content. Without tokens it is encoded here; with tokens Terraform encodes it
 * (`base64encode(join("", [literal, token, ...]))`), the literal parts passed as raw strings.
 */
function encodeContent(content: string): string {
  if (!Token.isUnresolved(content)) return Buffer.from(content, "utf8").toString("base64");
  const parts: string[] = [];
  let last = 0;
  for (const m of content.matchAll(TOKEN_PATTERN)) {
    if (m.index > last) parts.push(Fn.rawString(content.slice(last, m.index)));
    parts.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < content.length) parts.push(Fn.rawString(content.slice(last)));
  const joined = parts.length === 1 ? parts[0] : Fn.join("", parts);
  return registerTokenSize(Fn.base64encode(joined), Math.ceil(estimateBytes(content) / 3) * 4);
}

/** A cloud-config document under construction. */
export class CloudConfig {
  private readonly packages = new Set<string>();
  private readonly files = new Map<string, CloudFile>();
  private readonly commands: (readonly string[])[] = [];
  private readonly users = new Map<string, CloudUser>();
  private readonly aptSources = new Map<string, AptSource>();
  private hostname?: string;
  /** The last rendering; any change clears it. */
  private rendered?: string;

  /** Sets the VM's host name. */
  setHostname(name: string): this {
    this.rendered = undefined;
    this.hostname = name;
    return this;
  }

  addPackages(...names: string[]): this {
    this.rendered = undefined;
    names.forEach((n) => this.packages.add(n));
    return this;
  }

  addAptSource(source: AptSource): this {
    this.rendered = undefined;
    this.aptSources.set(source.name, source);
    return this;
  }

  /** Adds a file; a second file at the same path is an error. */
  addFile(file: CloudFile): this {
    this.rendered = undefined;
    if (this.files.has(file.path)) throw new Error(`cloud-config: file ${file.path} is written twice`);
    this.files.set(file.path, file);
    return this;
  }

  addUser(user: CloudUser): this {
    this.rendered = undefined;
    this.users.set(user.name, user);
    return this;
  }

  /** Adds a command run once at first boot, as an argument vector (no shell unless asked for). */
  addCommand(...argv: string[]): this {
    this.rendered = undefined;
    this.commands.push(argv);
    return this;
  }

  /** Paths of the files, for tests and checks. */
  get filePaths(): string[] {
    return [...this.files.keys()];
  }

  /** The content of a file as given (tokens unresolved). */
  fileContent(path: string): string | undefined {
    return this.files.get(path)?.content;
  }

  /** The cloud-config object (before YAML). */
  toObject(): Record<string, unknown> {
    const doc: Record<string, unknown> = {};
    if (this.hostname) {
      doc.hostname = this.hostname;
      doc.preserve_hostname = false;
    }
    if (this.users.size > 0) {
      doc.users = [
        "default",
        ...[...this.users.values()].map((u) => ({
          name: u.name,
          lock_passwd: true,
          shell: u.shell ?? "/bin/bash",
          ...(u.groups && u.groups.length > 0 ? { groups: u.groups.join(", ") } : {}),
          ...(u.sudo ? { sudo: "ALL=(ALL) NOPASSWD:ALL" } : {}),
          ssh_authorized_keys: [...u.sshAuthorizedKeys],
        })),
      ];
    }
    doc.ssh_pwauth = false;
    doc.disable_root = true;
    if (this.aptSources.size > 0) {
      doc.apt = {
        sources: Object.fromEntries(
          [...this.aptSources.values()].map((s) => [s.name, { source: s.source, keyid: s.keyid, keyserver: s.keyserver ?? "keyserver.ubuntu.com" }]),
        ),
      };
    }
    if (this.packages.size > 0) {
      doc.package_update = true;
      doc.packages = [...this.packages].sort();
    }
    if (this.files.size > 0) {
      doc.write_files = [...this.files.values()].map((f) => ({
        path: f.path,
        encoding: "b64",
        content: encodeContent(f.content),
        owner: f.owner ?? "root:root",
        permissions: f.permissions ?? "0644",
        ...(f.deferred ? { defer: true } : {}),
      }));
    }
    if (this.commands.length > 0) doc.runcmd = this.commands.map((c) => [...c]);
    return doc;
  }

  /** The `#cloud-config` YAML. */
  render(): string {
    // cloud-init reads YAML 1.1, where a bare yes/no/on/off is a boolean: quote as 1.1 does.
    this.rendered ??= `#cloud-config\n${stringify(this.toObject(), { lineWidth: 0, version: "1.1" })}`;
    return this.rendered;
  }

  /** Upper bound of the user data's size once base64-encoded for Nova, with tokens at their largest. */
  estimatedEncodedBytes(): number {
    return Math.ceil(estimateBytes(this.render()) / 3) * 4;
  }
}
