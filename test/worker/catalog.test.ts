import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const get = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://city.test${path}`, init));

describe("catalog API on D1", () => {
  it("lists items with department and kind", async () => {
    const res = await get("/api/catalog/items?pageSize=100");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: any[]; total: number };
    expect(body.total).toBeGreaterThanOrEqual(40);
    const first = body.items[0];
    expect(first).toMatchObject({ code: expect.stringMatching(/^[0-9A-Z]{31}$/), name: expect.any(String) });
    expect(first.department).toEqual({ code: expect.any(String), name: expect.any(String) });
    expect(["immediate", "promised", "joint", "escalated", "special"]).toContain(first.kind);
    const d1 = await env.DB.prepare("select count(*) as n from service_items").first<{ n: number }>();
    expect(body.total).toBe(d1!.n);
  });
});
