/** `npm run token -- --role admin [--sub 张三] [--ttl 8h] [--department GA]`: a local staff token, alone on the last line. */
import { parseArgs } from "node:util";
import { ensureDevAuth, mintToken } from "./lib/dev-auth.js";
import { ROOT } from "./lib/wrangler.js";

const ROLES = ["clerk", "approver", "supervisor", "admin"];
const { values } = parseArgs({
  options: { role: { type: "string" }, sub: { type: "string" }, ttl: { type: "string" }, department: { type: "string" } },
});
if (!values.role || !ROLES.includes(values.role)) {
  console.error(`用法：npm run token -- --role <${ROLES.join("|")}> [--sub 名字] [--ttl 8h] [--department 部门编码]`);
  process.exit(2);
}
const auth = await ensureDevAuth(ROOT);
const token = await mintToken(auth.privateJwk, { role: values.role, sub: values.sub, ttl: values.ttl, department: values.department });
console.error(`本地开发令牌：角色 ${values.role}，有效期 ${values.ttl ?? "8h"}（签发者 tongban-dev，仅对 npm start 启动的市级服务有效）`);
console.log(token);
