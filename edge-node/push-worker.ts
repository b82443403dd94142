/**
 * The push half of replication, in a thread of its own (`dist/push-worker.mjs`). It reads the
 * backlog through its own libSQL connection, encodes and signs each batch and sends it; the main
 * thread only decides what to send next and records acknowledgements. So a month-long catch-up
 * never stands between the window clerk and the event loop that serves the counter, and on Linux
 * the thread runs at a lower CPU priority than the window. It also checkpoints the WAL, for the
 * same reason: a checkpoint copies and syncs megabytes, which no window request should wait for.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import Database from "libsql";
// Types only: the protocol's constants come in workerData, so zod is not loaded in this thread.
import type { PushPayload } from "../domain/sync-protocol.js";
import { readEventRun, type SyncConnection } from "./backlog.js";
import { signedHeaders, syncSigner, type SignedRequest } from "./jws.js";
import type { PushReply, PushRequest, PushWorkerData } from "./push-thread.js";

/** Events read from the file in one query. */
const READ_SLICE = 500;
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]}");

const data = workerData as PushWorkerData;
const port = parentPort!;

// Nice applies per thread on Linux: the window's thread keeps its priority, this one yields to it.
try {
  setPriority(Number(readlinkSync("/proc/thread-self").split("/").pop()), data.niceness);
} catch {
  /* not Linux, or not allowed: run at normal priority */
}

// Read-only, and WAL lets it read while the window writes. A few lines of SQL and no ORM keep
// this thread's memory small: it is a second JavaScript heap in the process.
const conn = new Database(data.dbPath, { readonly: true, timeout: 5000 }) as unknown as SyncConnection;
const signRequest = syncSigner(data.privateJwk, data.code);

/** How often the WAL is checkpointed (PASSIVE: never waits for the window's writes, never blocks them). */
const CHECKPOINT_MS = 1000;
const checkpointer = new Database(data.dbPath, { timeout: 5000 }) as unknown as { prepare(sql: string): { get(): unknown } };
const checkpoint = checkpointer.prepare("PRAGMA wal_checkpoint(PASSIVE)");
setInterval(() => {
  try {
    checkpoint.get();
  } catch {
    /* the file is busy or gone: the next tick (or the main connection's safety net) does it */
  }
}, CHECKPOINT_MS);

/** Reads and signs the batch after `afterSeq`: at most `maxEvents` events and `maxBytes` of them. */
function prepare(req: PushRequest): { signed: SignedRequest; lastSeq: number; count: number } {
  const parts: Uint8Array[] = [];
  let bytes = 0;
  let count = 0;
  let lastSeq = req.afterSeq;
  while (count < req.maxEvents) {
    const want = Math.min(READ_SLICE, req.maxEvents - count);
    // Room left for this slice, counting the comma that joins it to the previous one.
    const room = data.maxBytes - bytes - (count > 0 ? 1 : 0);
    if (room <= 0) break;
    const run = readEventRun(conn, data.code, lastSeq, want, room);
    if (run.count === 0 || (count > 0 && run.bytes > room)) break;
    if (count > 0) parts.push(COMMA);
    parts.push(run.json);
    bytes += run.bytes + (count > 0 ? 1 : 0);
    count += run.count;
    lastSeq = run.lastSeq;
    if (run.count < want) break;
  }
  const head: Omit<PushPayload, "events"> = {
    v: data.protocolVersion as PushPayload["v"],
    kind: "push",
    node: data.code,
    batchId: crypto.randomUUID(),
    sentAt: req.sentAt,
    // Cases taken since the main thread read its head may be in this batch: the node holds at least
    // what it sends (the city refuses a batch that ends past the head it states).
    headSeq: Math.max(req.headSeq, lastSeq),
  };
  // The events' JSON goes from SQLite into the body as bytes, never through a string.
  const body = Buffer.concat([Buffer.from(`${JSON.stringify(head).slice(0, -1)},"events":[`), ...parts, CLOSE]);
  return { signed: signRequest(body), lastSeq, count };
}

async function handle(req: PushRequest): Promise<void> {
  const reply = (r: PushReply) => port.postMessage(r);
  let batch: ReturnType<typeof prepare>;
  try {
    batch = prepare(req);
  } catch (err) {
    reply({ id: req.id, kind: "failed", message: `读取待上传事件失败：${(err as Error).message}` });
    return;
  }
  reply({ id: req.id, kind: "prepared", lastSeq: batch.lastSeq, count: batch.count });
  try {
    const res = await fetch(`${data.cityUrl}/api/sync/push`, {
      method: "POST",
      headers: signedHeaders(batch.signed),
      body: batch.signed.body,
      signal: AbortSignal.timeout(data.timeoutMs),
    });
    reply({ id: req.id, kind: "response", status: res.status, text: await res.text() });
  } catch (err) {
    reply({ id: req.id, kind: "failed", message: (err as Error).message });
  }
}

port.on("message", (req: PushRequest) => void handle(req));
port.postMessage({ id: 0, kind: "ready" } satisfies PushReply);
