export * from "./tables.js";
export * from "./types.js";
