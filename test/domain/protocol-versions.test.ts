/**
 * The sync protocol's versions: every version's wire schemas hash to what the history records, so
 * a change to a message without a new version fails here, saying what to do; and the floors decide
 * which versions each side takes.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { canonicalJson } from "../../domain/events.js";
import {
  CITY_MIN_PROTOCOL_VERSION,
  cityAccepts,
  cityRefusal,
  NODE_MIN_PROTOCOL_VERSION,
  nodeAccepts,
  nodeRefusal,
  PROTOCOL_HISTORY,
  PROTOCOL_VERSION,
} from "../../domain/protocol-versions.js";
import { pulledAccount, STAFF_ROLES } from "../../domain/sync-items.js";
import { SYNC_MESSAGES } from "../../domain/sync-protocol.js";

/**
 * SHA-256 of a version's message schemas as JSON Schema (the wire form: what a parser takes in),
 * keys in canonical order. Refinements (a pattern checked in code) do not show in JSON Schema;
 * every member, type, enum, literal, pattern and bound does.
 */
function schemaHash(messages: Readonly<Record<string, z.ZodType>>): string {
  const described = Object.fromEntries(Object.entries(messages).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: "input", unrepresentable: "any" })]));
  return createHash("sha256").update(canonicalJson(described)).digest("hex");
}

/** What a developer reads when a version's schemas no longer hash to the recorded value, or null. */
function versionHashProblem(version: number, messages: Readonly<Record<string, z.ZodType>>, recorded: string): string | null {
  const actual = schemaHash(messages);
  if (actual === recorded) return null;
  return (
    `The wire schemas of sync protocol version ${version} changed (hash ${actual}, the history records ${recorded}). ` +
    `A node of version ${version} in a township hall still sends and expects the old messages. Do not change a shipped version: ` +
    `add version ${PROTOCOL_VERSION + 1} to PROTOCOL_HISTORY in domain/protocol-versions.ts (saying what changed), give it its ` +
    `schemas in SYNC_MESSAGES, keep the city answering every version from CITY_MIN_PROTOCOL_VERSION, and record the new hash there. ` +
    `Only if version ${version} never left this branch, record ${actual} as its hash instead.`
  );
}

describe("protocol version history", () => {
  it("records the schemas of every version it lists: each hashes to its recorded value", () => {
    for (const entry of PROTOCOL_HISTORY) {
      const messages = SYNC_MESSAGES[entry.version as keyof typeof SYNC_MESSAGES];
      expect(messages, `version ${entry.version} has no schemas in SYNC_MESSAGES`).toBeDefined();
      expect(versionHashProblem(entry.version, messages, entry.schemaHash)).toBeNull();
    }
  });

  it("runs from 1 to the current version, one entry each, and every version changed the wire", () => {
    expect(PROTOCOL_HISTORY.map((e) => e.version)).toEqual([1, 2]);
    expect(PROTOCOL_VERSION).toBe(2);
    expect(Object.keys(SYNC_MESSAGES).map(Number)).toEqual([1, 2]);
    const hashes = PROTOCOL_HISTORY.map((e) => e.schemaHash);
    expect(new Set(hashes).size).toBe(hashes.length);
    for (const e of PROTOCOL_HISTORY) expect(e.changes.length).toBeGreaterThan(10);
  });

  it("fails, telling the developer to add a version, when a message gains a member without one", () => {
    const current = SYNC_MESSAGES[PROTOCOL_VERSION];
    const recorded = PROTOCOL_HISTORY.at(-1)!.schemaHash;
    const widened = { ...current, pullResponse: current.pullResponse.extend({ note: z.string() }) };
    const problem = versionHashProblem(PROTOCOL_VERSION, widened, recorded);
    expect(problem).toContain(`The wire schemas of sync protocol version ${PROTOCOL_VERSION} changed`);
    expect(problem).toContain(`add version ${PROTOCOL_VERSION + 1} to PROTOCOL_HISTORY in domain/protocol-versions.ts`);
  });

  it("fails when an item deep inside a message changes: an account role more, or a field made optional", () => {
    const current = SYNC_MESSAGES[PROTOCOL_VERSION];
    const recorded = PROTOCOL_HISTORY.at(-1)!.schemaHash;
    const moreRoles = current.pullResponse.extend({ accounts: z.array(pulledAccount.extend({ role: z.enum([...STAFF_ROLES, "auditor"]) })) });
    expect(versionHashProblem(PROTOCOL_VERSION, { ...current, pullResponse: moreRoles }, recorded)).toMatch(/^The wire schemas of sync protocol version 2 changed/);
    const optionalCursor = current.pullPayload.extend({ cursor: z.number().int().nonnegative().nullable().optional() });
    expect(versionHashProblem(PROTOCOL_VERSION, { ...current, pullPayload: optionalCursor }, recorded)).toMatch(/^The wire schemas of sync protocol version 2 changed/);
    // Unchanged, the same schemas pass.
    expect(versionHashProblem(PROTOCOL_VERSION, { ...current }, recorded)).toBeNull();
  });
});

describe("protocol floors", () => {
  it("the city takes every version from its floor to the current one, and nothing else", () => {
    expect(CITY_MIN_PROTOCOL_VERSION).toBe(1);
    expect([0, 1, 2, 3, 1.5, "2", null, undefined].map(cityAccepts)).toEqual([false, true, true, false, false, false, false, false]);
  });

  it("a node applies pull answers from its floor on: a version 1 answer carries no accounts", () => {
    expect(NODE_MIN_PROTOCOL_VERSION).toBe(2);
    expect([0, 1, 2, 3, "2", undefined].map(nodeAccepts)).toEqual([false, false, true, false, false, false]);
  });

  it("says in Chinese which versions are supported, and which side to upgrade", () => {
    expect(cityRefusal(0)).toBe("同步协议版本 0 不受支持：市级支持版本 1–2（当前版本 2），请将节点升级到受支持的版本");
    expect(cityRefusal(3)).toBe("同步协议版本 3 不受支持：市级支持版本 1–2（当前版本 2），请先升级市级系统");
    expect(cityRefusal(undefined)).toBe("同步协议版本 （未标明） 不受支持：市级支持版本 1–2（当前版本 2），请将节点升级到受支持的版本");
    expect(cityRefusal("2")).toBe('同步协议版本 "2" 不受支持：市级支持版本 1–2（当前版本 2），请将节点升级到受支持的版本');
    expect(nodeRefusal(1)).toBe("市级的拉取响应使用同步协议版本 1，本节点只接受版本 2：未写入任何内容，请升级市级系统");
    expect(nodeRefusal(3)).toBe("市级的拉取响应使用同步协议版本 3，本节点只接受版本 2：未写入任何内容，请联系管理员检查市级系统");
    expect(nodeRefusal(undefined)).toBe("市级的拉取响应使用同步协议版本 （未标明），本节点只接受版本 2：未写入任何内容，请联系管理员检查市级系统");
  });
});
