import { expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { webhookDeliveries } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { createWebhook, pruneDeliveries } from "./webhook.ts";
import { WebhookWorker, webhookSignature } from "./webhook-delivery.ts";

const policy = { allowHosts: ["127.0.0.1"] };

async function hookWithDelivery(status: "pending" | "delivered" | "failed", createdAt = new Date()) {
  const w = await testWorkspace();
  const hook = await createWebhook(w.core.db, w.keyring, policy, {
    workspaceId: w.workspaceId,
    url: "http://127.0.0.1:9/hooks",
    events: ["contact.updated"],
  });
  const [row] = await w.core.db
    .insert(webhookDeliveries)
    .values({
      workspaceId: w.workspaceId,
      webhookId: hook.id,
      eventId: crypto.randomUUID(),
      type: "contact.updated",
      payload: { contact: { id: "c" } },
      status,
      createdAt,
    })
    .returning();
  return { w, hook, delivery: row! };
}

it("signs the timestamp and the raw body with the secret, as lowercase hex", () => {
  // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
  expect(webhookSignature("whsec_test", 1700000000, '{"a":1}')).toBe(
    "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789",
  );
  expect(webhookSignature("whsec_test", 1700000000, '{"a":1}')).toMatch(/^sha256=[0-9a-f]{64}$/);
});

it("fails a delivery the outbound policy refuses, with the reason and no status code", async () => {
  const { w, delivery, hook } = await hookWithDelivery("pending");
  // The address turned private after registration (DNS changed, or the allow list shrank).
  const worker = new WebhookWorker(w.core.db, { keyring: w.keyring, policy: { allowHosts: [] }, backoffMs: [] });
  expect(await worker.runOnce()).toBeGreaterThanOrEqual(1);
  const [row] = await w.core.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, delivery.id));
  expect(row).toMatchObject({ webhookId: hook.id, status: "failed", attempts: 1, responseStatus: null });
  expect(row!.lastError).toContain("OUTBOUND_ALLOW_HOSTS");
});

it("prunes finished deliveries past retention and keeps pending and recent ones", async () => {
  const old = new Date(Date.now() - 40 * 86_400_000);
  const done = await hookWithDelivery("delivered", old);
  const waiting = await hookWithDelivery("pending", old);
  const recent = await hookWithDelivery("failed");
  await pruneDeliveries(done.w.core.db, new Date(Date.now() - 30 * 86_400_000));
  const left = async (id: string) =>
    (await done.w.core.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id))).length;
  expect(await left(done.delivery.id)).toBe(0);
  expect(await left(waiting.delivery.id)).toBe(1);
  expect(await left(recent.delivery.id)).toBe(1);
  // The pending one is not this test's to deliver: leave nothing due for other workers.
  await done.w.core.db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, waiting.delivery.id));
});
