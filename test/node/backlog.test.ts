/**
 * The push thread's reading and signing, on a real libSQL file: SQLite's own JSON encoding of
 * the backlog must parse back to exactly the stored events (Chinese, non-BMP, quotes and
 * backslashes included), respect the byte cap, and the signed request must verify with jose.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flattenedVerify, importJWK } from "jose";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asc, eq } from "drizzle-orm";
import { newEd25519Jwk, publicJwk } from "../../domain/keys.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { caseEvents } from "../../schema/tables.js";
import { intake, runCommand } from "../../store/cases.js";
import { readEventRun, type SyncConnection } from "../../edge-node/backlog.js";
import { openNodeDatabase, type NodeDatabase } from "../../edge-node/database.js";
import { syncSigner } from "../../edge-node/jws.js";
import { ID } from "./helpers.js";

const CODE = "BL01";
let dir: string;
let store: NodeDatabase;
let conn: SyncConnection & { close(): void };
let stored: Record<string, unknown>[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tongban-backlog-"));
  store = await openNodeDatabase(dir);
  const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
  // Control characters never enter an event (refused at the edge); line breaks and tabs may, in multi-line text.
  const names = ["张三", '引号"与\\反斜杠', "𠮷野家", "王五·赵六"];
  for (const [i, name] of names.entries()) {
    const r = await intake(store.db, {
      origin: CODE,
      actor: `window@${CODE}`,
      channel: "window",
      itemCode: item.code,
      applicant: { name, idNumber: ID.zhang, phone: "13800138000" },
      materials: item.materials.map((m) => m.id),
      at: new Date(Date.UTC(2026, 10, 2, 1, i)),
    });
    expect(r.ok).toBe(true);
  }
  const denied = await runCommand(store.db, `${CODE}-20261102-0004`, {
    origin: CODE,
    actor: `window@${CODE}`,
    role: "clerk",
    at: new Date(Date.UTC(2026, 10, 2, 2, 0)),
    command: { action: "decide", decision: "deny", reason: "不符合条件：\n第二行\t制表\r回车 \"引号\" \\ 𠮷" },
  });
  expect(denied.ok).toBe(true);
  const rows = await store.db.select().from(caseEvents).where(eq(caseEvents.origin, CODE)).orderBy(asc(caseEvents.seq));
  stored = rows.map(({ receivedAt: _r, ...e }) => e);
  conn = new Database(store.path, { readonly: true }) as unknown as SyncConnection & { close(): void };
});

afterAll(() => {
  conn.close();
  store.client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("reading the backlog", () => {
  it("encodes every event so that it parses back to exactly what is stored", () => {
    const run = readEventRun(conn, CODE, 0, 1000, 1_000_000);
    expect(run.count).toBe(stored.length);
    expect(run.lastSeq).toBe(stored.length);
    expect(run.bytes).toBe(run.json.byteLength);
    expect(JSON.parse(`[${Buffer.from(run.json).toString("utf8")}]`)).toEqual(stored);
  });

  it("starts after the given seq and stops at the limit", () => {
    const run = readEventRun(conn, CODE, 1, 2, 1_000_000);
    expect(JSON.parse(`[${Buffer.from(run.json).toString("utf8")}]`).map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    expect(run).toMatchObject({ count: 2, lastSeq: 3 });
    expect(readEventRun(conn, CODE, stored.length, 10, 1_000_000)).toEqual({ json: new Uint8Array(0), count: 0, lastSeq: stored.length, bytes: 0 });
  });

  it("keeps a run within the byte cap, but never returns nothing while events wait", () => {
    // The cap is in SQLite's own encoding: exactly two events' worth, then one byte less.
    const two = readEventRun(conn, CODE, 0, 2, 1_000_000);
    expect(readEventRun(conn, CODE, 0, 1000, two.bytes)).toMatchObject({ count: 2, bytes: two.bytes });
    expect(readEventRun(conn, CODE, 0, 1000, two.bytes - 1)).toMatchObject({ count: 1 });
    expect(readEventRun(conn, CODE, 0, 1000, 10)).toMatchObject({ count: 1, lastSeq: 1 });
  });
});

describe("signing a sync request", () => {
  it("makes a detached EdDSA JWS over the body as sent (unencoded payload) that jose verifies with the node's public key", async () => {
    const jwk = await newEd25519Jwk(CODE);
    const json = '{"v":1,"kind":"push","node":"BL01","events":[{"name":"𠮷野家"}]}';
    const signed = syncSigner(jwk, CODE)(json);
    expect(Buffer.from(signed.body).toString("utf8")).toBe(json);
    const [protectedHeader, empty, signature] = signed.signature.split(".");
    expect(empty).toBe("");
    const flat = { protected: protectedHeader!, payload: signed.body, signature: signature! };
    const { payload, protectedHeader: header } = await flattenedVerify(flat, await importJWK(publicJwk(jwk), "EdDSA"));
    expect(header).toEqual({ alg: "EdDSA", kid: CODE, typ: "tongban-sync+jws", b64: false, crit: ["b64"] });
    expect(new TextDecoder().decode(payload)).toBe(json);
    const other = await newEd25519Jwk("OTHER");
    await expect(flattenedVerify(flat, await importJWK(publicJwk(other), "EdDSA"))).rejects.toThrow();
    // One byte of the body changed: the signature no longer holds.
    const tampered = Buffer.from(signed.body);
    tampered[10] = tampered[10]! ^ 1;
    await expect(flattenedVerify({ ...flat, payload: tampered }, await importJWK(publicJwk(jwk), "EdDSA"))).rejects.toThrow();
  });
});
