import type { ChannelAdapter } from "../conversations/channel.ts";
import { api } from "./api/index.ts";
import { email } from "./email/index.ts";
import { sms, whatsapp } from "./twilio-messaging/index.ts";
import { voice } from "./voice/index.ts";
import { webchat } from "./webchat/index.ts";

/** Every channel adapter the outbox can send through, by channel name. */
export const adapters: Partial<Record<ChannelAdapter["channel"], ChannelAdapter>> = {
  webchat,
  voice,
  email,
  api,
  sms,
  whatsapp,
};
