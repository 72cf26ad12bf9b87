import { email } from "../../channels/email/index.ts";
import { readCredentials } from "../../conversations/inbox.ts";
import { startEmailVerification, VERIFICATION_CODE_HOURS, VERIFY_TAG } from "../../conversations/inbox-route.ts";
import type { Inbox } from "../../db/schema/index.ts";
import { Conflict } from "../../platform/errors.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * Proving that a workspace owns an email address it gave an inbox: a one-time code is mailed, through
 * the inbox's own outgoing server, to `local+verify-<code>@domain`. Where that address's mail comes
 * to SMTP-in (the domain's MX, or a forward) the code proves the address on arrival; where it lands in
 * a mailbox, an admin reads it there and enters it. Until then SMTP-in delivers nothing for it.
 */
export async function mailVerificationCodes(rt: Runtime, inbox: Inbox): Promise<string[]> {
  const settings = inbox.settings as { address?: string; smtp?: unknown; displayName?: string };
  if (!settings.smtp) {
    throw new Conflict("Set an outgoing mail server (email.smtp) first: the code is mailed through it", "email.smtp");
  }
  const credentials = readCredentials(rt.keyring, inbox, rt.core.db);
  const codes = await startEmailVerification(rt.core.db, inbox.workspaceId, inbox.id);
  for (const { key, code } of codes) {
    const at = key.lastIndexOf("@");
    const to = `${key.slice(0, at)}+${VERIFY_TAG}${code}${key.slice(at)}`;
    const text = [
      `Switchboard was asked to receive mail for ${key} in the inbox "${inbox.name}".`,
      "If this mail reaches Switchboard through its SMTP-in, the address is verified already.",
      `Otherwise enter this code in the inbox's email settings within ${VERIFICATION_CODE_HOURS} hours: ${code}`,
      "If you did not ask for this, ignore this mail: nothing is delivered anywhere for this address.",
    ].join("\n\n");
    const sent = email.send({
      idempotencyKey: `verify-${inbox.id}-${code}`,
      inbox: { id: inbox.id, channel: "email", settings: inbox.settings, credentials },
      conversationId: inbox.id,
      to: [{ kind: "email", value: to }],
      text,
      html: null,
      attachments: [],
      channelData: {
        email: {
          messageId: `<verify-${code}@switchboard.invalid>`,
          from: { name: settings.displayName ?? inbox.name, address: settings.address ?? key },
          to: [to],
          replyTo: settings.address ?? key,
          subject: `Switchboard: verification code for ${key}`,
          automatic: true,
        },
      },
    });
    await sent.catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      throw new Conflict(`The verification mail to ${key} could not be sent: ${reason}`, "email.smtp");
    });
  }
  return codes.map((c) => c.key);
}
