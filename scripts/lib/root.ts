/** The repository root, wherever a script is started from. */
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
