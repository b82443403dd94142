/** The node's HTTP server as `npm run edge` starts it: its host names come from its options. */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnNode, type NodeProcess } from "./harness.js";
import { rawRequest, refusedPort } from "./helpers.js";

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
    args: ["--allowed-hosts", `hall-pc.lan,tongban.lan:${port}`],
  });
});
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
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
