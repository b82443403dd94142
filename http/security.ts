/** Web hardening shared by both shells: security headers with a strict CSP on every response. */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/**
 * Pages load their scripts and styles from `/assets/*` only (http/assets.ts), so nothing inline
 * needs an exception: an injected `<script>` or `style=` does not run.
 */
const CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/** Security headers on every response (pages, JSON, problems, 404s): CSP, no framing, no sniffing, no referrer. */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: CSP,
    xFrameOptions: "DENY",
    // Track and result URLs carry case numbers and query codes in the query string.
    referrerPolicy: "no-referrer",
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [], usb: [] },
  });
}
