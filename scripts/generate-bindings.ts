/**
 * Generates provider bindings into .gen/providers/NAME (git-ignored) from the committed schemas
 * in providers/NAME/, with no Terraform and no network. Runs on `npm ci` (postinstall).
 *
 * Only the resources and data sources listed in providers/NAME/bindings.json are generated;
 * `--all` generates every one the schema has (to measure what the whole provider would cost).
 * A stamp of the inputs makes a second run a no-op.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROVIDERS_DIR, listBindings, readBindings } from "./bindings";

const OUT = path.resolve(__dirname, "..", ".gen");

interface ProviderSchemaJson {
  format_version: string;
  provider_schemas: Record<string, { provider: unknown; resource_schemas?: Record<string, unknown>; data_source_schemas?: Record<string, unknown> }>;
  provider_versions?: Record<string, string>;
}

function pick(name: string, all: Record<string, unknown> | undefined, wanted: readonly string[], kind: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of wanted) {
    if (!all || !(type in all)) {
      throw new Error(`providers/${name}/bindings.json: ${kind} "${type}" is not in the provider schema`);
    }
    out[type] = all[type];
  }
  return out;
}

async function generate(name: string, all: boolean, generatorVersion: string): Promise<void> {
  const bindingsText = fs.readFileSync(path.join(PROVIDERS_DIR, name, "bindings.json"), "utf8");
  const b = readBindings(name);
  const schemaText = fs.readFileSync(path.join(PROVIDERS_DIR, name, b.schema), "utf8");
  const stamp = createHash("sha256").update(bindingsText).update(schemaText).update(generatorVersion).update(String(all)).digest("hex");
  const target = path.join(OUT, "providers", name);
  const stampFile = path.join(target, ".stamp");
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, "utf8") === stamp) return;

  const t0 = Date.now();
  const schema = JSON.parse(schemaText) as ProviderSchemaJson;
  const provider = schema.provider_schemas[b.source];
  if (!provider) throw new Error(`providers/${name}/${b.schema} has no provider ${b.source}`);
  const resources = all ? provider.resource_schemas ?? {} : pick(name, provider.resource_schemas, b.resources, "resource");
  const dataSources = all ? provider.data_source_schemas ?? {} : pick(name, provider.data_source_schemas, b.dataSources, "data source");
  const filtered: ProviderSchemaJson = {
    format_version: schema.format_version,
    provider_versions: { [b.source]: b.version },
    provider_schemas: { [b.source]: { provider: provider.provider, resource_schemas: resources, data_source_schemas: dataSources } },
  };
  const [, namespace, type] = b.source.split("/");
  // Loaded only when something is to be generated: importing them costs seconds.
  const { CodeMaker, TerraformProviderGenerator } = await import("@cdktf/provider-generator");
  const { ConstructsMakerProviderTarget, LANGUAGES, TerraformProviderConstraint } = await import("@cdktf/commons");
  const code = new CodeMaker();
  new TerraformProviderGenerator(code, filtered as never).generate(
    new ConstructsMakerProviderTarget(new TerraformProviderConstraint({ name: type, source: `${namespace}/${type}`, version: b.version }), LANGUAGES[0]),
  );
  fs.rmSync(target, { recursive: true, force: true });
  await code.save(OUT);
  fs.writeFileSync(stampFile, stamp);
  const count = Object.keys(resources).length + Object.keys(dataSources).length;
  process.stdout.write(`generate-bindings: ${name} ${b.version}: ${count} resources and data sources in ${Date.now() - t0} ms -> .gen/providers/${name}\n`);
}

async function main(): Promise<void> {
  const all = process.argv.includes("--all");
  const names = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const generatorVersion = (JSON.parse(fs.readFileSync(require.resolve("@cdktf/provider-generator/package.json"), "utf8")) as { version: string }).version;
  for (const name of names.length > 0 ? names : listBindings()) {
    await generate(name, all, generatorVersion);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`generate-bindings: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
