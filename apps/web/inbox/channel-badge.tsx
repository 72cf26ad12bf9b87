import type { MessageKey } from "./catalog.ts";
import { useI18n } from "./i18n.ts";
import { channelIcon, type Channel } from "./model.ts";

export function ChannelBadge({ channel }: { channel: Channel }) {
  const { t } = useI18n();
  const name = t(`channel.${channel}` as MessageKey);
  return (
    <span className={`channel channel-${channel}`} role="img" aria-label={name} title={name}>
      {channelIcon[channel]}
    </span>
  );
}
