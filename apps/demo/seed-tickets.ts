import { and, asc, eq } from "drizzle-orm";
import { conversations, teams, users } from "../../db/schema/index.ts";
import type { Actor } from "../../conversations/actor.ts";
import { withEvents } from "../../conversations/transaction.ts";
import { changeTicket } from "../../tickets/change-ticket.ts";
import { insertTicket } from "../../tickets/create-ticket.ts";
import { addComment } from "../../tickets/entry.ts";
import { createTicketField } from "../../tickets/ticket-fields.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * The demo's tickets: an order-number field, a refund ticket (#1001) made from 王芳's chat, handed to
 * Billing and 李娜 with a comment that mentions her, and a repair ticket on its own waiting for the
 * customer, so the ticket list, a ticket's history and the bell have something on first sign-in.
 */
export async function seedDemoTickets(rt: Runtime, workspaceId: string) {
  const db = rt.core.db;
  const person = async (email: string) => {
    const [u] = await db.select().from(users).where(eq(users.email, email));
    return u!;
  };
  const [lina, sam] = [await person("lina@demo.test"), await person("supervisor@demo.test")];
  const [billing] = await db
    .select({ id: teams.id })
    .from(teams)
    .where(and(eq(teams.workspaceId, workspaceId), eq(teams.name, "Billing")));
  const [chat] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.channel, "webchat")))
    .orderBy(asc(conversations.createdAt))
    .limit(1);
  await createTicketField(db, workspaceId, { key: "order_no", label: "订单号 Order number", kind: "text" });
  const supervisor: Actor = { userId: sam.id, workspaceId, role: sam.role, name: sam.name, teamIds: [] };
  const refund = await withEvents(rt.core, async (tx, events) => {
    const ticket = await insertTicket(
      tx,
      events,
      workspaceId,
      {
        title: "订单 #10086 未发货，申请退款",
        description: "客户下单三天仍未发货，要求退款或尽快发货。",
        type: "refund",
        priority: "high",
        teamId: billing?.id ?? null,
        conversationId: chat?.id ?? null,
        fields: { order_no: "10086" },
        source: { kind: chat ? "conversation" : "api" },
      },
      supervisor,
    );
    return changeTicket(tx, events, workspaceId, ticket.id, { status: "open", assigneeId: lina.id }, supervisor);
  });
  await addComment(rt.core, supervisor, refund.id, "@李娜 请核实仓库发货状态，今天内回复客户。");
  await withEvents(rt.core, async (tx, events) => {
    const repair = await insertTicket(
      tx,
      events,
      workspaceId,
      {
        title: "Kettle stopped heating",
        description: "Bought in March; the light comes on but the water stays cold.",
        type: "repair",
        source: { kind: "api" },
      },
      supervisor,
    );
    await changeTicket(tx, events, workspaceId, repair.id, { status: "pending_customer" }, supervisor);
  });
}
