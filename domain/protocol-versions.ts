/**
 * Versions of the township ⇄ city sync protocol: a history of what each version changed, the
 * version this code speaks, and the oldest version each side still accepts (modelled on rocicorp's
 * zero-protocol). The rules that keep a hall syncing while the city and the nodes are upgraded at
 * different times:
 *
 * 1. Any change to a message (push, push answer, pull, pull answer, the event on the wire) adds a
 *    version here. The schemas of every version are hashed and the hash is recorded below; a test
 *    recomputes them, so changing a wire schema without a new version fails.
 * 2. The city speaks every version from CITY_MIN_PROTOCOL_VERSION to PROTOCOL_VERSION: it parses a
 *    node's message with the schema of the version the node states and answers in that version's
 *    format. So the city is upgraded first, and a node one version behind keeps syncing.
 * 3. Raising CITY_MIN_PROTOCOL_VERSION cuts off every node still below it (400
 *    `unsupported_protocol`, saying which versions are supported): do it only once reconciliation
 *    shows no node below the new floor.
 * 4. A node sends PROTOCOL_VERSION and applies a pull answer only at NODE_MIN_PROTOCOL_VERSION or
 *    above: an older answer lacks something the node relies on (from version 2, the hall's
 *    accounts), and applying it would move the node's cursor past changes it never received.
 */

export interface ProtocolVersionEntry {
  version: number;
  /** What changed on the wire, for an operator deciding whether to upgrade a node. */
  changes: string;
  /** SHA-256 (hex) of the version's message schemas as JSON Schema, recomputed by a test. */
  schemaHash: string;
}

/** Every version ever spoken, oldest first. */
export const PROTOCOL_HISTORY: readonly ProtocolVersionEntry[] = [
  {
    version: 1,
    changes: "签名的推送（事件、心跳）与拉取（事项目录、工作日历、本节点办件的事件、冲突标记、授权、撤销）",
    schemaHash: "da071fe2bc81f8eddb91eca2b2857fbd37ab276f6bb88777eaa5dff00f53194e",
  },
  {
    version: 2,
    changes: "拉取响应携带本大厅的工作人员账号（accounts）和已调离的账号（departedAccounts）；拉取可要求账号全量（accountsSnapshot）",
    schemaHash: "54b887bef576aae2d9adc248ebca215faaafea2e6a4c810645e7806c097bb438",
  },
];

/** The versions this code knows. */
export type ProtocolVersion = 1 | 2;

/** The version a node sends and the newest the city answers in. */
export const PROTOCOL_VERSION = 2 as const satisfies ProtocolVersion;

/** The oldest version whose pushes and pulls the city still takes (see rule 3 above). */
export const CITY_MIN_PROTOCOL_VERSION = 1 as const satisfies ProtocolVersion;

/** The oldest pull answer a node applies: version 1 answers carry no accounts (rule 4). */
export const NODE_MIN_PROTOCOL_VERSION = 2 as const satisfies ProtocolVersion;

if (
  PROTOCOL_HISTORY.at(-1)?.version !== PROTOCOL_VERSION ||
  PROTOCOL_HISTORY.some((e, i) => e.version !== i + 1) ||
  !(CITY_MIN_PROTOCOL_VERSION <= NODE_MIN_PROTOCOL_VERSION && NODE_MIN_PROTOCOL_VERSION <= PROTOCOL_VERSION)
) {
  throw new Error("protocol-versions: the history must run 1…PROTOCOL_VERSION and the floors lie within it");
}

/** Whether the city takes a message stating version `v`. */
export function cityAccepts(v: unknown): v is ProtocolVersion {
  return Number.isInteger(v) && (v as number) >= CITY_MIN_PROTOCOL_VERSION && (v as number) <= PROTOCOL_VERSION;
}

/** Whether a node applies a pull answer of version `v`. */
export function nodeAccepts(v: unknown): v is ProtocolVersion {
  return Number.isInteger(v) && (v as number) >= NODE_MIN_PROTOCOL_VERSION && (v as number) <= PROTOCOL_VERSION;
}

/** "1–2", or "2" when the range is one version. */
const range = (min: number, max: number) => (min === max ? String(max) : `${min}–${max}`);

/** The Chinese reason the city gives a node whose version it does not take. */
export function cityRefusal(received: unknown): string {
  const shown = received === undefined || received === null ? "（未标明）" : typeof received === "string" ? JSON.stringify(received) : String(received);
  const advice = typeof received === "number" && received > PROTOCOL_VERSION ? "请先升级市级系统" : "请将节点升级到受支持的版本";
  return `同步协议版本 ${shown} 不受支持：市级支持版本 ${range(CITY_MIN_PROTOCOL_VERSION, PROTOCOL_VERSION)}（当前版本 ${PROTOCOL_VERSION}），${advice}`;
}

/** The Chinese reason a node refuses a pull answer of another version. */
export function nodeRefusal(received: unknown): string {
  const shown = received === undefined || received === null ? "（未标明）" : typeof received === "string" ? JSON.stringify(received) : String(received);
  const advice = typeof received === "number" && received < NODE_MIN_PROTOCOL_VERSION ? "请升级市级系统" : "请联系管理员检查市级系统";
  return `市级的拉取响应使用同步协议版本 ${shown}，本节点只接受版本 ${range(NODE_MIN_PROTOCOL_VERSION, PROTOCOL_VERSION)}：未写入任何内容，${advice}`;
}
