/** The QA shapes the browser reads from /api/v1 (apps/inbox/quality.ts). */
export type QaSeverity = "info" | "warning" | "critical";
export type QaStatus = "open" | "confirmed" | "dismissed";
export type QaFinding = {
  id: string;
  conversationId: string;
  rule: string;
  severity: QaSeverity;
  itemId?: string;
  excerpt: string;
  agentId: string | null;
  agentName?: string | null;
  status: QaStatus;
  coachingNote: string | null;
  createdAt: string;
};
export type ConversationQa = {
  score: number | null;
  sentiment: { start: number; end: number; trend: number } | null;
  findings: QaFinding[];
};
export type QaRule = {
  id: string;
  name: string;
  kind: string;
  config: { phrases?: string[]; maxSeconds?: number; threshold?: number; patterns?: string[] };
  severity: QaSeverity;
  weight: number;
  appliesTo: "all" | "chat" | "call";
  alert: boolean;
  enabled: boolean;
};
export const severities: QaSeverity[] = ["info", "warning", "critical"];
