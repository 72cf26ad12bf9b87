import type { MessageKey } from "./catalog.ts";
import { useI18n } from "./i18n.ts";
import { channelIcon, type Channel } from "./model.ts";
import { useWorkspace } from "./workspace.tsx";

/** Which kind of WeChat inbox (公众号, 微信客服, 微信机器人) a conversation or message came through, if known. */
export function useChannelKind(channel: Channel, inboxId?: string | null) {
  const { t } = useI18n();
  const { inboxes } = useWorkspace();
  if (channel !== "wechat" || !inboxId) return null;
  const kind = inboxes.find((i) => i.id === inboxId)?.kind;
  return kind ? t(`wechat.kind.${kind}`) : null;
}

export function ChannelBadge({ channel, inboxId }: { channel: Channel; inboxId?: string | null }) {
  const { t } = useI18n();
  const kind = useChannelKind(channel, inboxId);
  const name = t(`channel.${channel}` as MessageKey) + (kind ? ` · ${kind}` : "");
  return (
    <span className={`channel channel-${channel}`} role="img" aria-label={name} title={name}>
      {channelIcon[channel]}
    </span>
  );
}
