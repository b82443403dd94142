/** What the page tests of both shells check about served HTML: the CSP and code that it would block. */

/** The Content-Security-Policy every response carries. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Everything in a page that a strict CSP would block: inline scripts, inline styles, event handler attributes. */
export function inlineCode(page: string): string[] {
  return [
    ...[...page.matchAll(/<script(?![^>]*\ssrc=)[^>]*>/gi)].map((m) => m[0]),
    ...[...page.matchAll(/<style[\s>]/gi)].map((m) => m[0]),
    ...[...page.matchAll(/\sstyle\s*=\s*["'][^"']*["']/gi)].map((m) => m[0]),
    ...[...page.matchAll(/\son[a-z]+\s*=\s*["'][^"']*["']/gi)].map((m) => m[0]),
  ];
}

/** The same-origin scripts and stylesheets a page links to. */
export const linkedAssets = (page: string) => [...page.matchAll(/<(?:script src|link rel="stylesheet" href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!.replaceAll("&amp;", "&"));
