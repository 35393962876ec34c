import { Job } from "@cdktf/provider-nomad/lib/job";
import { NomadProvider } from "@cdktf/provider-nomad/lib/provider";
import { Construct } from "constructs";
import { NomadJobSpec } from "./job-spec";

/** Props of {@link NomadJob}. */
export interface NomadJobProps {
  /** The validated job. */
  readonly spec: NomadJobSpec;

  /**
   * Nomad provider the job is registered through.
   *
   * @default - the stack's default Nomad provider
   */
  readonly provider?: NomadProvider;

  /**
   * Purge the job from Nomad's state when the resource is destroyed, instead of only stopping it.
   *
   * @default false
   */
  readonly purgeOnDestroy?: boolean;

  /**
   * Return as soon as the job is registered instead of waiting for its deployment to finish.
   *
   * @default true
   */
  readonly detach?: boolean;
}

/**
 * Escapes the Terraform template sequences `${` and `%{` of a literal string, so that Nomad
 * interpolations such as `${node.unique.id}` reach Nomad unchanged. cdktf tokens
 * (`${TfToken[...]}`) are left alone so references still resolve.
 *
 * @internal
 */
export function escapeTerraformTemplate(text: string): string {
  return text.replace(/\$\{(?!TfToken\[)/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/**
 * A Nomad job registered with the Terraform `nomad_job` resource, from a typed
 * {@link NomadJobSpec} rendered as API JSON (`json = true`).
 *
 * ```ts
 * new NomadJob(this, "web", { spec, provider: nomad });
 * ```
 */
export class NomadJob extends Construct {
  /** Default of `purgeOnDestroy`. */
  public static readonly DEFAULT_PURGE_ON_DESTROY = false;
  /** Default of `detach`. */
  public static readonly DEFAULT_DETACH = true;

  /** The job spec. */
  public readonly spec: NomadJobSpec;
  /** Job ID. */
  public readonly jobId: string;
  /**
   * The underlying `nomad_job` resource: the escape hatch for settings this construct does not
   * model. Prefer adding a typed prop.
   */
  public readonly resource: Job;

  constructor(scope: Construct, id: string, props: NomadJobProps) {
    if (!(props?.spec instanceof NomadJobSpec)) {
      throw new Error(`NomadJob ${JSON.stringify(id)}: spec: received ${String(props?.spec)}; expected a NomadJobSpec`);
    }
    super(scope, id);
    this.spec = props.spec;
    this.jobId = props.spec.id;
    this.resource = new Job(this, "job", {
      provider: props.provider,
      jobspec: escapeTerraformTemplate(JSON.stringify(props.spec.toJson())),
      json: true,
      purgeOnDestroy: props.purgeOnDestroy ?? NomadJob.DEFAULT_PURGE_ON_DESTROY,
      detach: props.detach ?? NomadJob.DEFAULT_DETACH,
    });
  }
}
