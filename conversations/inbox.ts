import type { Executor } from "../db/connect.ts";
import { inboxes, type Channel, type InboxSettings } from "../db/schema/index.ts";
import { randomToken, type Keyring } from "../platform/crypto.ts";

/**
 * Creates an inbox. Credentials are sealed before they reach the database; a web chat inbox gets a
 * public widget key and an HMAC secret for identity verification.
 */
export async function createInbox(
  db: Executor,
  keyring: Keyring,
  input: { workspaceId: string; channel: Channel; name: string; settings?: InboxSettings; credentials?: Record<string, unknown> },
) {
  const credentials = input.channel === "webchat" ? { hmacSecret: randomToken(32), ...input.credentials } : input.credentials;
  const [inbox] = await db
    .insert(inboxes)
    .values({
      workspaceId: input.workspaceId,
      channel: input.channel,
      name: input.name,
      publicKey: input.channel === "webchat" ? `wc_${randomToken(12)}` : null,
      credentials: credentials ? keyring.seal(JSON.stringify(credentials)) : null,
      settings: input.settings ?? {},
    })
    .returning();
  return inbox!;
}
