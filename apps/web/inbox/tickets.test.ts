import { describe, expect, it } from "bun:test";
import { ticketFieldKinds, ticketLinkKinds, ticketPriorities, ticketStatuses } from "../../../db/schema/index.ts";
import { catalog } from "./catalog.ts";
import { href, parseRoute } from "./route.ts";
import { mentionAt } from "./ticket-entries.tsx";
import { TICKET_FIELD_KINDS, TICKET_LINK_KINDS, TICKET_PRIORITIES, TICKET_STATUSES } from "./ticket-model.ts";
import { TICKET_VIEWS, ticketQuery } from "./tickets.tsx";

describe("ticket screens", () => {
  it("offer exactly the statuses, priorities, link and field kinds of the schema, each named in both languages", () => {
    expect([...TICKET_STATUSES]).toEqual([...ticketStatuses]);
    expect([...TICKET_PRIORITIES]).toEqual([...ticketPriorities]);
    expect([...TICKET_LINK_KINDS]).toEqual([...ticketLinkKinds]);
    expect([...TICKET_FIELD_KINDS]).toEqual([...ticketFieldKinds]);
    const keys = [
      ...ticketStatuses.map((s) => `tickets.status.${s}`),
      ...ticketPriorities.map((p) => `tickets.priority.${p}`),
      ...ticketLinkKinds.flatMap((k) => [`tickets.link.${k}.out`, `tickets.link.${k}.in`]),
      ...ticketFieldKinds.map((k) => `tickets.admin.kind.${k}`),
      ...TICKET_VIEWS.map((v) => `tickets.view.${v}`),
    ];
    for (const key of keys) {
      expect({ key, en: key in catalog.en }).toEqual({ key, en: true });
      expect({ key, zh: key in catalog["zh-CN"] }).toEqual({ key, zh: true });
    }
  });

  it("routes #/tickets/<view>/<ticketId> both ways", () => {
    expect(parseRoute("#/tickets/overdue/abc")).toEqual({ page: "tickets", view: "overdue", ticketId: "abc" });
    expect(parseRoute("#/tickets")).toEqual({ page: "tickets", view: "mine", ticketId: null });
    expect(href({ page: "tickets", view: "open", ticketId: null })).toBe("#/tickets/open");
    expect(href({ page: "tickets", view: "all", ticketId: "t1" })).toBe("#/tickets/all/t1");
  });

  it("asks the server for the view and only the filters that are set", () => {
    expect(ticketQuery("mine", { status: "open,new", priority: undefined, q: "#1042" }).toString()).toBe(
      "view=mine&status=open%2Cnew&q=%231042&limit=30",
    );
  });

  it("completes the @word just before the caret, not an email address", () => {
    expect(mentionAt("please @Ag", 10)).toEqual({ start: 7, query: "Ag" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionAt("请 @王", 4)).toEqual({ start: 2, query: "王" });
    expect(mentionAt("mail ann@example.com", 20)).toBeNull();
    expect(mentionAt("@Ann done", 9)).toBeNull();
  });
});
