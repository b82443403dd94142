/** The main thread's handle on the push worker (`push-worker.ts`): one request per batch, replies by id. */
import { Worker } from "node:worker_threads";
import type { JWK } from "jose";

export interface PushWorkerData {
  dbPath: string;
  code: string;
  cityUrl: string;
  privateJwk: JWK;
  timeoutMs: number;
  /** Linux nice value for the push thread (0 = the window's own priority). */
  niceness: number;
  protocolVersion: number;
  /** MAX_PUSH_BYTES: the events of one batch stay under it. */
  maxBytes: number;
}

export interface PushRequest {
  id: number;
  afterSeq: number;
  headSeq: number;
  maxEvents: number;
  sentAt: string;
}

export type PushReply =
  | { id: number; kind: "ready" }
  | { id: number; kind: "prepared"; lastSeq: number; count: number }
  | { id: number; kind: "response"; status: number; text: string }
  | { id: number; kind: "failed"; message: string };

/** A batch the worker has read and signed, and the city's answer to it once it comes. */
export interface SentBatch {
  lastSeq: number;
  count: number;
  /** The city's HTTP status and body text; rejects when the request failed on the way. */
  response: Promise<{ status: number; text: string }>;
}

interface Pending {
  /** The worker the request went to: only its death fails the request. */
  worker: Worker;
  prepared: (v: { lastSeq: number; count: number }) => void;
  response: (v: { status: number; text: string }) => void;
  fail: (e: Error) => void;
}

/** Starts and talks to the push worker; a worker that dies fails what it held and is started afresh. */
export class PushThread {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly script: URL,
    private readonly data: PushWorkerData,
    private readonly log: (msg: string) => void = () => {},
    private readonly resourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 },
  ) {}

  /** Asks the worker to read, sign and send the batch after `afterSeq`; resolves once it is signed. */
  async send(req: Omit<PushRequest, "id">): Promise<SentBatch> {
    if (this.closed) throw new Error("上传线程已关闭");
    await this.start();
    const worker = this.worker;
    if (!worker) throw new Error("上传线程已停止");
    const id = this.nextId++;
    let response!: SentBatch["response"];
    const prepared = new Promise<{ lastSeq: number; count: number }>((resolvePrepared, rejectPrepared) => {
      response = new Promise((resolveResponse, rejectResponse) => {
        this.pending.set(id, {
          worker,
          prepared: resolvePrepared,
          response: resolveResponse,
          fail: (e) => {
            rejectPrepared(e);
            rejectResponse(e);
          },
        });
      });
    });
    response.catch(() => {}); // observed by the caller when its turn comes
    worker.postMessage({ ...req, id } satisfies PushRequest);
    return { ...(await prepared), response };
  }

  /** Stops the worker for good. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    await w?.terminate();
  }

  private start(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const w = new Worker(this.script, { workerData: this.data, resourceLimits: this.resourceLimits });
      w.unref();
      this.worker = w;
      w.on("message", (m: PushReply) => {
        if (m.kind === "ready") return resolve();
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.kind === "prepared") return p.prepared({ lastSeq: m.lastSeq, count: m.count });
        this.pending.delete(m.id);
        if (m.kind === "response") p.response({ status: m.status, text: m.text });
        else p.fail(new Error(m.message));
      });
      const died = (err: Error) => {
        if (this.worker === w) {
          this.log(`上传线程停止：${err.message}`);
          this.worker = null;
          this.ready = null;
        }
        reject(err);
        for (const [id, p] of this.pending) {
          if (p.worker !== w) continue;
          this.pending.delete(id);
          p.fail(err);
        }
      };
      w.on("error", died);
      w.on("exit", (code) => died(new Error(`上传线程已退出（${code}）`)));
    });
    return this.ready;
  }
}
