/**
 * The Consul and Nomad versions a site runs (`sites[].agents` in the deployment file), and what
 * an upgrade may do, by HashiCorp's upgrade guides:
 * - Consul: an upgrade jumps at most 2 minor versions (1.20 to 1.22, not 1.19 to 1.22);
 * - Nomad: hosts work with the previous minor version only (1.10 to 1.11, not 1.9 to 1.11);
 * - neither supports a downgrade (Nomad's servers would have to be re-provisioned).
 * The library renders its configurations for the versions the real test tier runs
 * (toolchain/versions.json): a site may run those, any later patch of them, or an earlier minor
 * version within the upgrade window (so that a site deployed with it can upgrade to them).
 *
 * Nothing here depends on cdktf: `npm run deploy` checks an upgrade against the deployed
 * versions (the infra stack's `agent_versions` output) before it runs.
 */
import toolchain from "../toolchain/versions.json";

export type Agent = "consul" | "nomad";
export type AgentVersions = Readonly<Record<Agent, string>>;

/** The versions the real tier tests the rendered configurations with. */
export const TESTED_AGENT_VERSIONS: AgentVersions = Object.fromEntries(
  toolchain.agents.filter((a) => a.name === "consul" || a.name === "nomad").map((a) => [a.name, a.version.replace(/^v/, "")]),
) as Record<Agent, string>;

/** How many minor versions one upgrade may jump (HashiCorp's upgrade guides). */
export const UPGRADE_WINDOW: Readonly<Record<Agent, number>> = { consul: 2, nomad: 1 };

const TITLE: Record<Agent, string> = { consul: "Consul", nomad: "Nomad" };

/** Name of the infra stack's output that records the versions its VMs are declared with. */
export const AGENT_VERSIONS_OUTPUT = "agent_versions";

interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

export const VERSION_PATTERN = /^(\d+)\.(\d+)\.(\d+)$/;

export function parseVersion(v: string): Version | undefined {
  const m = VERSION_PATTERN.exec(v);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

const compare = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/** Why `version` of `agent` cannot be declared with this library (the expected part of a ConfigProblem), or undefined. */
export function declaredVersionProblem(agent: Agent, version: string): string | undefined {
  const tested = parseVersion(TESTED_AGENT_VERSIONS[agent])!;
  const v = parseVersion(version);
  if (!v) return `a version like ${TESTED_AGENT_VERSIONS[agent]} (major.minor.patch)`;
  const oldest = tested.minor - UPGRADE_WINDOW[agent];
  if (v.major !== tested.major || v.minor > tested.minor || v.minor < oldest) {
    return (
      `${TITLE[agent]} ${tested.major}.${Math.max(0, oldest)}.x to ${tested.major}.${tested.minor}.x: this library renders its configuration for ${TITLE[agent]} ${TESTED_AGENT_VERSIONS[agent]} ` +
      `(any later patch of it, or an earlier minor version a site can upgrade to it from)`
    );
  }
  return undefined;
}

/**
 * Why going from the `deployed` version to the `declared` one is not an upgrade HashiCorp
 * supports (one phrase, with the way forward), or undefined.
 */
export function upgradeProblem(agent: Agent, deployed: string, declared: string): string | undefined {
  const from = parseVersion(deployed);
  const to = parseVersion(declared);
  if (!from || !to) return undefined;
  const name = TITLE[agent];
  if (compare(to, from) < 0) {
    return `${declared} is older than the ${deployed} the site runs: ${name} does not support a downgrade (${agent === "nomad" ? "its servers would have to be re-provisioned" : "restore a snapshot onto servers of the older version instead"})`;
  }
  const jump = (to.major - from.major) * 100 + (to.minor - from.minor);
  if (to.major !== from.major || jump > UPGRADE_WINDOW[agent]) {
    const step = `${from.major}.${from.minor + UPGRADE_WINDOW[agent]}`;
    return `${deployed} to ${declared} jumps ${jump} minor versions; ${name} supports at most ${UPGRADE_WINDOW[agent]} per upgrade: upgrade to the latest ${step}.x first, roll it, then go on`;
  }
  return undefined;
}
