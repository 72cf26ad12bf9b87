import nodemailer from "nodemailer";
import { largeMail } from "./large-mail.ts";

/**
 * Sends one generated large mail to an SMTP server from its own process, so that a test measuring
 * its server's memory measures the server alone: `bun test/send-mail.ts <port> <from> <to> <subject> <message-id> <MB>`.
 */
const [port, from, to, subject, messageId, megabytes] = process.argv.slice(2);
const mail = largeMail({ from: from!, to: to!, subject: subject!, messageId: messageId! }, Number(megabytes));
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(port),
  secure: false,
  ignoreTLS: true,
  socketTimeout: 60_000,
});
try {
  const info = await transport.sendMail({ envelope: { from: from!, to: [to!] }, raw: mail.stream() });
  console.log(JSON.stringify({ response: info.response }));
} catch (err) {
  const e = err as { responseCode?: number; response?: string; message?: string };
  console.log(JSON.stringify({ responseCode: e.responseCode, response: e.response ?? e.message }));
}
