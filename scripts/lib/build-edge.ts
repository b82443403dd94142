/** Builds the node into `dist/edge-node.mjs` (what `npm run edge` runs), so tests and benchmarks run what a hall runs. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./root.js";

export const EDGE_BUNDLE = join(ROOT, "dist/edge-node.mjs");

/**
 * The V8 limits `npm run edge` starts a node with (keep in step with package.json): a township PC
 * holds a node under 150 MB through a month-long catch-up, at a few percent of throughput.
 */
export const EDGE_NODE_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=128"];

/** Runs `npm run build:edge`'s esbuild command; throws on failure. */
export function buildEdge(): string {
  const r = spawnSync(
    join(ROOT, "node_modules/.bin/esbuild"),
    ["edge-node=edge-node/main.ts", "push-worker=edge-node/push-worker.ts", "--bundle", "--platform=node", "--format=esm", "--target=node20", "--packages=external", "--sourcemap", "--outdir=dist", "--out-extension:.js=.mjs", "--log-level=warning"],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`building the edge node failed:\n${r.stdout}\n${r.stderr}`);
  return EDGE_BUNDLE;
}
