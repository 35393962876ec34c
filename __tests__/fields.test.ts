import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { DeploymentConfigError, parseDeployment } from "../config/deployment";
import { fieldRows, fieldsTable, UNDOCUMENTED, withFieldsTable } from "../config/fields";
import { editedYaml, ROOT } from "./helpers";

const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

describe("the README's table of every field of the deployment file", () => {
  test("GIVEN the schema THEN the README holds its table as generated (node --import tsx scripts/readme-fields.ts)", () => {
    expect(withFieldsTable(README)).toBe(README);
  });

  test("every field of the schema has a row, with what it does, an example, and required or its default", () => {
    const rows = fieldRows();
    expect(rows.length).toBeGreaterThan(90);
    const missing = rows.filter((r) => !r.doc || r.example === undefined || !r.requirement || r.requirement.includes(UNDOCUMENTED)).map((r) => r.path);
    expect(missing).toEqual([]);
    for (const r of rows) expect(README).toContain(`| \`${r.path}\` |`);
  });

  test("the rows say what the issue asked: no development VM by default, two app instances, the fields only some sites need", () => {
    const row = (p: string) => fieldRows().find((r) => r.path === p);
    expect(row("sites[].vms.<role>.count")?.requirement).toMatch(/development 0/);
    expect(row("sites[].platform.apps[].count")).toMatchObject({ requirement: "default `2`", doc: expect.stringMatching(/^Instances: two by default/) });
    expect(row("sites[].platform.registry")?.requirement).toMatch(/^required when `systems` is not empty/);
    expect(row("sites[].platform.alertWebhook")?.requirement).toMatch(/^optional: alerts are not routed/);
    expect(row("sites[].platform.flavorSizes")?.requirement).toMatch(/^required for the flavors of the clients and the ingress VMs: the capacity check/);
    expect(row("sites[].vms.<role>.volumeGb")?.requirement).toMatch(/^required for `client` when the site has a `platform`/);
    expect(row("sites[].image")).toMatchObject({ requirement: "required", doc: expect.stringMatching(/no default, since image names differ/) });
    expect(row("backend.schemaPrefix")).toMatchObject({ requirement: "default `\"\"` (pg)", doc: expect.stringMatching(/PG_CONN_STR/) });
  });

  test("GIVEN a schema field without documentation THEN its row says so (and the test above fails on it)", () => {
    const schema = z.strictObject({ a: z.string().optional() });
    expect(fieldRows(schema)).toEqual([{ path: "a", requirement: "", example: undefined, doc: "" }]);
    expect(fieldsTable(schema)).toContain("| `a` |");
  });

  test("fails to write the table into a README without its markers", () => {
    expect(() => withFieldsTable("# no table here\n")).toThrow(/^README: the markers <!-- fields: generated .* of the table of fields are missing$/);
  });
});

/** A deployment file with one of everything, so that every field has a place. */
function fullDocument(edit: (d: Record<string, any>) => void): string {
  return editedYaml((d) => {
    d.sites[0].platform.apps = [
      {
        name: "hello",
        image: "nginxdemos/hello",
        version: "0.4",
        cpuMhz: 100,
        memoryMb: 64,
        port: 80,
        public: "hello",
        metricsPath: "/metrics",
        dependsOn: [{ service: "fleet-api", localPort: 9100 }],
        scaling: { min: 2, max: 6, cpuTargetPercent: 70 },
        env: { LOG_LEVEL: "info" },
        settings: { greeting: "hi" },
      },
    ];
    edit(d);
  });
}

/** The concrete path of a row (`sites[].vms.<role>.count` -> sites[0].vms.server.count), as segments. */
function concrete(rowPath: string): (string | number)[] {
  const keys: Record<string, string> = { "<role>": "server", "<flavor>": "m1.large" };
  return rowPath.split(".").flatMap((seg) => (seg.endsWith("[]") ? [seg.slice(0, -2), 0] : [keys[seg] ?? seg]));
}

describe("an error about a field's shape says what is expected, with an example", () => {
  const variants: Record<string, Record<string, unknown>> = {
    s3: { type: "s3", bucket: "fleet-tfstate", region: "RegionOne" },
    http: { type: "http", address: "https://state.example.org/fleet/" },
    pg: { type: "pg" },
  };
  for (const row of fieldRows()) {
    test(`fails on ${row.path} of the wrong type, in one line with an example`, () => {
      const segs = concrete(row.path);
      const wrong = typeof row.example === "string" ? 12345 : "wrong";
      const text = fullDocument((d) => {
        const variant = /\((s3|http|pg)\)/.exec(row.requirement)?.[1];
        if (variant) d.backend = { ...variants[variant] };
        else if (segs[0] === "backend") d.backend = { ...variants.s3 };
        let at: any = d;
        for (const s of segs.slice(0, -1)) at = at[s] ??= {};
        at[segs.at(-1) as string | number] = wrong;
      });
      let lines: string[] = [];
      try {
        parseDeployment(text, "d.yaml");
      } catch (e) {
        expect(e).toBeInstanceOf(DeploymentConfigError);
        lines = (e as Error).message.split("\n");
      }
      const where = segs.reduce<string>((acc, s) => (typeof s === "number" ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
      const mine = lines.filter((l) => l.startsWith(`d.yaml: ${where}: `));
      expect({ lines, mine: mine.length }).toEqual({ lines, mine: 1 });
      expect(mine[0]).toMatch(/expected .*e\.g\. \S/);
      expect(lines.join("\n")).not.toMatch(/\((record|object|string|number|array|int|boolean)\)/);
    });
  }
});
