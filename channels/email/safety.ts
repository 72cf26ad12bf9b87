/**
 * What kind of mail this is, from its headers alone: automatic (auto-replies, bulk, lists, bounces),
 * spam-flagged, or a delivery status report. Pure, so the loop-protection rules are unit-tested.
 */
export type HeaderLookup = (name: string) => string | undefined;

export type MailClass = {
  /** Why the mail counts as automatic (never answered automatically), or null for a person's mail. */
  automated: string | null;
  spam: boolean;
  /** A delivery status notification (bounce): it reports on mail we sent, it is no new message. */
  bounce: boolean;
};

export function classifyMail(
  header: HeaderLookup,
  fromAddress: string | undefined,
  contentType: string | undefined,
  reportType: string | undefined,
): MailClass {
  const value = (name: string) => (header(name) ?? "").trim().toLowerCase();
  const from = (fromAddress ?? "").toLowerCase();
  const bounce =
    (contentType === "multipart/report" && (reportType ?? "").toLowerCase() === "delivery-status") ||
    (/^(mailer-daemon|postmaster)@/.test(from) &&
      /^(undeliver|delivery status|returned mail|failure notice|mail delivery)/i.test(header("subject") ?? ""));
  let automated: string | null = null;
  const autoSubmitted = value("auto-submitted");
  if (bounce) automated = "bounce";
  else if (autoSubmitted && autoSubmitted !== "no") automated = `Auto-Submitted: ${autoSubmitted}`;
  else if (
    header("x-autoreply") !== undefined ||
    header("x-autorespond") !== undefined ||
    header("x-autoresponder") !== undefined
  )
    automated = "X-Autoreply";
  else if (/^(bulk|list|junk|auto_reply)$/.test(value("precedence"))) automated = `Precedence: ${value("precedence")}`;
  else if (header("list-id") !== undefined) automated = "List-Id";
  else if (value("x-auto-response-suppress") === "all" || value("x-auto-response-suppress") === "oof")
    automated = "X-Auto-Response-Suppress";
  else if (/^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@/.test(from)) automated = "sender is a system address";
  const spamFlag = value("x-spam-flag");
  const spamStatus = value("x-spam-status");
  const spam = spamFlag === "yes" || spamStatus.startsWith("yes") || /^(spam|yes)/.test(value("x-spam"));
  return { automated, spam, bounce };
}

/** From a DSN's machine-readable part: the failed recipient and the reason the server gave. */
export function parseDeliveryStatus(report: string): {
  recipient?: string;
  action?: string;
  status?: string;
  reason?: string;
} {
  const unfolded = report.replace(/\r?\n[ \t]+/g, " ");
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "im").exec(unfolded)?.[1]?.trim();
  const recipient = field("Final-Recipient") ?? field("Original-Recipient");
  return {
    recipient: recipient?.replace(/^rfc822;\s*/i, "").toLowerCase(),
    action: field("Action")?.toLowerCase(),
    status: field("Status"),
    reason: field("Diagnostic-Code")?.replace(/^smtp;\s*/i, ""),
  };
}
