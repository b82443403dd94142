/**
 * The node's background replication loop (DESIGN.md invariant 2): push unacknowledged events in
 * signed, size-capped batches, then pull what the city has for this node. It runs on an interval,
 * on demand and as soon as a probe sees the link come back; while the city is unreachable it
 * backs off exponentially with jitter. Intake never waits for it.
 */
import type { JWK } from "jose";
import { MAX_CLOCK_SKEW_MS, MAX_PUSH_BYTES, MAX_PUSH_EVENTS, PROTOCOL_VERSION, pushResponseSchema, type PullPayload, type PushResponse } from "../domain/sync-protocol.js";
import type { Db } from "../store/db.js";
import { accountsComplete, applyPull, conflictCount, eventHashAt, pulledFlagCount, replicaState, storeAck } from "../store/replica.js";
import { guardPull } from "../store/pull-guard.js";
import { signedHeaders, syncSigner, type SignedRequest } from "./jws.js";
import { PushThread, type SentBatch } from "./push-thread.js";

export interface SyncAgentOptions {
  db: Db;
  code: string;
  cityUrl: string;
  /** The node's private key (it stays in this process: the push thread gets it by memory, not by wire). */
  privateJwk: JWK;
  /** The node's libSQL file, opened a second time by the push thread. */
  dbPath: string;
  /** The built push worker (`dist/push-worker.mjs`). */
  pushWorker: URL;
  /** Linux nice value of the push thread; the window keeps the normal priority. */
  pushNiceness?: number;
  /** Called after a pull changed the catalog or the calendar (the app's cache must forget them). */
  onReferenceChanged?: () => void;
  now?: () => Date;
  /** Pause between rounds while online. */
  intervalMs?: number;
  /** How often to probe the city while offline. */
  probeMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per-request time limit. */
  timeoutMs?: number;
  maxBatchEvents?: number;
  log?: (msg: string) => void;
}

export interface SyncStatus {
  online: boolean;
  pendingEvents: number;
  ackedSeq: number;
  headSeq: number;
  lastPushAt: string | null;
  lastPullAt: string | null;
  lastError: string | null;
  cursor: number | null;
  skewMs: number | null;
  clockWarning: string | null;
  conflicts: number;
  /** Pulled items set aside because they failed the node's checks (`GET /api/sync/flagged`). */
  flaggedItems: number;
  /** The sync protocol version this node speaks. */
  protocolVersion: number;
  nextAttemptAt: string | null;
}

class CityError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The city's answer as JSON, or a CityError with its problem detail. */
function cityReply<T>(status: number, text: string): T {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CityError(`市级返回了无法解析的响应（HTTP ${status}）`, status, {});
  }
  if (status < 200 || status > 299) throw new CityError(String(parsed.detail ?? `HTTP ${status}`), status, parsed);
  return parsed as T;
}

/** The city's answer to a push, checked against the protocol before the node records anything of it. */
function pushAnswer(raw: unknown): PushResponse {
  const r = pushResponseSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`市级的推送响应不符合同步协议（版本 ${PROTOCOL_VERSION}）：${i?.path.map(String).join(".") || "响应"} ${i?.message ?? ""}`.trim());
  }
  return r.data;
}

/** Runs push/pull rounds against the city. */
export class SyncAgent {
  private readonly o: Required<Omit<SyncAgentOptions, "log">> & { log: (m: string) => void };
  private online = false;
  private lastPushAt: string | null = null;
  private lastPullAt: string | null = null;
  private lastError: string | null = null;
  private skewMs: number | null = null;
  private failures = 0;
  /** Events are waiting that the last round did not push (taken while it ran). */
  private more = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private nextAttemptAt: Date | null = null;
  private current: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private stopped = true;
  private closed = false;
  private readonly signRequest: (json: string) => SignedRequest;
  private readonly pusher: PushThread;

  constructor(opts: SyncAgentOptions) {
    this.o = {
      now: () => new Date(),
      pushNiceness: 10,
      onReferenceChanged: () => {},
      intervalMs: 10_000,
      probeMs: 3_000,
      baseBackoffMs: 1_000,
      maxBackoffMs: 5 * 60_000,
      timeoutMs: 30_000,
      maxBatchEvents: MAX_PUSH_EVENTS,
      log: () => {},
      ...opts,
    };
    this.signRequest = syncSigner(this.o.privateJwk, this.o.code);
    this.pusher = new PushThread(this.o.pushWorker, {
      dbPath: this.o.dbPath,
      code: this.o.code,
      cityUrl: this.o.cityUrl,
      privateJwk: this.o.privateJwk,
      timeoutMs: this.o.timeoutMs,
      niceness: this.o.pushNiceness,
      protocolVersion: PROTOCOL_VERSION,
      maxBytes: MAX_PUSH_BYTES,
    }, this.o.log);
  }

  /** Starts the loop (first round at once). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the loop; a round in flight finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.timer = this.probeTimer = null;
    await this.current?.catch(() => {});
    await this.pusher.close();
  }

  /** Runs a round now (coalescing with one in flight) and reschedules the loop after it. */
  async syncNow(): Promise<SyncStatus> {
    await this.round();
    return this.status();
  }

  /** The replication state for the console and `GET /api/sync/status`. */
  async status(): Promise<SyncStatus> {
    const [st, conflicts, flaggedItems] = await Promise.all([replicaState(this.o.db, this.o.code), conflictCount(this.o.db), pulledFlagCount(this.o.db)]);
    const skewed = this.skewMs !== null && Math.abs(this.skewMs) > MAX_CLOCK_SKEW_MS;
    return {
      online: this.online,
      pendingEvents: st.headSeq - st.ackedSeq,
      ackedSeq: st.ackedSeq,
      headSeq: st.headSeq,
      lastPushAt: this.lastPushAt,
      lastPullAt: this.lastPullAt,
      lastError: this.lastError,
      cursor: st.cursor,
      skewMs: this.skewMs,
      clockWarning: skewed
        ? `本机时钟比市级${this.skewMs! > 0 ? "快" : "慢"} ${Math.round(Math.abs(this.skewMs!) / 60_000)} 分钟，受理时间和期限可能不准，请立即校准系统时间`
        : null,
      conflicts,
      flaggedItems,
      protocolVersion: PROTOCOL_VERSION,
      nextAttemptAt: this.nextAttemptAt?.toISOString() ?? null,
    };
  }

  private round(): Promise<void> {
    // A probe or a queued request can come due after stop(): it finds the loop closed.
    if (this.closed) return Promise.resolve();
    if (!this.current) {
      this.current = this.runRound().finally(() => {
        this.current = null;
        this.reschedule();
      });
      return this.current;
    }
    this.queued ??= this.current.then(() => {
      this.queued = null;
      return this.round();
    });
    return this.queued;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAttemptAt = new Date(Date.now() + ms);
    this.timer = setTimeout(() => void this.round(), ms);
    this.timer.unref?.();
  }

  private reschedule(): void {
    if (this.stopped || this.queued) return;
    if (this.online) {
      if (this.probeTimer) clearInterval(this.probeTimer);
      this.probeTimer = null;
      // Cases taken during the round go up soon — but not in a busy loop of rounds beside the window.
      this.schedule(this.more ? Math.min(this.o.intervalMs, 1_000) : this.o.intervalMs);
      return;
    }
    const backoff = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** Math.min(this.failures - 1, 20)) * (0.5 + Math.random());
    this.schedule(backoff);
    // A cheap probe notices the link coming back long before a long backoff ends.
    this.probeTimer ??= setInterval(() => void this.probe(), this.o.probeMs);
    this.probeTimer.unref?.();
  }

  private async probe(): Promise<void> {
    if (this.online || this.current || this.stopped) return;
    try {
      const res = await fetch(`${this.o.cityUrl}/healthz`, { signal: AbortSignal.timeout(Math.min(this.o.timeoutMs, 5_000)) });
      if (res.ok) {
        this.o.log("与市级的连接已恢复，立即同步");
        await this.round();
      }
    } catch {
      /* still offline */
    }
  }

  private async runRound(): Promise<void> {
    try {
      await this.push();
      await this.pull();
      if (!this.online) this.o.log("已连接市级");
      this.online = true;
      // Cases taken during the round go up in the next one, soon.
      const after = await replicaState(this.o.db, this.o.code);
      this.more = after.headSeq > after.ackedSeq;
      this.failures = 0;
      this.lastError = null;
    } catch (err) {
      this.online = false;
      this.failures++;
      this.lastError = (err as Error).message;
      // A city that refused us for our clock says by how much it is off: the console shows it.
      if (err instanceof CityError && typeof err.body.skewMs === "number") this.skewMs = err.body.skewMs;
      if (this.failures === 1) this.o.log(`同步失败，转入离线模式：${this.lastError}`);
    }
  }

  /** Signs and sends a small request (pull) from this thread. */
  private async send<T>(path: string, payload: PullPayload): Promise<T> {
    const signed = this.signRequest(JSON.stringify(payload));
    const res = await fetch(`${this.o.cityUrl}${path}`, {
      method: "POST",
      headers: signedHeaders(signed),
      body: signed.body,
      signal: AbortSignal.timeout(this.o.timeoutMs),
    });
    return cityReply<T>(res.status, await res.text());
  }

  /**
   * Pushes until the city has acknowledged everything (or says why not); with nothing pending the
   * push is a heartbeat. The push thread reads, signs and sends; this thread checks and stores
   * the acknowledgements. Two batches are in flight while there is a backlog: the city verifies
   * the next while it writes the current one, and queues them per node.
   */
  private async push(): Promise<void> {
    const { db, code } = this.o;
    type Flight = Omit<SentBatch, "response"> & { res: Promise<PushResponse> };
    const inflight: Flight[] = [];
    let st = await replicaState(db, code);
    let from = st.ackedSeq;
    // A round pushes what was there when it began: cases the window takes meanwhile wait for the
    // next round, so a busy window cannot keep the pull (the city's decisions) from ever coming.
    const target = st.headSeq;
    // A backlog of at least a full batch (the link was down) is announced once it is all in.
    let backlog = st.headSeq - st.ackedSeq >= this.o.maxBatchEvents ? { from: st.ackedSeq, to: st.headSeq, at: performance.now() } : null;
    const launch = async () => {
      const batch = await this.pusher.send({ afterSeq: from, headSeq: st.headSeq, maxEvents: this.o.maxBatchEvents, sentAt: this.o.now().toISOString() });
      from = batch.lastSeq;
      const res = batch.response.then((r) => pushAnswer(cityReply<unknown>(r.status, r.text)));
      res.catch(() => {}); // observed when its turn comes
      inflight.push({ lastSeq: batch.lastSeq, count: batch.count, res });
    };
    const drain = async () => {
      for (const f of inflight.splice(0)) await f.res.catch(() => {});
    };
    await launch();
    for (let guard = 0; inflight.length > 0 && guard < 100_000; guard++) {
      if (inflight.length < 2 && inflight.at(-1)!.count > 0 && from < target) await launch();
      const flight = inflight.shift()!;
      let res: PushResponse;
      try {
        res = await flight.res;
      } catch (err) {
        await drain();
        if (err instanceof CityError && err.body.code === "sync_gap") {
          // The city holds less than we thought (restored from a backup): go back to its mark.
          const mark = Number(err.body.ackedSeq);
          if (mark < (await replicaState(db, code)).ackedSeq) await storeAck(db, mark, String(err.body.chainHead), this.o.now());
          st = await replicaState(db, code);
          from = st.ackedSeq;
          await launch();
          continue;
        }
        throw err;
      }
      this.skewMs = res.skewMs;
      const local = await eventHashAt(db, code, res.ackedSeq);
      if (local !== res.chainHead) throw new Error(`市级链头与本地不一致（序号 ${res.ackedSeq}），已停止上传，请联系管理员对账`);
      const before = await replicaState(db, code);
      if (res.ackedSeq > before.ackedSeq) await storeAck(db, res.ackedSeq, res.chainHead, this.o.now());
      if (backlog && res.ackedSeq >= backlog.to) {
        this.o.log(`积压已全部上传：市级已确认至序号 ${res.ackedSeq}（${backlog.to - backlog.from} 个事件，${Math.round(performance.now() - backlog.at)} ms）`);
        backlog = null;
      }
      if (flight.count) this.lastPushAt = this.o.now().toISOString();
      if (res.divergence) throw new Error(`市级在序号 ${res.divergence.seq} 持有不同的事件（分叉），已停止上传，请联系管理员对账`);
      if (flight.count > 0 && res.ackedSeq < flight.lastSeq) {
        if (res.ackedSeq <= before.ackedSeq) throw new Error(`市级未确认任何新事件（停在 ${res.ackedSeq}）`);
        // The city took part of it: resend the rest from its mark.
        await drain();
        from = res.ackedSeq;
      }
      st = await replicaState(db, code);
      if (inflight.length === 0 && flight.count > 0 && st.ackedSeq < target) {
        from = Math.max(from, st.ackedSeq);
        await launch();
      }
    }
  }

  /**
   * Pulls until the city has nothing more after the cursor. Each answer is checked before anything
   * of it is written: a bad answer is refused whole (the round fails, saying why, and the next one
   * asks again); a bad item in a good answer is set aside and flagged, and the rest applies.
   */
  private async pull(): Promise<void> {
    const { db, code } = this.o;
    for (let guard = 0; guard < 100_000; guard++) {
      const st = await replicaState(db, code);
      // A node that never received its hall's accounts (new, or upgraded from version 1) asks for all of them.
      const askAccounts = !(await accountsComplete(db));
      const raw = await this.send<unknown>("/api/sync/pull", {
        v: PROTOCOL_VERSION,
        kind: "pull",
        node: code,
        batchId: crypto.randomUUID(),
        sentAt: this.o.now().toISOString(),
        cursor: st.cursor,
        ...(askAccounts ? { accountsSnapshot: true } : {}),
      });
      const checked = await guardPull(db, code, raw, st.cursor);
      if (checked.kind === "rejected") throw new Error(checked.reason);
      const applied = await applyPull(db, code, checked.pull, this.o.now(), { accountsComplete: askAccounts });
      if (applied.items || applied.calendar) this.o.onReferenceChanged();
      if (applied.flagged) this.o.log(`拉取的内容中有 ${applied.flagged} 项未通过校验，已单独标记，其余已应用（见 GET /api/sync/flagged）`);
      this.lastPullAt = this.o.now().toISOString();
      if (!checked.pull.response.hasMore) return;
    }
  }
}
