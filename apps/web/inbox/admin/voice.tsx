import { useEffect, useState, type FormEvent } from "react";
import { Field, useSubmit } from "./form.tsx";
import { useWorkspace } from "../workspace.tsx";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { Inbox } from "../model.ts";

/** Adds a Twilio phone number as a voice inbox; the credentials are sealed on the server. */
export function PhoneLineForm({ onCreated }: { onCreated(id: string): void }) {
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const [hooks, setHooks] = useState<{ incoming: string; status: string } | null>(null);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const text = (k: string) => String(f.get(k) ?? "").trim() || undefined;
    let created: { id: string; webhooks: { incoming: string; status: string } } | undefined;
    const ok = await submit(async () => {
      created = await request("/inboxes/voice", {
        body: {
          name: text("name"),
          phoneNumber: text("phoneNumber"),
          accountSid: text("accountSid"),
          authToken: text("authToken"),
          apiKeySid: text("apiKeySid"),
          apiKeySecret: text("apiKeySecret"),
          twimlAppSid: text("twimlAppSid"),
          recording: text("recording"),
          language: text("language"),
        },
      });
    });
    if (ok && created) {
      form.reset();
      setHooks(created.webhooks);
      onCreated(created.id);
    }
  };
  return (
    <form className="row-form" onSubmit={create} data-testid="phone-form">
      <Field label={t("admin.inboxName")}>
        <input name="name" required maxLength={100} />
      </Field>
      <Field label={t("call.inbox.number")}>
        <input name="phoneNumber" required placeholder="+15005550006" />
      </Field>
      <Field label={t("call.inbox.accountSid")}>
        <input name="accountSid" required placeholder="AC…" />
      </Field>
      <Field label={t("call.inbox.authToken")}>
        <input name="authToken" type="password" required autoComplete="off" />
      </Field>
      <Field label={t("call.inbox.apiKeySid")}>
        <input name="apiKeySid" placeholder="SK…" />
      </Field>
      <Field label={t("call.inbox.apiKeySecret")}>
        <input name="apiKeySecret" type="password" autoComplete="off" />
      </Field>
      <Field label={t("call.inbox.twimlAppSid")}>
        <input name="twimlAppSid" placeholder="AP…" />
      </Field>
      <Field label={t("call.inbox.recording")}>
        <select name="recording" defaultValue="on_demand">
          {(["always", "on_demand", "never"] as const).map((r) => (
            <option key={r} value={r}>
              {t(`call.inbox.recording.${r}`)}
            </option>
          ))}
        </select>
      </Field>
      <Field label="IVR">
        <select name="language" defaultValue="zh-CN">
          <option value="zh-CN">中文</option>
          <option value="en">English</option>
        </select>
      </Field>
      <button type="submit" className="primary">
        {t("common.add")} · {t("call.phone")}
      </button>
      {error}
      {hooks && (
        <p className="notice" data-testid="phone-webhooks">
          Twilio: {hooks.incoming} · {hooks.status}
        </p>
      )}
    </form>
  );
}

/** The IVR flow as JSON, checked by the server on save; the first problem is shown with its path. */
export function IvrEditor({ inbox }: { inbox: Inbox }) {
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (!open) return;
    // What was saved, unless the admin has already started typing: never overwrite their edit.
    request<{ flow: unknown }>(`/inboxes/${inbox.id}/ivr-flow`).then(
      (r) => setText((typed) => typed || JSON.stringify(r.flow ?? { start: "", nodes: {} }, null, 2)),
      () => {},
    );
  }, [open, inbox.id]);
  const save = async () => {
    setSaved(false);
    const ok = await submit(async () => {
      let flow: unknown;
      try {
        flow = JSON.parse(text);
      } catch (e) {
        throw new ApiError(400, "invalid_json", e instanceof Error ? e.message : "not JSON", "flow");
      }
      await request(`/inboxes/${inbox.id}/ivr-flow`, { method: "PUT", body: { flow } });
    });
    setSaved(ok);
  };
  return (
    <details
      className="ivr-editor"
      onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}
      data-testid="ivr-editor"
    >
      <summary>{t("call.ivr.title", { name: inbox.name })}</summary>
      <p className="hint">{t("call.ivr.help")}</p>
      <textarea
        aria-label={t("call.ivr.title", { name: inbox.name })}
        value={text}
        onChange={(e) => setText(e.target.value)}
        rows={18}
        spellCheck={false}
        data-testid="ivr-json"
      />
      <button type="button" className="primary" onClick={save} data-testid="ivr-save">
        {t("common.save")}
      </button>
      {saved && <span role="status">{t("call.ivr.saved")}</span>}
      {error}
    </details>
  );
}

type CallLine = { voiceInboxId: string | null; queueId: string | null };

/**
 * Where a web chat inbox's call button goes: browser to browser (WebRTC, no Twilio needed), or
 * through one of the workspace's phone lines into a queue (the visitor joins with Twilio's SDK).
 */
export function CallLinePicker({ inbox }: { inbox: Inbox }) {
  const { t } = useI18n();
  const { inboxes, queues } = useWorkspace();
  const { submit, error } = useSubmit();
  const [line, setLine] = useState<CallLine | null>(null);
  const [saved, setSaved] = useState(false);
  const lines = inboxes.filter((i) => i.channel === "voice");
  useEffect(() => {
    request<CallLine>(`/inboxes/${inbox.id}/call-line`).then(setLine, () => {});
  }, [inbox.id]);
  if (!line || !lines.length) return null;
  const save = async (next: CallLine) => {
    setSaved(false);
    setLine(next);
    // A line needs a queue: saving waits until both are chosen (the server would say so too).
    if (next.voiceInboxId && !next.queueId) return;
    const ok = await submit(async () =>
      setLine(
        await request<CallLine>(`/inboxes/${inbox.id}/call-line`, {
          method: "PUT",
          body: next.voiceInboxId ? next : { voiceInboxId: null },
        }),
      ),
    );
    setSaved(ok);
  };
  return (
    <div className="row-form" data-testid="call-line">
      <Field label={t("call.line.via")}>
        <select
          value={line.voiceInboxId ?? ""}
          onChange={(e) =>
            void save({ voiceInboxId: e.target.value || null, queueId: e.target.value ? line.queueId : null })
          }
        >
          <option value="">{t("call.line.browser")}</option>
          {lines.map((l) => (
            <option key={l.id} value={l.id}>
              {t("call.line.phone", { name: l.name })}
            </option>
          ))}
        </select>
      </Field>
      {line.voiceInboxId && (
        <Field label={t("call.line.queue")}>
          <select value={line.queueId ?? ""} onChange={(e) => void save({ ...line, queueId: e.target.value || null })}>
            <option value="" disabled>
              {t("call.line.chooseQueue")}
            </option>
            {queues.map((q) => (
              <option key={q.id} value={q.id}>
                {q.name}
              </option>
            ))}
          </select>
        </Field>
      )}
      {saved && <span role="status">{t("call.line.saved")}</span>}
      {error}
    </div>
  );
}
