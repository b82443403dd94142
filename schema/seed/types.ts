/** Shapes of the bundled seed data (catalog and calendar) loaded into a fresh database. */
import type { ComplaintChannel, Fee, LimitUnit, MaterialSpec, Place, ProcedureStep, ServiceItemKind } from "../types.js";

export interface SeedDepartment {
  /** Short department code used in URLs and case numbers' routing, e.g. "GA-HZ". */
  code: string;
  name: string;
  /** Valid 18-character 统一社会信用代码 (GB 32100 check character). */
  creditCode: string;
  sortOrder: number;
}

export interface SeedItem {
  /** 实施编码 = department creditCode (18) + level digit + basicCode (12). */
  code: string;
  basicCode: string;
  name: string;
  departmentCode: string;
  kind: ServiceItemKind;
  /** 事项类型 label matching the basic code's first two digits (ITEM_CATEGORIES in domain/codes.ts). */
  category: string;
  level: number;
  content: string;
  legalBasis: string[];
  conditions: string[];
  materials: MaterialSpec[];
  procedure: ProcedureStep[];
  statutoryLimit: { value: number; unit: LimitUnit };
  promisedLimit: { value: number; unit: LimitUnit };
  fees: Fee[];
  resultType: string;
  resultName: string;
  complaintChannel: ComplaintChannel;
  places: Place[];
  address: string;
  onlineDepth: number;
  jointDepartments: string[];
  consultPhone: string;
}
