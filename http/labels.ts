/** Chinese wording shared by pages and printed documents. */

/** 5个工作日 / 2个工作小时. */
export const limitText = (l: { value: number; unit: string }) => `${l.value}个工作${l.unit === "hour" ? "小时" : "日"}`;

/** 材料形式. */
export const MATERIAL_FORMS = { original: "原件", copy: "复印件", original_and_copy: "原件及复印件", electronic: "电子件" } as const;
