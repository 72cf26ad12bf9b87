import { closeTransports } from "../../channels/email/index.ts";
import type { Runtime } from "../runtime.ts";
import { startImap } from "./imap.ts";
import { startSmtpIn } from "./smtp.ts";

/**
 * The email listeners of one node, started and stopped with it: SMTP-in where configured (demo mode
 * or SMTP_IN_PORT) and IMAP import of every email inbox with a mailbox (IMAP_IMPORT).
 */
export async function startEmailListeners(rt: Runtime, options: { smtp?: { port: number; host: string }; imap?: boolean; imapRescanMs?: number }) {
  const smtp = options.smtp ? await startSmtpIn(rt, options.smtp) : undefined;
  const imap = options.imap ? startImap(rt, { rescanMs: options.imapRescanMs }) : undefined;
  return {
    smtpPort: smtp?.port,
    imap,
    async stop() {
      await imap?.stop();
      await smtp?.stop();
      closeTransports();
    },
  };
}
