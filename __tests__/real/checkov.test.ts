/**
 * Real tier: checkov (pinned, installed by scripts/checkov.sh) scans the synthesized infra stacks
 * and finds no failed check. Skipped checks come only from scripts/checkov-skips.txt, each with
 * a one-line justification.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, RunResult, makeTempDir, removeDir, requireTool, run, runOk, writeFile } from "./real-helpers";

const SCRIPT = path.join(ROOT, "scripts", "checkov.sh");
const SKIPS_FILE = path.join(ROOT, "scripts", "checkov-skips.txt");
/** The first run may install checkov from PyPI. */
const CHECKOV_TIMEOUT_MS = 540_000;

interface SkipEntry {
  readonly id: string;
  readonly reason: string;
}

/** Parses the skips file: `CKV_XXX_N  justification` lines, # comments and blank lines. Throws on any other line. */
function parseSkips(text: string, file: string): SkipEntry[] {
  const entries: SkipEntry[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(#|$)/.test(line)) return;
    const m = /^(CKV2?_[A-Z0-9]+_\d+)\s+(\S.*)$/.exec(line);
    if (!m) problems.push(`${file}:${i + 1}: expected "CKV_XXX_N  justification", got ${JSON.stringify(line)}`);
    else if (m[2].trim().split(/\s+/).length < 3) problems.push(`${file}:${i + 1}: ${m[1]}: the justification "${m[2].trim()}" is too short to say why the check does not apply`);
    else if (entries.some((e) => e.id === m[1])) problems.push(`${file}:${i + 1}: ${m[1]} is listed twice`);
    else entries.push({ id: m[1], reason: m[2].trim() });
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return entries;
}

interface CheckResult {
  readonly check_id: string;
  readonly resource: string;
  readonly file_path?: string;
}

interface Report {
  readonly check_type: string;
  readonly results: { readonly passed_checks: CheckResult[]; readonly failed_checks: CheckResult[]; readonly skipped_checks: CheckResult[] };
  readonly summary: { readonly passed: number; readonly failed: number; readonly skipped: number; readonly parsing_errors: number; readonly checkov_version: string };
}

/** scripts/checkov.sh DIR -o json, parsed (checkov prints one report, or a list of them). */
function checkov(dir: string, env: Record<string, string> = {}): { run: RunResult; reports: Report[] } {
  const res = run("bash", [SCRIPT, dir, "-o", "json"], { env, timeoutMs: CHECKOV_TIMEOUT_MS });
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    throw new Error(`checkov did not print a JSON report: exit ${res.status}\n${res.output}`);
  }
  const reports = (Array.isArray(parsed) ? parsed : [parsed]) as Report[];
  return { run: res, reports };
}

function failedOf(reports: Report[]): string[] {
  return reports.flatMap((r) => r.results?.failed_checks ?? []).map((c) => `${c.check_id} ${c.resource}`);
}

function passedIds(reports: Report[]): Set<string> {
  return new Set(reports.flatMap((r) => r.results?.passed_checks ?? []).map((c) => c.check_id));
}

let work: string;
let stacksDir: string;
let infraStacks: string[];

beforeAll(() => {
  requireTool("node");
  requireTool("bash");
  requireTool("python3");
  work = makeTempDir("real-checkov");
  const out = path.join(work, "cdktf.out");
  runOk("node", ["--import", "tsx", "main.ts"], { cwd: ROOT, env: { CDKTF_OUTDIR: out }, timeoutMs: 180_000 });
  stacksDir = path.join(out, "stacks");
  infraStacks = fs.readdirSync(stacksDir).filter((s) => s.endsWith("-infra")).sort();
}, 200_000);

afterAll(() => removeDir(work));

describe("scripts/checkov-skips.txt", () => {
  test("every entry is a check id with a one-line justification", () => {
    const entries = parseSkips(fs.readFileSync(SKIPS_FILE, "utf8"), "scripts/checkov-skips.txt");
    for (const e of entries) expect(e.reason.length).toBeGreaterThan(0);
  });

  test.each([
    ["an id without a justification", "CKV_OPENSTACK_2\n", /expected "CKV_XXX_N  justification"/],
    ["a one-word justification", "CKV_OPENSTACK_2  because\n", /too short/],
    ["a duplicate", "CKV_OPENSTACK_2  does not apply here\nCKV_OPENSTACK_2  does not apply there\n", /listed twice/],
    ["a line that is not an id", "skip everything please\n", /expected "CKV_XXX_N  justification"/],
  ])("negative control: the parser rejects %s", (_label, text, message) => {
    expect(() => parseSkips(text, "bad.txt")).toThrow(message);
  });

  test.each([
    ["an id without a justification", "CKV_OPENSTACK_2\n", /expected 'CKV_XXX_N  justification'/],
    ["a duplicate", "CKV_OPENSTACK_2  a\nCKV_OPENSTACK_2  b\n", /listed twice/],
  ])("negative control: scripts/checkov.sh refuses a skips file with %s", (label, text, message) => {
    const file = writeFile(work, `skips/${label.replace(/\W+/g, "-")}.txt`, text);
    const res = run("bash", [SCRIPT, path.join(stacksDir, infraStacks[0])], { env: { CHECKOV_SKIPS_FILE: file }, timeoutMs: CHECKOV_TIMEOUT_MS });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(message);
  });
});

describe("checkov on the synthesized infra stacks", () => {
  test("the app synthesizes an infra stack per site", () => {
    expect(infraStacks).toEqual(expect.arrayContaining(["primary-infra", "backup-infra"]));
    for (const s of infraStacks) expect(fs.existsSync(path.join(stacksDir, s, "cdk.tf.json"))).toBe(true);
  });

  test("every infra stack passes with no failed check", () => {
    const skipped = new Set(parseSkips(fs.readFileSync(SKIPS_FILE, "utf8"), "scripts/checkov-skips.txt").map((e) => e.id));
    expect(infraStacks.length).toBeGreaterThan(0);
    for (const stack of infraStacks) {
      const { run: res, reports } = checkov(path.join(stacksDir, stack));
      expect({ stack, failed: failedOf(reports) }).toEqual({ stack, failed: [] });
      expect({ stack, status: res.status }).toEqual({ stack, status: 0 });
      const report = reports.find((r) => r.check_type === "terraform_json");
      expect(report?.summary).toMatchObject({ failed: 0, parsing_errors: 0, checkov_version: "3.3.30" });
      // The scan really evaluated the OpenStack resources: a folder checkov cannot read passes with 0 checks.
      expect(report?.summary.passed).toBeGreaterThan(0);
      const ran = passedIds(reports);
      for (const id of ["CKV_OPENSTACK_1", "CKV_OPENSTACK_2", "CKV_OPENSTACK_3", "CKV_OPENSTACK_4"].filter((i) => !skipped.has(i))) {
        expect({ stack, id, ran: ran.has(id) }).toEqual({ stack, id, ran: true });
      }
      // Nothing skipped other than what the skips file lists.
      for (const c of reports.flatMap((r) => r.results?.skipped_checks ?? [])) expect(skipped.has(c.check_id)).toBe(true);
    }
  });

  test("negative control: an SSH rule open to the world and a password in the provider fail", () => {
    const stack = path.join(stacksDir, infraStacks.includes("primary-infra") ? "primary-infra" : infraStacks[0]);
    const json = JSON.parse(fs.readFileSync(path.join(stack, "cdk.tf.json"), "utf8")) as Record<string, any>;
    const rules = json.resource.openstack_networking_secgroup_rule_v2 as Record<string, Record<string, unknown>>;
    const ssh = Object.entries(rules).find(([, r]) => r.port_range_min === 22 && r.direction === "ingress");
    if (!ssh) throw new Error("the stack has no SSH ingress rule to open");
    ssh[1].remote_ip_prefix = "0.0.0.0/0";
    json.provider.openstack[0].password = "hunter2-in-plain-text";
    const broken = path.join(work, "broken", path.basename(stack));
    writeFile(broken, "cdk.tf.json", JSON.stringify(json, null, 2));

    const { run: res, reports } = checkov(broken);
    expect(res.status).toBe(1);
    const failed = failedOf(reports);
    // (terraform_json names resources by their cdktf id, the provider by its block.)
    expect(failed.sort()).toEqual(["CKV_OPENSTACK_1 provider.openstack", `CKV_OPENSTACK_2 resource.${ssh[0]}`]);
    // The second run reused the install.
    expect(res.stderr).toContain("already installed");
  });
});
