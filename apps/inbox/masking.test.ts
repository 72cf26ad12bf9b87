import { describe, expect, it } from "bun:test";
import { Hono } from "hono";
import type { Actor } from "../../conversations/actor.ts";
import type { Role } from "../../db/schema/index.ts";
import type { AuthEnv } from "./auth.ts";
import { maskJsonText, maskPersonalData } from "./masking.ts";

/** A route behind the masking edge, answered for a user of `role`. */
function appFor(role: Role, answer: () => Response) {
  const app = new Hono<AuthEnv>();
  app.use("*", async (c, next) => {
    c.set("actor", { userId: "u", workspaceId: "w", role, name: "U", teamIds: [] } satisfies Actor);
    await next();
  });
  app.use("*", maskPersonalData());
  app.get("/x", answer);
  return app;
}

const csvStream = (...chunks: string[]) =>
  new Response(
    new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    }),
    { headers: { "content-type": "text/csv; charset=utf-8" } },
  );

describe("the masking edge", () => {
  it("masks ID and card numbers in JSON for an agent, phones kept; a supervisor gets it whole", async () => {
    const body = { items: [{ text: "card 4111111111111111 tel 13812345678", externalId: "4111111111111111" }] };
    const agent = await appFor("agent", () => Response.json(body)).request("/x");
    expect(await agent.json()).toEqual({
      items: [{ text: "card 411111******1111 tel 13812345678", externalId: "4111111111111111" }],
    });
    const supervisor = await appFor("supervisor", () => Response.json(body)).request("/x");
    expect(await supervisor.json()).toEqual(body);
  });

  it("masks all four kinds in a streamed CSV, line by line, across chunk boundaries", async () => {
    const res = await appFor("agent", () =>
      csvStream('name,phone,email\n"Li","1381234', '5678","li@exa', 'mple.com"\n"Wang","4111111111111111",""'),
    ).request("/x");
    expect(res.headers.get("content-type")).toStartWith("text/csv");
    expect(await res.text()).toBe(
      'name,phone,email\n"Li","138****5678","l***@example.com"\n"Wang","411111******1111",""',
    );
  });

  it("checks a frame's own text first: long digit runs without an ID pass untouched, an ID after an escape is masked", () => {
    const plain = JSON.stringify({ seq: 1234567890123, item: { text: "order 1765162800000 shipped" } });
    expect(maskJsonText(plain, ["id", "card"])).toBe(plain);
    const escaped = JSON.stringify({ seq: 12345678, item: { text: "身份证:\n11010519491231002X 谢谢" } });
    const masked = maskJsonText(escaped, ["id", "card"]);
    expect(masked).not.toContain("11010519491231002X");
    expect(JSON.parse(masked).item.text).toBe("身份证:\n110105********002X 谢谢");
  });
});
