// Every test file starts from a migrated and seeded local D1, exactly as production is set up.
import { applyD1Migrations, env } from "cloudflare:test";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await env.DB.batch(env.TEST_SEED.map((s) => env.DB.prepare(s)));
