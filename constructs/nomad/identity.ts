import { Duration } from "./duration";
import { compact, isNonEmptyString, JsonObject, Problems } from "./internal";
import { ChangeMode } from "./template";

/** Props of {@link WorkloadIdentity.default}. */
export interface DefaultIdentityProps {
  /**
   * Expose the token as `NOMAD_TOKEN`.
   *
   * @default false
   */
  readonly env?: boolean;
  /**
   * Write the token to `secrets/nomad_token`.
   *
   * @default false
   */
  readonly file?: boolean;
}

/** Props of {@link WorkloadIdentity.named}. */
export interface NamedIdentityProps {
  /** Audiences (`aud` claim) of the token, e.g. `["vault.io"]`; at least one. */
  readonly audience: string[];
  /**
   * Expose the token as `NOMAD_TOKEN_<name>`.
   *
   * @default false
   */
  readonly env?: boolean;
  /**
   * Write the token to `secrets/nomad_<name>.jwt`.
   *
   * @default false
   */
  readonly file?: boolean;
  /**
   * Lifetime of the token; it is renewed before it expires.
   *
   * @default - no expiry
   */
  readonly ttl?: Duration;
  /**
   * What happens when the token is renewed (restart, noop or signal).
   *
   * @default ChangeMode.noop()
   */
  readonly changeMode?: ChangeMode;
}

/**
 * A workload identity (a JWT signed by Nomad) given to a task.
 *
 * ```ts
 * WorkloadIdentity.default({ env: true });
 * WorkloadIdentity.named("vault_default", { audience: ["vault.io"], ttl: Duration.hours(1) });
 * ```
 */
export class WorkloadIdentity {
  /** Name of the default identity. */
  public static readonly DEFAULT_NAME = "default";

  /** Settings of the task's default identity (the `identity` block without a name). */
  public static default(props: DefaultIdentityProps = {}): WorkloadIdentity {
    return new WorkloadIdentity(WorkloadIdentity.DEFAULT_NAME, { audience: [], ...props });
  }

  /** An additional identity for a third party (Vault, Consul, a cloud provider). */
  public static named(name: string, props: NamedIdentityProps): WorkloadIdentity {
    return new WorkloadIdentity(name, props);
  }

  private constructor(
    /** Identity name. */
    public readonly name: string,
    private readonly props: NamedIdentityProps,
  ) {}

  /** True for the default identity. */
  public get isDefault(): boolean {
    return this.name === WorkloadIdentity.DEFAULT_NAME;
  }

  /** @internal */
  public _validate(problems: Problems, field: string): void {
    const props = this.props;
    if (!isNonEmptyString(this.name) || !/^[a-zA-Z0-9_-]{1,128}$/.test(this.name)) {
      problems.add(`${field}.name`, this.name, "1 to 128 letters, digits, '_' or '-'");
    }
    if (!this.isDefault) {
      if (!Array.isArray(props.audience) || props.audience.length === 0) {
        problems.add(`${field}.audience`, props.audience, "at least one audience (a token without audience is accepted by any service)");
      } else {
        props.audience.forEach((aud, i) => {
          if (!isNonEmptyString(aud)) problems.add(`${field}.audience[${i}]`, aud, "a non-empty audience");
        });
      }
    }
    if (props.ttl !== undefined && !(props.ttl instanceof Duration)) problems.add(`${field}.ttl`, props.ttl, "a Duration");
    const mode = props.changeMode;
    if (mode !== undefined) {
      if (!(mode instanceof ChangeMode) || mode.mode === "script") {
        problems.add(`${field}.changeMode`, mode instanceof ChangeMode ? mode.mode : mode, "ChangeMode.restart(), ChangeMode.noop() or ChangeMode.signal(...)");
      } else {
        mode._validate(problems, `${field}.changeMode`);
      }
    }
  }

  /** @internal */
  public _toJson(): JsonObject {
    const props = this.props;
    return compact({
      Name: this.name,
      Audience: this.isDefault ? undefined : [...props.audience],
      Env: props.env,
      File: props.file,
      TTL: props.ttl?.toNanoseconds(),
      ChangeMode: props.changeMode?.mode,
      ChangeSignal: props.changeMode?.signal,
    });
  }
}
