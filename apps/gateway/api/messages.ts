import { timingSafeEqual } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { ApiInboundMessage, identitiesOf, toInbound } from "../../../channels/api/index.ts";
import { normalizeIdentity } from "../../../conversations/contact.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { contactIdentities, inboxes } from "../../../db/schema/index.ts";
import { sha256Hex } from "../../../platform/crypto.ts";
import { Invalid, NotFound, Unauthorized } from "../../../platform/errors.ts";
import { isUuid, parseInput } from "../../../platform/validation.ts";
import { TtlCache } from "../../../platform/ttl-cache.ts";
import type { Runtime } from "../../server/runtime.ts";

const WRONG_TOKEN = "Send Authorization: Bearer <the inbox token> of this API inbox";

/**
 * `POST /api/v1/inboxes/:id/messages`: a customer's message from an API inbox's integration. Not behind
 * the agents' sign-in: the inbox token (shown once when the inbox was made, only its SHA-256 kept in
 * the sealed credentials) is the whole authentication, and it is good for its own inbox only. The
 * same `externalId` again answers 200 with the stored ids and stores nothing.
 */
export function apiChannelMessages(rt: Runtime) {
  const app = new Hono();
  // Each API inbox's token hash, kept 5 s per node: looking it up and unsealing it was most of a
  // message's cost. An inbox made a moment ago answers at once (unknown ids are not kept).
  const apiInboxes = new TtlCache<string, { id: string; workspaceId: string; tokenHash: string }>(5_000);
  app.post("/inboxes/:id/messages", async (c) => {
    const id = c.req.param("id");
    const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    // A malformed id is a 404 as on every route; a well-formed one answers 401 unless its own token
    // comes with it, so whether an inbox exists is not told to whoever lacks the token.
    if (!isUuid(id)) throw new NotFound("Inbox", "id");
    if (!token) throw new Unauthorized(WRONG_TOKEN);
    const inbox = await apiInboxes.getOr(id, async () => {
      const [row] = await rt.core.db
        .select({
          id: inboxes.id,
          workspaceId: inboxes.workspaceId,
          name: inboxes.name,
          credentials: inboxes.credentials,
        })
        .from(inboxes)
        .where(and(eq(inboxes.id, id), eq(inboxes.channel, "api")));
      if (!row) return undefined;
      const tokenHash = readCredentials(rt.keyring, row).tokenHash;
      return { id: row.id, workspaceId: row.workspaceId, tokenHash: typeof tokenHash === "string" ? tokenHash : "" };
    });
    if (!inbox?.tokenHash || !sameHex(inbox.tokenHash, sha256Hex(token))) throw new Unauthorized(WRONG_TOKEN);
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new Invalid("The body must be a JSON object");
    }
    const message = parseInput(ApiInboundMessage, raw);
    const { extra } = identitiesOf(message.contact);
    const inbound = toInbound(inbox.id, message, crypto.randomUUID());
    // Most messages name only the contact's identifier: they join the batched ingest the webhooks use
    // (one transaction for many messages). Extra identities need the one-message path's hook.
    const result = !extra.length
      ? await rt.inbound.submit(inbox.workspaceId, inbound)
      : await ingestInbound(rt.core, inbox.workspaceId, inbound, {
          // An email or phone number the integration gave joins the contact, unverified, unless it is
          // another contact's already (then the two are for an agent to merge).
          stored: async (tx, s) => {
            for (const identity of extra.map(normalizeIdentity))
              await tx
                .insert(contactIdentities)
                .values({
                  workspaceId: inbox.workspaceId,
                  contactId: s.contactId,
                  kind: identity.kind,
                  value: identity.value,
                  verified: false,
                })
                .onConflictDoNothing();
          },
        });
    return c.json(
      { conversationId: result.conversation.id, itemId: result.item.id, contactId: result.contactId },
      result.duplicate ? 200 : 201,
    );
  });
  return app;
}

function sameHex(a: string, b: string) {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
