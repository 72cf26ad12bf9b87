import { describe, expect, it } from "bun:test";
import {
  channels,
  conversationStatuses,
  deliveryStatuses,
  identityKinds,
  presences,
  roles,
} from "../../../db/schema/index.ts";
import { catalog, type MessageKey } from "./catalog.ts";
import { clock, translate } from "./i18n.ts";
import { listQuery, VIEWS } from "./inbox.tsx";
import { href, parseRoute } from "./route.ts";

describe("message catalog", () => {
  it("has every key in both languages, with the same placeholders", () => {
    const en = catalog.en;
    const zh = catalog["zh-CN"];
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    const holes = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en) as MessageKey[]) {
      expect({ key, holes: holes(zh[key]) }).toEqual({ key, holes: holes(en[key]) });
      expect(zh[key].length).toBeGreaterThan(0);
    }
  });

  it("names every channel, status, role, presence, identity kind, delivery status and view the UI shows", () => {
    const keys = [
      ...channels.map((c) => `channel.${c}`),
      ...conversationStatuses.map((s) => `status.${s}`),
      ...roles.map((r) => `role.${r}`),
      ...presences.map((p) => `presence.${p}`),
      ...identityKinds.map((k) => `identity.${k}`),
      ...deliveryStatuses.map((d) => `delivery.${d}`),
      ...VIEWS.map((v) => `view.${v}`),
    ];
    for (const key of keys)
      expect({ key, has: key in catalog.en && key in catalog["zh-CN"] }).toEqual({ key, has: true });
  });

  it("fills placeholders and leaves template variables of canned responses alone", () => {
    expect(translate("zh-CN", "list.unread", { n: 3 })).toBe("3 条未读");
    expect(translate("en", "timeline.typing", { name: "王芳" })).toBe("王芳 is typing…");
    expect(translate("en", "admin.cannedHelp")).toContain("{{contact.name}}");
  });

  it("shows clocks as m:ss or h:mm:ss", () => {
    expect(clock(5)).toBe("0:05");
    expect(clock(65)).toBe("1:05");
    expect(clock(3723)).toBe("1:02:03");
    expect(clock(-4)).toBe("0:00");
  });
});

describe("routes and list queries", () => {
  it("round-trips deep links", () => {
    const id = "5b1f8d3e-2c2a-4f55-9d43-0a7d1f3c9e11";
    for (const r of [
      { page: "inbox", view: "unassigned", conversationId: id },
      { page: "inbox", view: "mine", conversationId: null },
      { page: "wallboard" },
      { page: "admin", tab: "queues" },
      { page: "invite", token: "abc.def" },
    ] as const)
      expect(parseRoute(href(r))).toEqual(r);
    expect(parseRoute("")).toEqual({ page: "inbox", view: "mine", conversationId: null });
  });

  it("asks the server for what each view shows", () => {
    expect(Object.fromEntries(listQuery("mine", {}))).toEqual({ assignee: "me", status: "open,pending", limit: "50" });
    expect(Object.fromEntries(listQuery("unassigned", { q: "退款" }))).toEqual({
      assignee: "none",
      status: "open,pending",
      q: "退款",
      limit: "50",
    });
    expect(Object.fromEntries(listQuery("resolved", { channel: "email", queueId: undefined }))).toEqual({
      status: "resolved",
      channel: "email",
      limit: "50",
    });
  });
});
