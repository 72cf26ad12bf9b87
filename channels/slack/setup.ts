import { z } from "zod";

/**
 * What an admin gives for a Slack inbox: the Slack workspace (team) whose shared channels customers
 * write in, the app's bot token and signing secret, and optionally an internal channel where new VIP
 * or breached conversations are announced. Pure validation; the inbox API seals the secrets.
 */
export const SlackSetup = z.object({
  teamId: z.string().regex(/^T[A-Z0-9]{2,20}$/, "must be a Slack team id (T…)"),
  botToken: z.string().regex(/^xoxb-[A-Za-z0-9-]{1,250}$/, "must be a Slack bot token (xoxb-…)"),
  signingSecret: z.string().min(16).max(200),
  // The bot's own user: its messages (our replies echoed back by Slack) are not customer messages.
  botUserId: z.string().regex(/^[UW][A-Z0-9]{2,20}$/, "must be a Slack user id (U…)"),
  // Internal channel for agents (optional): new VIP and breached conversations are posted there.
  alertChannel: z
    .string()
    .regex(/^[CG][A-Z0-9]{2,20}$/, "must be a Slack channel id (C…)")
    .optional(),
  apiBaseUrl: z
    .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
    .max(500)
    .optional(),
});
export type SlackSetup = z.output<typeof SlackSetup>;

export function slackInboxOf(input: SlackSetup) {
  const { botToken, signingSecret, ...settings } = input;
  return { settings, credentials: { botToken, signingSecret } };
}
