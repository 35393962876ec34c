/**
 * Two tiers. `npm test`: unit + snapshot, Node only (type-checking is done once by `tsc --noEmit`).
 * `npm run test:real` (REAL_TESTS=1): __tests__/real/, with the toolchain's real tools.
 */
const real = process.env.REAL_TESTS === "1";
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: real ? ["<rootDir>/__tests__/real/**/*.test.ts"] : ["<rootDir>/__tests__/**/*.test.ts"],
  testPathIgnorePatterns: real ? ["/node_modules/"] : ["/node_modules/", "<rootDir>/__tests__/real/"],
  transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }] },
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  snapshotFormat: { escapeString: false, printBasicPrototype: false },
  testTimeout: real ? 600000 : 30000,
};
