/**
 * The pages' scripts and styles as static assets under `/assets/<name>`, so that the CSP can allow
 * `'self'` and nothing inline. They are string modules: the city is bundled by wrangler and has no
 * file system at run time. Each shell mounts `assetRoutes` with the assets its pages use.
 */
import { Hono } from "hono";
import { html } from "hono/html";
import { AppError } from "./errors.js";

export interface Asset {
  /** File name under `/assets/`, e.g. `console.js`. */
  name: string;
  contentType: string;
  body: string;
  /** Content hash: the ETag, and the `?v=` of `href` so a new deploy is never served from a stale cache. */
  version: string;
  /** What pages link to. */
  href: string;
}

const CONTENT_TYPES = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8", svg: "image/svg+xml" } as const;

/**
 * cyrb53, a fast 53-bit string hash: computed synchronously at module load in workerd and Node
 * alike (Web Crypto digests are async). It names a version, it is no security boundary.
 */
function contentHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/** Declares an asset; its name ends in `.js`, `.css` or `.svg`, which sets its content type. */
export function asset(name: string, body: string): Asset {
  const ext = /^[a-z0-9-]+\.(js|css|svg)$/.exec(name)?.[1] as keyof typeof CONTENT_TYPES | undefined;
  if (!ext) throw new Error(`asset name must be lower-case and end in .js, .css or .svg: ${name}`);
  const version = contentHash(body);
  return { name, contentType: CONTENT_TYPES[ext], body, version, href: `/assets/${name}?v=${version}` };
}

/** `<script src>` of a script asset (classic, not deferred: it stands where the inline script stood). */
export const scriptTag = (a: Asset) => html`<script src="${a.href}"></script>`;

/** `<link rel="stylesheet">` of a style asset. */
export const styleTag = (a: Asset) => html`<link rel="stylesheet" href="${a.href}">`;

/**
 * `GET /assets/:name`: the asset with its ETag (304 on `If-None-Match`). A request for the
 * current version may be cached for good; any other (an old page, no `v`) revalidates every time.
 */
export function assetRoutes(assets: readonly Asset[]) {
  const byName = new Map(assets.map((a) => [a.name, a]));
  return new Hono().get("/assets/:name", (c) => {
    const a = byName.get(c.req.param("name"));
    if (!a) throw new AppError("not_found", `没有这个静态资源：${c.req.param("name")}`);
    const etag = `"${a.version}"`;
    c.header("ETag", etag);
    c.header("Cache-Control", c.req.query("v") === a.version ? "public, max-age=31536000, immutable" : "no-cache");
    const match = (c.req.header("if-none-match") ?? "").split(",").map((t) => t.trim().replace(/^W\//, ""));
    if (match.includes(etag) || match.includes("*")) return c.body(null, 304);
    return c.body(a.body, 200, { "content-type": a.contentType });
  });
}
