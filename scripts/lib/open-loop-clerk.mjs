/**
 * The window clerk of `npm run bench:sync`, in a worker thread so that its timings do not include
 * the benchmark's main thread relaying the uplink's bytes. Open loop: intake request i is due at
 * start + i × intervalMs whatever became of the ones before, and its latency is counted from that
 * due time, so a request that had to wait behind a slow one (or behind this thread being late)
 * counts its wait: no coordinated omission. Plain JavaScript, loaded by Node's Worker directly.
 *
 * Messages: { cmd: "warm", n } → { warmed } after n requests one after another (not kept);
 * { cmd: "start" } → { started: t0 }; { cmd: "stop" } → { samples } once every request is answered.
 * Times are milliseconds of the monotonic clock the whole machine shares (process.hrtime).
 */
import { parentPort, workerData } from "node:worker_threads";

const { base, body, intervalMs } = workerData;
const now = () => Number(process.hrtime.bigint()) / 1e6;
let running = false;

async function take(due) {
  const sentAt = now();
  let status = 0;
  let serverTiming = NaN;
  try {
    const res = await fetch(base + "/api/cases", { method: "POST", headers: { "content-type": "application/json" }, body });
    await res.arrayBuffer();
    status = res.status;
    serverTiming = Number((/dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "") ?? [])[1]);
  } catch {
    /* status 0: counted as a failure */
  }
  const doneAt = now();
  return { due, lag: sentAt - due, latency: doneAt - due, status, serverTiming };
}

parentPort.on("message", async (m) => {
  if (m.cmd === "warm") {
    for (let i = 0; i < m.n; i++) await take(now());
    parentPort.postMessage({ warmed: true });
  } else if (m.cmd === "start") {
    running = true;
    const samples = [];
    const inflight = new Set();
    const t0 = now();
    parentPort.postMessage({ started: t0 });
    for (let i = 0; running; i++) {
      const due = t0 + i * intervalMs;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!running) break;
      const p = take(due).then((s) => {
        samples.push(s);
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await Promise.all(inflight);
    parentPort.postMessage({ samples });
  } else if (m.cmd === "stop") running = false;
});
