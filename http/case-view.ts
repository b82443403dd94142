/** The JSON shape of a case for clerks and applicants. */
import {
  availableActions,
  CASE_KIND_LABELS,
  CASE_STATE_LABELS,
  type CaseKind,
  type CaseSnapshot,
  type Role,
} from "../domain/lifecycle.js";
import { maskIdNumber, maskPhone } from "../domain/codes.js";
import { LIGHT_LABELS } from "../domain/time.js";
import type { MaterialSpec } from "../schema/types.js";
import { caseLight, isPaused, type LoggedEvent } from "../store/cases.js";

export interface CaseViewOptions {
  now: Date;
  materials: readonly MaterialSpec[];
  /** Show the full ID number and phone (the case view only). */
  unmasked?: boolean;
  role?: Role;
  events?: LoggedEvent[];
}

const named = (ids: readonly string[], specs: readonly MaterialSpec[]) =>
  ids.map((id) => ({ id, name: specs.find((m) => m.id === id)?.name ?? id }));

/** A case as the API shows it, with labels in Chinese, its light and the actions open to `role`. */
export function caseView(c: CaseSnapshot, o: CaseViewOptions) {
  const light = caseLight(c, o.now);
  const paused = isPaused(c);
  return {
    caseNo: c.caseNo,
    queryCode: c.queryCode,
    origin: c.origin,
    channel: c.channel,
    itemCode: c.itemCode,
    itemName: c.itemName,
    departmentCode: c.departmentCode,
    kind: c.kind,
    kindLabel: CASE_KIND_LABELS[c.kind as CaseKind],
    itemKind: c.itemKind,
    state: c.state,
    stateLabel: CASE_STATE_LABELS[c.state],
    applicant: {
      name: c.applicantName,
      idNumber: o.unmasked ? c.applicantIdNumber : maskIdNumber(c.applicantIdNumber),
      phone: o.unmasked ? c.applicantPhone : maskPhone(c.applicantPhone),
    },
    materials: named(c.materials, o.materials),
    missing: named(c.missing, o.materials),
    deferred: named(c.deferred, o.materials),
    limit: { value: c.limitValue, unit: c.limitUnit },
    acceptedAt: c.acceptedAt,
    deadline: c.deadlineAt ? { instant: c.deadlineAt, date: c.deadlineDate } : null,
    light,
    lightLabel: light ? LIGHT_LABELS[light] : paused ? "暂停计时" : null,
    paused,
    suspensions: c.suspensions,
    reviewDepartments: c.reviewDepartments,
    opinions: c.opinions,
    decision: c.decision,
    decisionReason: c.decisionReason,
    decidedAt: c.decidedAt,
    refusedReason: c.refusedReason,
    deliveredAt: c.deliveredAt,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    ...(o.role ? { availableActions: availableActions(c, o.role) } : {}),
    ...(o.events
      ? {
          events: o.events.map((e) => ({
            origin: e.origin,
            seq: e.seq,
            type: e.type,
            payload: e.payload,
            actor: e.actor,
            occurredAt: e.occurredAt,
            receivedAt: e.receivedAt,
            hash: e.hash,
            conflict: e.conflict,
          })),
        }
      : {}),
  };
}
