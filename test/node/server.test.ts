/** The node's HTTP server as `npm run edge` starts it: slow clients are cut off, and its host names come from its options. */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { spawnNode, type NodeProcess } from "./harness.js";
import { ID, rawRequest, refusedPort } from "./helpers.js";

const HEADERS_TIMEOUT = 500;
const REQUEST_TIMEOUT = 1000;
const KEEP_ALIVE_TIMEOUT = 1000;
// Node keeps an idle socket one second longer than the Keep-Alive header it advertises.
const KEEP_ALIVE_BUFFER = 1000;
// Node checks its deadlines every connectionsCheckingInterval (main.ts: a quarter of the header timeout).
const SLACK = 600;

let node: NodeProcess;
let dir: string;
let port: number;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tongban-server-"));
  port = await refusedPort();
  node = await spawnNode({
    dir,
    code: "SRV01",
    port,
    city: `http://127.0.0.1:${await refusedPort()}`,
    args: [
      "--headers-timeout", String(HEADERS_TIMEOUT),
      "--request-timeout", String(REQUEST_TIMEOUT),
      "--keep-alive-timeout", String(KEEP_ALIVE_TIMEOUT),
      "--allowed-hosts", `hall-pc.lan,tongban.lan:${port}`,
    ],
  });
});
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a raw connection and resolves when the server ends it, with everything the server sent and when. */
function rawConnection(): Promise<{ socket: Socket; closed: Promise<{ afterMs: number; received: string }> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("error", reject);
    socket.once("connect", () => {
      const t0 = performance.now();
      let received = "";
      socket.on("data", (d) => (received += d.toString("latin1")));
      const closed = new Promise<{ afterMs: number; received: string }>((done) => {
        socket.once("close", () => done({ afterMs: performance.now() - t0, received }));
        socket.on("error", () => {});
      });
      resolve({ socket, closed });
    });
  });
}

/** Writes one byte of `text` every `everyMs` until the socket closes; returns a stop function. */
function trickle(socket: Socket, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

describe("slow clients are cut off", () => {
  it("a body trickled at one byte a second: the connection ends (408) within the request timeout", async () => {
    const body = JSON.stringify({ itemCode: "x".repeat(31), applicant: {}, materials: [] });
    const { socket, closed } = await rawConnection();
    socket.write(`POST /api/cases HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nCookie: ${node.cookie}\r\nContent-Length: ${body.length}\r\n\r\n`);
    const stop = trickle(socket, body, 1000);
    const { afterMs, received } = await closed;
    stop();
    expect(afterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - 50);
    expect(afterMs).toBeLessThan(REQUEST_TIMEOUT + SLACK);
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  it("headers trickled a byte at a time (slowloris): the connection ends within the header timeout", async () => {
    const { socket, closed } = await rawConnection();
    const stop = trickle(socket, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Padding: ${"a".repeat(100)}\r\n\r\n`, 100);
    const { afterMs, received } = await closed;
    stop();
    expect(afterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
    expect(afterMs).toBeLessThan(HEADERS_TIMEOUT + SLACK);
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  it("an idle keep-alive connection is closed after the keep-alive timeout", async () => {
    const { socket, closed } = await rawConnection();
    socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const { afterMs, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received).toContain("\r\nKeep-Alive: timeout=1\r\n");
    expect(received).toContain('{"ok":true,"node":"SRV01"}');
    expect(afterMs).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT);
    expect(afterMs).toBeLessThan(KEEP_ALIVE_TIMEOUT + KEEP_ALIVE_BUFFER + SLACK);
  });

  it("an ordinary client is served as before", async () => {
    const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
    const created = await node.post("/api/cases", { itemCode: item.code, applicant: { name: "王五", idNumber: ID.wang, phone: "13900001111" }, materials: item.materials.map((m) => m.id) });
    expect(created.status).toBe(201);
    expect(created.body.caseNo).toMatch(/^SRV01-\d{8}-0001$/);
  });
});

describe("host names from the command line", () => {
  it("answers to --allowed-hosts (with or without the port) and the machine's host name, 421 to anything else", async () => {
    for (const host of [`hall-pc.lan:${port}`, "hall-pc.lan", `tongban.lan:${port}`, `${hostname()}:${port}`, `localhost:${port}`]) {
      const res = await rawRequest(node.url, "/healthz", { headers: { host } });
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
    }
    for (const host of [`attacker.example:${port}`, `hall-pc.lan:${port + 1}`]) {
      const res = await rawRequest(node.url, "/healthz", { headers: { host } });
      expect({ host, status: res.status, code: res.body?.code }).toEqual({ host, status: 421, code: "misdirected_request" });
    }
  });
});
