/**
 * The one database schema of Tongban. Applied unchanged to the city's D1 and to every
 * township node's libSQL file, so everything here must be plain SQLite.
 * Instants are ISO-8601 UTC strings (`2026-11-22T01:30:00.000Z`); dates are Asia/Shanghai `YYYY-MM-DD`.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type {
  ComplaintChannel,
  Fee,
  LimitUnit,
  MaterialSpec,
  Place,
  ProcedureStep,
  ServiceItemKind,
} from "./types.js";

/** 进驻部门: a department with a window at the centre. */
export const departments = sqliteTable("departments", {
  code: text("code").primaryKey(),
  name: text("name").notNull(),
  /** 统一社会信用代码 of the department (18 characters, GB 32100). */
  creditCode: text("credit_code").notNull(),
  sortOrder: integer("sort_order").notNull().default(0),
  updatedAt: text("updated_at").notNull(),
});

/** 政务服务事项 with every 办事指南 (十公开) field. */
export const serviceItems = sqliteTable(
  "service_items",
  {
    /** 实施编码: department credit code (18) + level digit + basic code (12). */
    code: text("code").primaryKey(),
    /** 基本编码 (12 characters). */
    basicCode: text("basic_code").notNull(),
    name: text("name").notNull(),
    departmentCode: text("department_code")
      .notNull()
      .references(() => departments.code),
    /** Case kind the item is handled as: immediate | promised | joint | escalated | special. */
    kind: text("kind").$type<ServiceItemKind>().notNull(),
    /** 事项类型 label, e.g. 行政许可 (derived from the basic code when seeded). */
    category: text("category").notNull(),
    /** 实施层级 digit of the implementation code (1 national … 5 township). */
    level: integer("level").notNull(),
    content: text("content").notNull(),
    legalBasis: text("legal_basis", { mode: "json" }).$type<string[]>().notNull(),
    conditions: text("conditions", { mode: "json" }).$type<string[]>().notNull(),
    materials: text("materials", { mode: "json" }).$type<MaterialSpec[]>().notNull(),
    procedure: text("procedure", { mode: "json" }).$type<ProcedureStep[]>().notNull(),
    statutoryLimitValue: integer("statutory_limit_value").notNull(),
    statutoryLimitUnit: text("statutory_limit_unit").$type<LimitUnit>().notNull(),
    promisedLimitValue: integer("promised_limit_value").notNull(),
    promisedLimitUnit: text("promised_limit_unit").$type<LimitUnit>().notNull(),
    fees: text("fees", { mode: "json" }).$type<Fee[]>().notNull(),
    resultType: text("result_type").notNull(),
    resultName: text("result_name").notNull(),
    complaintChannel: text("complaint_channel", { mode: "json" }).$type<ComplaintChannel>().notNull(),
    places: text("places", { mode: "json" }).$type<Place[]>().notNull(),
    /** Where the window is, in words (办理地点). */
    address: text("address").notNull(),
    /** 网上办理深度 1..4 (一星 … 四星). */
    onlineDepth: integer("online_depth").notNull(),
    /** Collaborating departments of a joint item (联办件); the item's own department leads. */
    jointDepartments: text("joint_departments", { mode: "json" }).$type<string[]>().notNull(),
    consultPhone: text("consult_phone").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("service_items_department_idx").on(t.departmentCode)],
);

/**
 * City: earlier versions of catalog items, each kept when an administrator replaced it. A node
 * offline across an edit accepted cases with the item as it then was; the city re-checks its
 * events against the version the node could have had.
 */
export const serviceItemVersions = sqliteTable(
  "service_item_versions",
  {
    code: text("code").notNull(),
    /** The `changes.seq` of the change that replaced this version: a node whose cursor is below it still had it. */
    supersededSeq: integer("superseded_seq").notNull(),
    /** The whole `service_items` row as it was. */
    row: text("row", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.code, t.supersededSeq] })],
);

/** City: earlier states of calendar overrides (kind null: the date had none), kept on every change. */
export const calendarDayVersions = sqliteTable(
  "calendar_day_versions",
  {
    date: text("date").notNull(),
    /** The `changes.seq` of the change that replaced this state. */
    supersededSeq: integer("superseded_seq").notNull(),
    kind: text("kind").$type<"holiday" | "workday">(),
    name: text("name"),
  },
  (t) => [primaryKey({ columns: [t.date, t.supersededSeq] }), index("calendar_day_versions_superseded_idx").on(t.supersededSeq)],
);

/** Calendar overrides: public holidays and 调休 working days. Ordinary weekdays work, weekends rest. */
export const calendarDays = sqliteTable("calendar_days", {
  date: text("date").primaryKey(),
  /** holiday: no work on a weekday; workday: an adjusted (调休) working weekend day. */
  kind: text("kind").$type<"holiday" | "workday">().notNull(),
  name: text("name").notNull(),
  updatedAt: text("updated_at").notNull(),
});

/** Years whose official arrangement has been entered; deadlines beyond them carry a warning. */
export const calendarYears = sqliteTable("calendar_years", {
  year: integer("year").primaryKey(),
  source: text("source").notNull(),
  updatedAt: text("updated_at").notNull(),
});

/** 分中心节点: township edge nodes known to the city (and a node's own identity row). */
export const nodes = sqliteTable("nodes", {
  code: text("code").primaryKey(),
  name: text("name").notNull(),
  publicJwk: text("public_jwk", { mode: "json" }).$type<Record<string, string>>(),
  enrolledAt: text("enrolled_at"),
  revokedAt: text("revoked_at"),
  updatedAt: text("updated_at").notNull(),
});

/** 办件: the current state of a case, a projection of its events. */
export const cases = sqliteTable(
  "cases",
  {
    caseNo: text("case_no").primaryKey(),
    queryCode: text("query_code").notNull(),
    /** Where the case was created: a node code, or the city's origin code. */
    origin: text("origin").notNull(),
    channel: text("channel").$type<"window" | "online">().notNull(),
    itemCode: text("item_code").notNull(),
    itemName: text("item_name").notNull(),
    departmentCode: text("department_code").notNull(),
    itemKind: text("item_kind").$type<ServiceItemKind>().notNull(),
    /** One of the seven kinds; returned/supplement replace the item kind while they apply. */
    kind: text("kind").notNull(),
    state: text("state").notNull(),
    applicantName: text("applicant_name").notNull(),
    applicantIdNumber: text("applicant_id_number").notNull(),
    applicantPhone: text("applicant_phone").notNull(),
    /** Material ids received so far. */
    materials: text("materials", { mode: "json" }).$type<string[]>().notNull(),
    /** Material ids still missing (the one-time notice). */
    missing: text("missing", { mode: "json" }).$type<string[]>().notNull(),
    /** Required materials accepted under 容缺受理, to be handed in later. */
    deferred: text("deferred", { mode: "json" }).$type<string[]>().notNull(),
    /** State to return to once the missing materials arrive. */
    resumeState: text("resume_state"),
    limitValue: integer("limit_value").notNull(),
    limitUnit: text("limit_unit").$type<LimitUnit>().notNull(),
    acceptedAt: text("accepted_at"),
    deadlineAt: text("deadline_at"),
    deadlineDate: text("deadline_date"),
    /** Closed and open clock suspensions (暂停计时). */
    suspensions: text("suspensions", { mode: "json" })
      .$type<{ from: string; to: string | null; reason: string }[]>()
      .notNull(),
    /** Per-department opinions of a joint case (并联审批). */
    opinions: text("opinions", { mode: "json" })
      .$type<{ department: string; opinion: "agree" | "disagree"; comment: string; at: string }[]>()
      .notNull(),
    /** Departments the case was forwarded to (lead first). */
    reviewDepartments: text("review_departments", { mode: "json" }).$type<string[]>().notNull(),
    decision: text("decision").$type<"grant" | "deny">(),
    decisionReason: text("decision_reason"),
    decidedAt: text("decided_at"),
    refusedReason: text("refused_reason"),
    deliveredAt: text("delivered_at"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    /** The applicant account the case belongs to (filed online, or linked with the receipt's query code). */
    applicantAccount: text("applicant_account"),
    /** Bumped by every write; a write checks it is still the version it read (`case_write_guard`). */
    version: integer("version").notNull().default(0),
  },
  (t) => [
    index("cases_state_idx").on(t.state),
    index("cases_origin_idx").on(t.origin),
    index("cases_deadline_idx").on(t.deadlineAt),
  ],
);

/**
 * The event log: every change to a case, once, at one origin. `(origin, seq)` is the key,
 * `hash = SHA-256(prevHash ‖ canonical(event))` chains each origin's log.
 */
export const caseEvents = sqliteTable(
  "case_events",
  {
    origin: text("origin").notNull(),
    seq: integer("seq").notNull(),
    caseNo: text("case_no").notNull(),
    type: text("type").notNull(),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    actor: text("actor").notNull(),
    /** The origin's clock when the event happened. */
    occurredAt: text("occurred_at").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
    /** The city's clock when it stored the event (null on a node until sync). */
    receivedAt: text("received_at"),
  },
  (t) => [
    primaryKey({ columns: [t.origin, t.seq] }),
    index("case_events_case_idx").on(t.caseNo),
  ],
);

/** Small key/value settings of a database (e.g. a node's own code). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: text("updated_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
});

/** City: what each enrolled node last told the city, for reconciliation and clock supervision. */
export const nodeContacts = sqliteTable("node_contacts", {
  code: text("code").primaryKey(),
  lastContactAt: text("last_contact_at").notNull(),
  /** The head seq the node said it holds (sent with every push and heartbeat). */
  reportedHeadSeq: integer("reported_head_seq").notNull(),
  /** Node clock minus city clock at the last contact, in milliseconds. */
  skewMs: integer("skew_ms").notNull(),
  lastPushAt: text("last_push_at"),
  /** The city's clock at the node's last pull. */
  lastPullAt: text("last_pull_at"),
  /**
   * The cursor the node sent with its last pull: the catalog and calendar changes it had applied
   * then (it applies a pull's answer after sending it). Its offline work is judged by that reference.
   */
  pulledCursor: integer("pulled_cursor"),
  /** The city's clock at the node's first push since its last pull (null while none came). */
  pushSincePullAt: text("push_since_pull_at"),
  /** The sync protocol version of the node's last message (null: none since versions were recorded). */
  protocolVersion: integer("protocol_version"),
});

/** City: every signed batch seen, so a captured batch replayed later is refused. */
export const syncBatches = sqliteTable(
  "sync_batches",
  {
    node: text("node").notNull(),
    batchId: text("batch_id").notNull(),
    sentAt: text("sent_at").notNull(),
    receivedAt: text("received_at").notNull(),
    events: integer("events").notNull(),
  },
  (t) => [primaryKey({ columns: [t.node, t.batchId] })],
);

/** City: an event that differs from the one already held under the same (origin, seq). Never overwrites. */
export const divergences = sqliteTable(
  "divergences",
  {
    origin: text("origin").notNull(),
    seq: integer("seq").notNull(),
    heldHash: text("held_hash").notNull(),
    receivedHash: text("received_hash").notNull(),
    received: text("received", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    detectedAt: text("detected_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.origin, t.seq, t.receivedHash] })],
);

/** An event that was no longer valid when it reached the city: kept in the log, flagged for a person. */
export const conflicts = sqliteTable(
  "conflicts",
  {
    origin: text("origin").notNull(),
    seq: integer("seq").notNull(),
    caseNo: text("case_no").notNull(),
    type: text("type").notNull(),
    /** The node the flag must travel back to. */
    node: text("node").notNull(),
    reason: text("reason").notNull(),
    detectedAt: text("detected_at").notNull(),
    resolvedAt: text("resolved_at"),
    /** What the person who resolved it decided, in words. */
    resolution: text("resolution"),
  },
  (t) => [primaryKey({ columns: [t.origin, t.seq] }), index("conflicts_node_idx").on(t.node)],
);

/**
 * City: the change feed nodes pull after their cursor. `node` null means every node
 * (catalog, calendar); otherwise the change concerns that node's cases.
 */
export const changes = sqliteTable(
  "changes",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    kind: text("kind").$type<"item" | "department" | "calendar_day" | "calendar_year" | "event" | "conflict" | "delegation" | "revocation" | "account">().notNull(),
    key: text("key").notNull(),
    node: text("node"),
    at: text("at").notNull(),
  },
  (t) => [index("changes_node_idx").on(t.node, t.seq)],
);

/** Signed electronic approvals, whoever signed them (the city, or a node under delegation). */
export const approvals = sqliteTable(
  "approvals",
  {
    id: text("id").primaryKey(),
    caseNo: text("case_no").notNull(),
    token: text("token").notNull(),
    kid: text("kid").notNull(),
    /** CITY, or the code of the node that signed it. */
    issuer: text("issuer").notNull(),
    licenceId: text("licence_id"),
    issuedAt: text("issued_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("approvals_case_idx").on(t.caseNo)],
);

/** City: revoked approvals (published as a signed list). */
export const approvalRevocations = sqliteTable("approval_revocations", {
  approvalId: text("approval_id").primaryKey(),
  reason: text("reason").notNull(),
  revokedAt: text("revoked_at").notNull(),
  revokedBy: text("revoked_by").notNull(),
});

/** Delegations the city signed for node keys (city: all of them; node: the ones it received). */
export const delegations = sqliteTable("delegations", {
  id: text("id").primaryKey(),
  node: text("node").notNull(),
  token: text("token").notNull(),
  items: text("items", { mode: "json" }).$type<string[]>().notNull(),
  validFrom: text("valid_from").notNull(),
  validUntil: text("valid_until").notNull(),
  issuedAt: text("issued_at").notNull(),
});

/**
 * People who sign in: staff (clerk, approver, supervisor, admin) managed at the city, applicants
 * who registered there, and clerks created locally at a node before it could pull any. A hall's
 * staff rows (hashes, roles, disabled flags — never an applicant) reach its node by pull.
 */
export const accounts = sqliteTable(
  "accounts",
  {
    /** Stable id, recorded in event actors (`<role>:<id>@<hall>`): a staff login, or `A…` for an applicant. */
    id: text("id").primaryKey(),
    /** What the person types to sign in: a staff login, or an applicant's mobile number. */
    login: text("login").notNull(),
    name: text("name").notNull(),
    role: text("role").$type<"clerk" | "approver" | "supervisor" | "admin" | "applicant">().notNull(),
    /** A node code, or CITY. */
    hall: text("hall").notNull(),
    department: text("department"),
    /** `pbkdf2-sha256$<iterations>$<salt>$<hash>`. */
    passwordHash: text("password_hash").notNull(),
    /** Set for an initial or reset password: the person must choose their own at the next sign-in. */
    mustChangePassword: integer("must_change_password", { mode: "boolean" }).notNull().default(false),
    disabledAt: text("disabled_at"),
    /** An applicant's own details (never sent to nodes). */
    phone: text("phone"),
    idNumber: text("id_number"),
    /** Where the account is managed: `city`, or `local` (made on a node by `npm run node:clerk`). */
    source: text("source").$type<"city" | "local">().notNull().default("city"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [uniqueIndex("accounts_login_idx").on(t.login), index("accounts_hall_idx").on(t.hall)],
);

/** Signed-in sessions of this database's shell (the cookie carries the secret; only its SHA-256 is kept). */
export const sessions = sqliteTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    accountId: text("account_id").notNull(),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("sessions_account_idx").on(t.accountId)],
);

/**
 * Failed attempts counted per key (a login, a client address, a case number) to slow guessing down
 * and then lock it out for a while.
 */
export const attemptCounters = sqliteTable("attempt_counters", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  firstAt: text("first_at").notNull(),
  lastAt: text("last_at").notNull(),
  /** No further attempt is taken before this instant. */
  blockedUntil: text("blocked_until"),
});

/**
 * What happened that someone may have to answer for: sign-ins (failed, locked), refusals, account
 * changes, and every view of a full ID number (who, when, which case).
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    at: text("at").notNull(),
    /** The actor (`<role>:<id>@<hall>`), or `anonymous`. */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    /** What it concerned: a case number, a login, a route. */
    subject: text("subject").notNull(),
    detail: text("detail").notNull().default(""),
    address: text("address"),
  },
  (t) => [index("audit_log_action_idx").on(t.action, t.seq)],
);

/**
 * Node: items of a pull answer that failed the node's checks (a malformed row, an event whose hash,
 * chain or limits do not hold, an account of another hall). They are kept here with the reason
 * instead of being applied, so one bad item never stops the pulls after it.
 */
export const pulledFlags = sqliteTable("pulled_flags", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  /** The list of the pull answer it came in (`events`, `accounts`, …). */
  kind: text("kind").notNull(),
  /** What it names, when that could be read: an `origin:seq`, an account id, an item code, a date. */
  key: text("key").notNull(),
  /** For an event: its case, whose later pulled events are held back too. */
  caseNo: text("case_no"),
  reason: text("reason").notNull(),
  /** The item as it came (a password hash left out), for whoever looks into it. */
  item: text("item").notNull(),
  /** The cursor of the answer that carried it. */
  cursor: integer("cursor").notNull(),
  flaggedAt: text("flagged_at").notNull(),
});

/**
 * Optimistic concurrency for `cases`. D1 has no interactive transactions, so each batch that
 * writes case rows first runs a guard insert that adds a row here only if a stored version differs
 * from the one the writer read; the CHECK then fails the whole batch and the writer retries.
 * The table stays empty.
 */
export const caseWriteGuard = sqliteTable(
  "case_write_guard",
  { stale: integer("stale").notNull() },
  () => [check("case_version_guard", sql`stale = 0`)],
);
