/**
 * `npm run schema:capture [-- NAME ...]`: captures a provider's schema from the real provider
 * binary (built by `npm run toolchain`) with `terraform providers schema -json`, and writes it to
 * providers/NAME/schema-VERSION.json with the version recorded in `provider_versions`, the form
 * cdktf's generator reads. With no NAME, every folder under providers/.
 *
 * Needs the toolchain (`source .toolchain/env`); uses no network: terraform installs the provider
 * from the local filesystem mirror.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROVIDERS_DIR, listBindings, readBindings } from "./bindings";

function terraform(cwd: string, args: string[]): string {
  const res = spawnSync("terraform", args, { cwd, encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
  if (res.status !== 0) {
    process.stderr.write(`terraform ${args.join(" ")} failed (is .toolchain/env sourced?)\n${res.stderr}\n`);
    process.exit(1);
  }
  return res.stdout;
}

for (const name of process.argv.length > 2 ? process.argv.slice(2) : listBindings()) {
  const b = readBindings(name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `schema-${name}-`));
  try {
    const [, namespace, type] = b.source.split("/");
    fs.writeFileSync(
      path.join(dir, "main.tf.json"),
      JSON.stringify({ terraform: { required_providers: { [type]: { source: `${namespace}/${type}`, version: b.version } } } }),
    );
    terraform(dir, ["init", "-input=false", "-no-color"]);
    const schema = JSON.parse(terraform(dir, ["providers", "schema", "-json"])) as Record<string, unknown>;
    schema.provider_versions = { [b.source]: b.version };
    const out = path.join(PROVIDERS_DIR, name, b.schema);
    fs.writeFileSync(out, `${JSON.stringify(schema, null, 1)}\n`);
    process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
