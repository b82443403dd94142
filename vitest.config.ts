import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { newEd25519Jwk, publicJwk } from "./domain/keys.js";
import { seedStatements } from "./store/seed.js";

const migrations = await readD1Migrations("./schema/migrations");
// A throwaway staff-token key per test run: the worker trusts its public half only.
const authPrivate = await newEd25519Jwk("test-key");
const authPublic = publicJwk(authPrivate);
// Approval signing: a current key and one retired by rotation (tests sign old documents with it).
const signing = await newEd25519Jwk("city-test-2");
const retired = await newEd25519Jwk("city-test-1");
const retiredPublic = publicJwk(retired);

export default defineConfig({
  test: {
    projects: [
      {
        // Pure domain core, the township node (real libSQL files, real HTTP on 127.0.0.1) and
        // every page in chromium against a real city and node.
        test: {
          name: "node",
          include: ["test/domain/**/*.test.ts", "test/node/**/*.test.ts", "test/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/node/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The city worker inside workerd with local D1 and R2.
        plugins: [
          cloudflareTest({
            main: "./workers/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                TEST_SEED: seedStatements(),
                AUTH_ISSUER: "tongban-test",
                AUTH_JWKS: JSON.stringify({ keys: [authPublic] }),
                TEST_AUTH_PRIVATE_JWK: JSON.stringify(authPrivate),
                SIGNING_JWK: JSON.stringify(signing),
                RETIRED_SIGNING_JWKS: JSON.stringify([retiredPublic]),
                TEST_RETIRED_SIGNING_PRIVATE_JWK: JSON.stringify(retired),
              },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["./test/worker/setup.ts"],
        },
      },
    ],
  },
});
