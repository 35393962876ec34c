/**
 * Writes the README's table of every field of the deployment file, from the schema's
 * documentation (config/fields.ts). `node --import tsx scripts/readme-fields.ts` after a change
 * to config/schema.ts; a unit test fails while the README's table differs from the schema's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { withFieldsTable } from "../config/fields";

const readme = path.join(__dirname, "..", "README.md");
try {
  fs.writeFileSync(readme, withFieldsTable(fs.readFileSync(readme, "utf8")));
} catch (err) {
  process.stderr.write(`readme-fields: ${(err as Error).message}\n`);
  process.exit(1);
}
