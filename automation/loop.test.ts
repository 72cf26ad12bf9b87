import { describe, expect, it } from "bun:test";
import { parseActions } from "./action.ts";
import { assertNoSelfTrigger } from "./loop.ts";

const check = (event: string, conditions: { field: string; op: string; value?: unknown }[], actions: unknown[]) => {
  try {
    assertNoSelfTrigger(event, conditions, parseActions(actions));
    return "ok";
  } catch (err) {
    return (err as { field?: string }).field;
  }
};
const team = "00000000-0000-4000-8000-000000000001";

describe("the save-time loop check", () => {
  it("refuses an update rule that labels what its conditions read, naming the action", () => {
    expect(
      check(
        "conversation.updated",
        [{ field: "labels", op: "contains", value: "vip" }],
        [
          { type: "note", body: "x" },
          { type: "label", value: "seen" },
        ],
      ),
    ).toBe("actions.1");
  });

  it("accepts it once a condition excludes the result", () => {
    expect(
      check(
        "conversation.updated",
        [
          { field: "labels", op: "contains", value: "vip" },
          { field: "labels", op: "not_contains", value: "seen" },
        ],
        [{ type: "label", value: "seen" }],
      ),
    ).toBe("ok");
    // Removing what the rule waits for settles it too, whatever else it labels.
    expect(
      check(
        "conversation.updated",
        [{ field: "labels", op: "contains", value: "ping" }],
        [
          { type: "remove_label", value: "ping" },
          { type: "label", value: "pong" },
        ],
      ),
    ).toBe("ok");
  });

  it("judges scalar fields by the value the action leaves", () => {
    const high = [{ type: "set_priority", value: "high" }];
    expect(check("conversation.updated", [{ field: "priority", op: "gte", value: "normal" }], high)).toBe("actions.0");
    expect(check("conversation.updated", [{ field: "priority", op: "equals", value: "normal" }], high)).toBe("ok");
    expect(
      check("conversation.updated", [{ field: "team", op: "absent" }], [{ type: "assign_team", teamId: team }]),
    ).toBe("ok");
    expect(
      check(
        "ticket.updated",
        [{ field: "status", op: "in", value: ["new", "solved"] }],
        [{ type: "set_ticket_status", value: "solved" }],
      ),
    ).toBe("actions.0");
  });

  it("leaves rules alone whose event their actions cannot cause, or whose conditions read other things", () => {
    const label = [{ type: "label", value: "seen" }];
    expect(check("conversation.created", [{ field: "labels", op: "contains", value: "vip" }], label)).toBe("ok");
    expect(check("conversation.updated", [{ field: "text", op: "contains", value: "发票" }], label)).toBe("ok");
  });

  it("refuses a ticket.created rule that creates tickets", () => {
    expect(check("ticket.created", [], [{ type: "create_ticket", title: "again" }])).toBe("actions.0");
  });
});
