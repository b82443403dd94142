// The node tests spawn the same bundle `npm run edge` runs.
import { buildEdge } from "../../scripts/lib/build-edge.js";

export default function setup() {
  buildEdge();
}
