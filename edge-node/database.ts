/** The node's embedded libSQL file: opened in WAL mode, migrated, seeded on first start. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "@libsql/client";
import { count } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import * as tables from "../schema/tables.js";
import type { Db } from "../store/db.js";
import { seedStatements } from "../store/seed.js";

/** WAL pages after which a commit on the main connection checkpoints by itself (40 MB). */
export const WAL_SAFETY_PAGES = 10_000;

export const MIGRATIONS_DIR = fileURLToPath(new URL("../schema/migrations", import.meta.url));

export interface NodeDatabase {
  client: Client;
  db: Db;
  path: string;
  /** Whether this start created the catalog from the bundled seed. */
  seeded: boolean;
}

/** Opens (creating if needed) `<dataDir>/node.db`, applies migrations and seeds an empty catalog. */
export async function openNodeDatabase(dataDir: string): Promise<NodeDatabase> {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, "node.db");
  // One connection: the client would otherwise open more under concurrent calls (up to 20), and
  // the per-connection PRAGMAs below would hold on the first only (`timeout` is the busy timeout). Every call on it is a short
  // synchronous step, and nothing holds an interactive transaction, so nothing waits on it long.
  const client = createClient({ url: `file:${path}`, concurrency: 1, timeout: 5000 });
  // WAL lets the console read while intake writes; NORMAL is durable across process crashes.
  await client.execute("PRAGMA journal_mode = WAL");
  await client.execute("PRAGMA synchronous = NORMAL");
  // Checkpoints are the push thread's job (every second, PASSIVE): at the default 1,000 pages a
  // window request that happened to cross the mark copied and synced megabytes before answering.
  // This threshold is only the safety net for a node whose push thread is not running.
  await client.execute(`PRAGMA wal_autocheckpoint = ${WAL_SAFETY_PAGES}`);
  const db = drizzle(client) as unknown as Db;
  await migrate(db as never, { migrationsFolder: MIGRATIONS_DIR });
  const [{ n }] = (await db.select({ n: count() }).from(tables.serviceItems)) as [{ n: number }];
  let seeded = false;
  if (n === 0) {
    const stmts = seedStatements(new Date().toISOString());
    await client.batch(stmts, "write");
    seeded = true;
  }
  return { client, db, path, seeded };
}
