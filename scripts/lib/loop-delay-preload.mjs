/**
 * Loaded into a measured node with `node --import <this file>` by `npm run bench:sync`; the node's
 * own code is not changed. It samples the main thread's event-loop delay with
 * `perf_hooks.monitorEventLoopDelay` and, each time the benchmark sends `{ benchMark: label }`
 * over the IPC channel, answers `{ benchLoopDelay: stats }` for the window just closed and starts
 * the next one. Plain JavaScript, since the node runs without a TypeScript loader.
 *
 * Node records the interval between two ticks of a `resolution`-ms timer, so an idle loop reads
 * about `resolution`; the delay reported here is that interval less the resolution (never below 0).
 * A loop blocked for 50 ms yields one sample of about 50 ms, not fifty: the percentiles are of
 * ticks, and the maximum is the longest stall.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";

// Worker threads (the node's push thread) load preloads too; only the window's thread is measured.
if (isMainThread && typeof process.send === "function") {
  const resolution = Number(process.env.TONGBAN_BENCH_LOOP_RESOLUTION_MS || 1);
  const histogram = monitorEventLoopDelay({ resolution });
  histogram.enable();
  let label = "start";
  let since = Number(process.hrtime.bigint()) / 1e6;
  const ms = (ns) => Math.max(0, ns / 1e6 - resolution);
  process.on("message", (m) => {
    if (!m || typeof m !== "object" || typeof m.benchMark !== "string") return;
    const at = Number(process.hrtime.bigint()) / 1e6;
    const n = histogram.count;
    const stats = {
      label,
      from: since,
      to: at,
      resolution,
      count: n,
      p50: n ? ms(histogram.percentile(50)) : NaN,
      p90: n ? ms(histogram.percentile(90)) : NaN,
      p99: n ? ms(histogram.percentile(99)) : NaN,
      max: n ? ms(histogram.max) : NaN,
    };
    histogram.reset();
    label = m.benchMark;
    since = at;
    process.send({ benchLoopDelay: stats });
  });
  // The channel must not keep a node alive that would otherwise exit.
  process.channel?.unref();
}
