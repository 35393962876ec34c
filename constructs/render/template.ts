/** Nomad templates: text that Nomad renders with consul-template, with only the intended actions evaluated. */

/**
 * The consul-template action Nomad renders to the client's IP address. The attribute name is a
 * raw (backquoted) Go string so that the action survives JSON and YAML quoting unchanged.
 */
export const NOMAD_NODE_IP = "{{ env `attr.unique.network.ip-address` }}";

/**
 * Makes `text` the content of a Nomad template (a `WorkloadFile`) that renders to `text` itself,
 * except for the given consul-template `actions`, which Nomad evaluates. Every other `{{` (a
 * Prometheus alert template, a Grafana legend, a Vector field template) is written as the Go
 * template action `{{ "{{" }}`, which renders to `{{`.
 */
export function nomadTemplate(text: string, actions: readonly string[] = []): string {
  const escape = (part: string): string => part.split("{{").join('{{ "{{" }}');
  if (actions.length === 0) return escape(text);
  const [first, ...rest] = actions;
  return text
    .split(first)
    .map((part) => nomadTemplate(part, rest))
    .join(first);
}
