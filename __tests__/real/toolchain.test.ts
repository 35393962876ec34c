/**
 * Real tier: the toolchain's source archives. A provider the module proxy does not serve is
 * built from the archive its pin names; a missing archive or a wrong sha256 stops the toolchain
 * with one line naming the file and both sums, before anything is built.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import versions from "../../toolchain/versions.json";
import { makeTempDir, removeDir, ROOT, run } from "./real-helpers";

interface Pin {
  readonly source: string;
  readonly archive?: { readonly path: string; readonly sha256: string };
}

const archived = (versions.providers as readonly Pin[]).filter((p) => p.archive);

/** `npm run toolchain -- providers` with a versions file holding only `pin`, into a scratch cache. */
function toolchainWith(pin: Pin, dir: string): ReturnType<typeof run> {
  const file = path.join(dir, "versions.json");
  fs.writeFileSync(file, JSON.stringify({ ...versions, providers: [pin], agents: [], debian: [] }));
  return run(process.execPath, ["--import", "tsx", "scripts/toolchain.ts", "providers"], { cwd: ROOT, env: { TOOLCHAIN_VERSIONS: file, TOOLCHAIN_CACHE: path.join(dir, "cache") }, timeoutMs: 300_000 });
}

const d = process.env.REAL_TESTS === "1" ? describe : describe.skip;

d("the toolchain's source archives", () => {
  let dir = "";
  beforeAll(() => (dir = makeTempDir("toolchain-archive")));
  afterAll(() => removeDir(dir));

  test("the nomad and consul providers are pinned with their archive in ../shared/third_party, whose sums match SOURCES.md", () => {
    expect(archived.map((p) => p.source).sort()).toEqual(["registry.terraform.io/hashicorp/consul", "registry.terraform.io/hashicorp/nomad"]);
    const sources = fs.readFileSync(path.resolve(ROOT, "..", "shared", "third_party", "SOURCES.md"), "utf8");
    for (const p of archived) {
      expect(p.archive!.path).toMatch(/^\.\.\/shared\/third_party\/[\w.-]+\.tar\.gz$/);
      expect(sources).toContain(`| ${path.basename(p.archive!.path)} |`);
      expect(sources).toContain(p.archive!.sha256);
    }
  });

  test("fails in one line on a missing archive, naming the file", () => {
    const pin = { ...archived[0], archive: { ...archived[0].archive!, path: "../shared/third_party/no-such-archive.tar.gz" } };
    const r = toolchainWith(pin, dir);
    expect(r.status).toBe(1);
    const errors = r.stderr.split("\n").filter((l) => l.trim());
    expect(errors).toEqual([expect.stringMatching(/^toolchain: error: source archive \.\.\/shared\/third_party\/no-such-archive\.tar\.gz \(.*\) is missing/)]);
    expect(fs.existsSync(path.join(dir, "cache", "mirror", "registry.terraform.io"))).toBe(false);
  });

  test("fails in one line on a wrong sha256, with the sum found and the sum expected", () => {
    const wrong = "0".repeat(64);
    const pin = { ...archived[0], archive: { ...archived[0].archive!, sha256: wrong } };
    const r = toolchainWith(pin, dir);
    expect(r.status).toBe(1);
    const errors = r.stderr.split("\n").filter((l) => l.trim());
    expect(errors).toEqual([`toolchain: error: source archive ${archived[0].archive!.path}: sha256 ${archived[0].archive!.sha256}, expected ${wrong} (toolchain/versions.json)`]);
  });
});
