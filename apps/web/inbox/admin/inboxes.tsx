import { useEffect, useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { useWorkspace } from "../workspace.tsx";
import { EmailInboxForm } from "./email.tsx";
import { CsatSettingsCard } from "./csat-settings.tsx";
import { Field, useSubmit } from "./form.tsx";
import { MessagingInboxCard } from "./messaging-card.tsx";
import { MESSAGING_CHANNELS, MessagingInboxForm } from "./messaging-inbox.tsx";
import { Snippet } from "./snippet.tsx";
import { CallLinePicker, IvrEditor, PhoneLineForm } from "./voice.tsx";
import { WechatInboxCard, WechatInboxForm } from "./wechat.tsx";

export function Inboxes() {
  const { t } = useI18n();
  const { inboxes, reload } = useWorkspace();
  const { submit, error } = useSubmit();
  const [created, setCreated] = useState<string | null>(null);
  const [addingEmail, setAddingEmail] = useState(false);
  const [addingWechat, setAddingWechat] = useState(false);
  const [addingMessaging, setAddingMessaging] = useState(false);
  const [createdWechat, setCreatedWechat] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  // A new inbox may land far down the list: bring its card (and a WeChat inbox's server URL) into view.
  useEffect(() => {
    if (created) document.querySelector(`[data-inbox-id="${created}"]`)?.scrollIntoView({ block: "nearest" });
  }, [created, inboxes]);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name"));
    let id = "";
    if (
      await submit(
        async () => (id = (await request<{ id: string }>("/inboxes", { body: { name, channel: "webchat" } })).id),
      )
    ) {
      form.reset();
      setCreated(id);
      await reload();
    }
  };
  return (
    <>
      <h2>{t("admin.inboxes")}</h2>
      <form className="row-form" onSubmit={create} data-testid="inbox-form">
        <Field label={t("admin.inboxName")}>
          <input name="name" required maxLength={100} />
        </Field>
        <button type="submit" className="primary">
          {t("admin.createWebchat")}
        </button>
      </form>
      <button
        type="button"
        onClick={() => setAddingEmail((v) => !v)}
        aria-expanded={addingEmail}
        data-testid="add-email-inbox"
      >
        {t("email.admin.add")}
      </button>
      <button
        type="button"
        onClick={() => setAddingWechat((v) => !v)}
        aria-expanded={addingWechat}
        data-testid="add-wechat-inbox"
      >
        {t("wechat.admin.add")}
      </button>
      <button
        type="button"
        onClick={() => setAddingMessaging((v) => !v)}
        aria-expanded={addingMessaging}
        data-testid="add-messaging-inbox"
      >
        {t("inboxForm.add")}
      </button>
      {error}
      {addingWechat && (
        <WechatInboxForm
          onCreated={(id, name) => (setCreated(id), setCreatedWechat(name), setAddingWechat(false), void reload())}
        />
      )}
      {addingMessaging && (
        <MessagingInboxForm
          onCreated={(id) => (setCreated(id), void reload())}
          onClose={() => setAddingMessaging(false)}
        />
      )}
      {createdWechat && (
        <p className="notice" role="status" data-testid="wechat-created">
          {t("wechat.admin.created", { name: createdWechat })}
        </p>
      )}
      <PhoneLineForm onCreated={(id) => (setCreated(id), reload())} />
      {addingEmail && <EmailInboxForm onSaved={() => (setAddingEmail(false), void reload())} />}
      <ul className="cards" data-testid="inbox-list">
        {inboxes.map((i) => (
          <li key={i.id} className={i.id === created ? "highlight" : ""} data-inbox-id={i.id}>
            <strong>{i.name}</strong> · {t(`channel.${i.channel}` as MessageKey)}
            {i.embedSnippet && <Snippet code={i.embedSnippet} />}
            {i.channel === "webchat" && <CallLinePicker inbox={i} />}
            {i.channel === "voice" && <IvrEditor inbox={i} />}
            {i.channel === "wechat" && <WechatInboxCard inbox={i} />}
            {(MESSAGING_CHANNELS as readonly string[]).includes(i.channel) && <MessagingInboxCard inbox={i} />}
            <CsatSettingsCard inboxId={i.id} />
            {i.channel === "email" && (
              <>
                {" "}
                <button
                  type="button"
                  onClick={() => setEditing(editing === i.id ? null : i.id)}
                  aria-expanded={editing === i.id}
                  data-testid="email-settings"
                >
                  {t("email.admin.settings")}
                </button>
                {editing === i.id && <EmailInboxForm inboxId={i.id} onSaved={() => void reload()} />}
              </>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}
