/** Alertmanager's configuration: one route to one webhook receiver (or to a receiver that posts nowhere). */
import { Monitoring } from "./names";
import { ProblemList } from "../logging";

// ---------------------------------------------------------------------------------------------
// alertmanager.yml

/** alertmanager.yml, as Alertmanager (and amtool) reads it (the subset the platform sets). */
export interface AlertmanagerConfig {
  readonly global: { readonly resolve_timeout: string };
  readonly route: {
    readonly receiver: string;
    readonly group_by: readonly string[];
    readonly group_wait: string;
    readonly group_interval: string;
    readonly repeat_interval: string;
  };
  readonly receivers: readonly {
    readonly name: string;
    readonly webhook_configs: readonly { readonly url: string; readonly send_resolved: boolean }[];
  }[];
}

/** Options of {@link alertmanagerConfig}. */
export interface AlertmanagerConfigOptions {
  /**
   * The webhook every alert is posted to (it ends up in the job spec: not a secret).
   *
   * @default - no webhook: the receiver posts nowhere (Alertmanager still groups the alerts,
   * shows them in its API and keeps silences)
   */
  readonly webhookUrl?: string;
  /**
   * Labels alerts are grouped by into one notification.
   *
   * @default Monitoring.DEFAULT_GROUP_BY
   */
  readonly groupBy?: readonly string[];
  /**
   * How often a firing alert is notified again.
   *
   * @default Monitoring.DEFAULT_REPEAT_INTERVAL
   */
  readonly repeatInterval?: string;
}

/** One route to one webhook receiver, with resolved notifications; without a webhook, a receiver with no notifier. */
export function alertmanagerConfig(opts: AlertmanagerConfigOptions): AlertmanagerConfig {
  const groupBy = opts.groupBy ?? Monitoring.DEFAULT_GROUP_BY;
  const repeat = opts.repeatInterval ?? Monitoring.DEFAULT_REPEAT_INTERVAL;
  const p = new ProblemList("alertmanagerConfig");
  if (opts.webhookUrl !== undefined) p.url("webhookUrl", opts.webhookUrl);
  if (!Array.isArray(groupBy) || groupBy.length === 0 || groupBy.some((l) => typeof l !== "string" || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l))) {
    p.add("groupBy", groupBy, "at least one Prometheus label name");
  }
  p.duration("repeatInterval", repeat, "mhd");
  p.throwIfAny();
  const receiver = opts.webhookUrl !== undefined ? Monitoring.RECEIVER : Monitoring.NO_RECEIVER;
  return {
    global: { resolve_timeout: "5m" },
    route: { receiver, group_by: [...groupBy], group_wait: "30s", group_interval: "5m", repeat_interval: repeat },
    receivers: [{ name: receiver, webhook_configs: opts.webhookUrl !== undefined ? [{ url: opts.webhookUrl, send_resolved: true }] : [] }],
  };
}
