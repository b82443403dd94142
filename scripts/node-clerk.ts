/**
 * `npm run node:clerk -- --data <dir> --login <login> [--name <name>] [--code <node code>]`, with the
 * password on standard input: creates (or resets) a local clerk account in a node's data directory.
 * Works while the node runs (the file is in WAL mode). The node's code comes from its data
 * directory (recorded at the node's first start) unless given.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { openNodeDatabase } from "../edge-node/database.js";
import { upsertLocalClerk } from "../edge-node/clerk.js";
import { getSettings, NODE_CODE_SETTING } from "../store/replica.js";

function fail(message: string): never {
  console.error(`node:clerk：${message}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: { data: { type: "string" }, login: { type: "string" }, name: { type: "string" }, code: { type: "string" } }, strict: true, allowPositionals: false }));
} catch (err) {
  fail((err as Error).message);
}
if (!values.data || !values.login) fail("用法：npm run node:clerk -- --data <数据目录> --login <登录名> [--name <姓名>] [--code <节点编码>]，密码从标准输入读取");

const lines = createInterface({ input: process.stdin, terminal: false });
const password = await new Promise<string>((done) => {
  lines.once("line", (l) => done(l));
  lines.once("close", () => done(""));
});
lines.close();
if (!password) fail("请从标准输入提供密码（一行）");

const store = await openNodeDatabase(resolve(values.data));
try {
  const recorded = (await getSettings(store.db, [NODE_CODE_SETTING])).get(NODE_CODE_SETTING);
  const code = values.code?.toUpperCase() ?? recorded;
  if (!code) fail("数据目录中没有节点编码（节点尚未启动过），请用 --code 指定");
  if (recorded && code !== recorded) fail(`数据目录属于节点 ${recorded}，不是 ${code}`);
  const { created } = await upsertLocalClerk(store.db, { login: values.login, name: values.name ?? values.login, hall: code, password }, new Date());
  console.log(`${created ? "已创建" : "已重置"}本地窗口账号 ${values.login}（节点 ${code}）。与市级同登录名的账号下发到本节点后，将取代此本地账号。`);
} catch (err) {
  fail((err as Error).message);
} finally {
  store.client.close();
}
