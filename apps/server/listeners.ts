import { closeTransports } from "../../channels/email/index.ts";
import type { MailResolver } from "../../channels/email/verify.ts";
import type { Runtime } from "./runtime.ts";
import { startImap } from "../../mailboxes/imap-import.ts";
import { startSmtpIn } from "../gateway/email/smtp.ts";
import { startWecomHandover } from "../gateway/wechat/wecom-handover.ts";
import { wecomSyncOf } from "../gateway/wechat/wecom-sync.ts";

/**
 * The email listeners of one node, started and stopped with it: SMTP-in where configured (demo mode
 * or SMTP_IN_PORT) and IMAP import of every email inbox with a mailbox (IMAP_IMPORT). `resolver` is
 * the DNS the sender checks ask (the system's when absent; tests answer for their own domains).
 */
export async function startEmailListeners(
  rt: Runtime,
  options: { smtp?: { port: number; host: string }; imap?: boolean; imapRescanMs?: number; resolver?: MailResolver },
) {
  const smtp = options.smtp ? await startSmtpIn(rt, { ...options.smtp, resolver: options.resolver }) : undefined;
  const imap = options.imap ? startImap(rt, { rescanMs: options.imapRescanMs, resolver: options.resolver }) : undefined;
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

/**
 * The WeChat listeners of one node: WeCom customer-service catch-up pulls (callbacks lost while the
 * server was away) and the hand-over listener that tells WeChat when an agent took or resolved a chat.
 */
export function startWechatListeners(rt: Runtime) {
  const sync = wecomSyncOf(rt);
  sync.start();
  const stopHandover = startWecomHandover({ core: rt.core, bus: rt.core.bus, keyring: rt.keyring, api: sync.api });
  return {
    async stop() {
      await stopHandover();
      await sync.stop();
    },
  };
}
