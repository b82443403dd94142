/**
 * A township uplink that can be cut and restored, like `TcpLink`, which also notes when each HTTP
 * exchange crosses it. The benchmark needs to know when the node itself notices the link and
 * when its pulls come back, without asking the node (which would load the process measured), so
 * it watches the bytes go by. The bytes are forwarded untouched: the observer only finds message
 * boundaries (HTTP/1.1 heads, Content-Length and chunked bodies) and, if a stream is anything
 * else, stops observing that connection rather than disturb it.
 */
import { createConnection, createServer } from "node:net";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { SwitchableServer } from "./tcp-link.js";

/** Milliseconds on the monotonic clock every thread and process of this machine shares. */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Exchange {
  /** Which TCP connection through the link it used. */
  conn: number;
  method: string;
  path: string;
  /** The request's first bytes reached the link. */
  requestAt: number;
  /** Body bytes, heads not counted. */
  requestBytes: number;
  status?: number;
  /** The response's head reached the link. */
  responseAt?: number;
  /** The response's last byte went on to the node. */
  doneAt?: number;
  /** Body bytes, heads not counted. */
  responseBytes: number;
  /** The response body as text, for the exchanges `ObservedLink.keepBody` picks (at most 64 kB). */
  body?: string;
}

type Head = { startLine: string; headers: Map<string, string> };
type Framing = "none" | "chunked" | "close" | number;

/**
 * Message boundaries in one direction of an HTTP/1.1 stream. `onHead` says how the body that
 * follows is framed; `onEnd` fires when its last byte has passed.
 */
class MessageScanner {
  private state: "head" | "body" | "size" | "data" | "data-crlf" | "trailer" | "close" | "broken" = "head";
  private head: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private line = "";
  bytes = 0;

  constructor(
    private readonly onHead: (head: Head) => Framing,
    private readonly onEnd: () => void,
    private readonly onBody: (bytes: Buffer) => void = () => {},
  ) {}

  get broken(): boolean {
    return this.state === "broken";
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && this.state !== "broken" && this.state !== "close") {
      switch (this.state) {
        case "head": {
          const before = this.head.length;
          this.head = before ? Buffer.concat([this.head, chunk.subarray(i)]) : chunk.subarray(i);
          const end = this.head.indexOf("\r\n\r\n");
          if (end < 0) {
            if (this.head.length > 64 * 1024) this.state = "broken";
            else this.head = Buffer.from(this.head); // keep a copy, not a view of a reused chunk
            i = chunk.length;
            break;
          }
          i += end + 4 - before;
          const [startLine = "", ...rest] = this.head.subarray(0, end).toString("latin1").split("\r\n");
          this.head = Buffer.alloc(0);
          const headers = new Map<string, string>();
          for (const l of rest) {
            const c = l.indexOf(":");
            if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
          }
          if (!/^(HTTP\/1\.[01] \d{3}|[A-Z]+ \S+ HTTP\/1\.[01])/.test(startLine)) {
            this.state = "broken";
            break;
          }
          this.begin(this.onHead({ startLine, headers }));
          break;
        }
        case "body": {
          const n = Math.min(this.remaining, chunk.length - i);
          this.remaining -= n;
          this.onBody(chunk.subarray(i, i + n));
          i += n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case "data": {
          const n = Math.min(this.remaining, chunk.length - i);
          this.remaining -= n;
          this.onBody(chunk.subarray(i, i + n));
          i += n;
          if (this.remaining === 0) this.state = "data-crlf";
          break;
        }
        default: {
          // "size", "data-crlf" and "trailer" read short CRLF-terminated lines.
          const b = chunk[i++]!;
          if (b !== 0x0a) {
            if (b !== 0x0d) this.line += String.fromCharCode(b);
            if (this.line.length > 4096) this.state = "broken";
            break;
          }
          const line = this.line;
          this.line = "";
          if (this.state === "data-crlf") this.state = "size";
          else if (this.state === "size") {
            const size = Number.parseInt(line.split(";")[0]!.trim(), 16);
            if (!Number.isFinite(size)) this.state = "broken";
            else if (size === 0) this.state = "trailer";
            else {
              this.remaining = size;
              this.state = "data";
            }
          } else if (line === "") this.finish(); // the empty line closing the trailer
        }
      }
    }
    this.bytes += chunk.length;
  }

  /** The connection closed: a body framed by the close ends here. */
  close(): void {
    if (this.state === "close") this.finish();
  }

  private begin(framing: Framing): void {
    if (framing === "none" || framing === 0) this.finish();
    else if (framing === "chunked") this.state = "size";
    else if (framing === "close") this.state = "close";
    else {
      this.remaining = framing;
      this.state = "body";
    }
  }

  private finish(): void {
    this.state = "head";
    this.onEnd();
  }
}

/** How a message's body is framed; undefined when its head says neither length nor chunked. */
function framingOf(headers: Map<string, string>, bodyless: boolean): Framing | undefined {
  if (bodyless) return "none";
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) return "chunked";
  const length = headers.get("content-length");
  return length === undefined ? undefined : Number(length);
}

/** A kept body as text; the city compresses what the node's fetch accepts compressed. */
function decoded(body: Buffer, encoding: string): string {
  try {
    if (encoding === "gzip") return gunzipSync(body).toString("utf8");
    if (encoding === "br") return brotliDecompressSync(body).toString("utf8");
    if (encoding === "deflate") return inflateSync(body).toString("utf8");
  } catch {
    return "";
  }
  return body.toString("utf8");
}

/** A plain TCP forwarder to a local port that records every HTTP exchange crossing it. */
export class ObservedLink extends SwitchableServer {
  readonly exchanges: Exchange[] = [];
  /** Called as an exchange's request arrives, its response head arrives, and its response ends. */
  onEvent: (what: "request" | "response" | "done", ex: Exchange) => void = () => {};
  /** Which exchanges' response bodies to keep (small JSON answers the benchmark reads). */
  keepBody: (ex: Exchange) => boolean = () => false;
  private connections = 0;

  constructor(port: number, targetPort: number) {
    super(port, () =>
      createServer((client) => {
        const conn = ++this.connections;
        const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
        for (const s of [client, upstream]) {
          s.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        // Requests on one connection are answered in order (undici does not pipeline by default,
        // and HTTP/1.1 answers in order anyway).
        const waiting: Exchange[] = [];
        let current: Exchange | undefined;
        let answering: Exchange | undefined;
        const requests = new MessageScanner(
          ({ startLine, headers }) => {
            const [method = "?", path = "?"] = startLine.split(" ");
            current = { conn, method, path, requestAt: monoMs(), requestBytes: 0, responseBytes: 0 };
            this.exchanges.push(current);
            waiting.push(current);
            this.onEvent("request", current);
            // A request with neither header has no body.
            return framingOf(headers, false) ?? "none";
          },
          () => undefined,
          (bytes) => current && (current.requestBytes += bytes.length),
        );
        let kept: Buffer[] = [];
        let encoding = "";
        const responses = new MessageScanner(
          ({ startLine, headers }) => {
            const status = Number(startLine.split(" ")[1]);
            // An interim 1xx answer leaves the exchange waiting for its real one.
            answering = status >= 200 ? waiting.shift() : waiting[0];
            kept = [];
            encoding = (headers.get("content-encoding") ?? "").toLowerCase();
            if (answering) {
              answering.status = status;
              answering.responseAt ??= monoMs();
              this.onEvent("response", answering);
            }
            const bodyless = status < 200 || status === 204 || status === 304 || answering?.method === "HEAD";
            return framingOf(headers, bodyless) ?? "close";
          },
          () => {
            if (answering && (answering.status ?? 0) >= 200) {
              answering.doneAt = monoMs();
              if (kept.length) answering.body = decoded(Buffer.concat(kept), encoding);
              this.onEvent("done", answering);
            }
          },
          (bytes) => {
            if (!answering) return;
            answering.responseBytes += bytes.length;
            if (answering.responseBytes <= 64 * 1024 && this.keepBody(answering)) kept.push(Buffer.from(bytes));
          },
        );
        client.pipe(upstream).pipe(client);
        // Listeners added after pipe()'s run after it: the bytes are passed on before they are looked at.
        client.on("data", (d: Buffer) => !requests.broken && requests.push(d));
        upstream.on("data", (d: Buffer) => !responses.broken && responses.push(d));
        upstream.on("close", () => responses.close());
      }),
    );
  }
}
