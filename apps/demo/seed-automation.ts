import { asStored, parseActions } from "../../automation/action.ts";
import { automationRules, macros } from "../../db/schema/index.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * The demo's automation: a rule that labels chats about invoices (发票) as they arrive, one that solves
 * tickets left three days waiting on the customer, and a shared "Refund approved" macro — so Settings →
 * Automations and Macros, and `/` in the composer, have something to show on first sign-in.
 */
export async function seedDemoAutomation(rt: Runtime, workspaceId: string) {
  const db = rt.core.db;
  await db.insert(automationRules).values([
    {
      workspaceId,
      name: "发票 → invoice",
      event: "conversation.created",
      conditions: [{ field: "text", op: "contains", value: ["发票", "invoice"] }],
      actions: asStored(parseActions([{ type: "label", value: "invoice" }])),
      position: 0,
    },
    {
      workspaceId,
      name: "Solve tickets 3 days pending the customer",
      event: "ticket.idle",
      afterMinutes: 3 * 24 * 60,
      conditions: [{ field: "status", op: "equals", value: "pending_customer" }],
      actions: asStored(parseActions([{ type: "set_ticket_status", value: "solved" }])),
      position: 1,
    },
  ]);
  await db.insert(macros).values({
    workspaceId,
    name: "Refund approved / 退款已批准",
    actions: asStored(
      parseActions([
        { type: "label", value: "refund" },
        { type: "reply", body: "您好 {{contact.name}}，您的退款已批准，3 个工作日内原路退回。" },
        { type: "close" },
      ]),
    ),
  });
  rt.automation.invalidate(workspaceId);
}
