/**
 * `npm run token -- --role <role> [--hall <code>] [--department <code>] [--sub <id>] [--ttl 8h]`:
 * a local staff token, alone on the last line (scripts read it from there).
 */
import { parseArgs } from "node:util";
import { ensureDevAuth, mintToken } from "./lib/dev-auth.js";
import { ROOT } from "./lib/wrangler.js";

const ROLES = ["clerk", "approver", "supervisor", "admin"];
const USAGE = `用法：npm run token -- --role <${ROLES.join("|")}> [--hall 大厅编码，默认 CITY] [--department 部门编码（审批人员必填）] [--sub 账号标识] [--ttl 8h]`;

function fail(message: string): never {
  console.error(`token：${message}\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: { role: { type: "string" }, sub: { type: "string" }, ttl: { type: "string" }, department: { type: "string" }, hall: { type: "string" } },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail((err as Error).message);
}
if (!values.role || !ROLES.includes(values.role)) fail("请用 --role 指定角色");
if (values.role === "approver" && !values.department) fail("审批人员令牌须用 --department 指定部门");
const hall = values.hall?.toUpperCase();
const auth = await ensureDevAuth(ROOT);
const token = await mintToken(auth.privateJwk, { role: values.role, sub: values.sub, ttl: values.ttl, department: values.department, hall });
console.error(`本地开发令牌：角色 ${values.role}，大厅 ${hall ?? "CITY"}${values.department ? `，部门 ${values.department}` : ""}，有效期 ${values.ttl ?? "8h"}（签发者 tongban-dev，仅对 npm start 启动的市级服务有效）`);
console.log(token);
