/**
 * Renderers for the line-based formats the VMs read (sshd, fail2ban, WireGuard, systemd, sysctl),
 * from typed structures. Values are checked for line breaks so that no input can inject a line.
 */

type Scalar = string | number | boolean;

function clean(where: string, value: Scalar): string {
  const text = String(value);
  if (/[\r\n]/.test(text)) throw new Error(`${where}: value ${JSON.stringify(text)} has a line break; expected a single-line value`);
  return text;
}

/** One INI section: `[name]` then `Key = value` lines; array values repeat the key. */
export interface IniSection {
  readonly name: string;
  readonly entries: Readonly<Record<string, Scalar | readonly Scalar[] | undefined>>;
}

/** INI as WireGuard, systemd and fail2ban read it. */
export function renderIni(sections: readonly IniSection[], separator = " = "): string {
  return sections
    .map((s) => {
      const lines = [`[${clean("section", s.name)}]`];
      for (const [k, v] of Object.entries(s.entries)) {
        if (v === undefined) continue;
        for (const item of Array.isArray(v) ? v : [v]) lines.push(`${k}${separator}${clean(`${s.name}.${k}`, item as Scalar)}`);
      }
      return lines.join("\n");
    })
    .join("\n\n")
    .concat("\n");
}

/** `Key value` lines, as sshd_config reads them. */
export function renderKeyValue(entries: Readonly<Record<string, Scalar>>, separator = " "): string {
  return Object.entries(entries)
    .map(([k, v]) => `${k}${separator}${clean(k, v)}`)
    .join("\n")
    .concat("\n");
}
