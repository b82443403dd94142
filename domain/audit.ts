/**
 * What the audit log records, by action name, with the label an administrator reads. Names are
 * stored as written here; a name not listed (an older or newer entry) is shown as it is.
 */
export const AUDIT_ACTION_LABELS: Readonly<Record<string, string>> = {
  sign_in: "登录",
  sign_in_failed: "登录失败",
  sign_in_blocked: "登录受限（尝试过多）",
  sign_out: "退出登录",
  password_changed: "修改本人密码",
  forbidden: "越权访问被拒绝",
  id_number_view: "查看完整身份证号码",
  account_created: "创建账号",
  account_updated: "修改账号",
  account_disabled: "停用账号",
  account_enabled: "启用账号",
  password_reset: "重置密码",
  account_change_refused: "账号变更被拒绝",
  applicant_registered: "申请人注册",
  applicant_register_refused: "申请人注册被拒绝",
  applicant_register_blocked: "申请人注册受限（尝试过多）",
  case_linked: "关联本人办件",
  lookup_failed: "查询码核对失败",
  lookup_blocked: "查询受限（尝试过多）",
};

/** An action name as stored: lower-case words joined by `_`. */
export const AUDIT_ACTION_PATTERN = /^[a-z][a-z_]{0,39}$/;

/** The label of an action (its name when it has none). */
export const auditActionLabel = (action: string) => AUDIT_ACTION_LABELS[action] ?? action;
