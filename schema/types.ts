/** Value types stored in JSON columns and shared by every layer above the schema. */

/** The kind a service item is handled as (the item-level subset of the seven case kinds). */
export type ServiceItemKind = "immediate" | "promised" | "joint" | "escalated" | "special";
export const SERVICE_ITEM_KINDS: readonly ServiceItemKind[] = ["immediate", "promised", "joint", "escalated", "special"];

export type LimitUnit = "day" | "hour";

/** Where an item can be handled: the city hall and/or township nodes. */
export type Place = "city" | "township";

/** One required or optional material of a guide (申请材料). */
export interface MaterialSpec {
  id: string;
  name: string;
  /** 原件 / 复印件 / 原件和复印件 / 电子件. */
  form: "original" | "copy" | "original_and_copy" | "electronic";
  copies: number;
  required: boolean;
  /** 容缺受理: may be accepted now and supplied later. */
  deferrable: boolean;
  /** Template / sample / source note (材料来源、样表、填写说明). */
  note: string;
}

export interface ProcedureStep {
  name: string;
  description: string;
}

export interface Fee {
  name: string;
  /** Amount in yuan as a decimal string, e.g. "80.00"; "0" when free. */
  amount: string;
  basis: string;
}

export interface ComplaintChannel {
  phone: string;
  address: string;
  online: string;
}
