import { useEffect, useState, type FormEvent } from "react";
import type { WechatKind } from "../../../../channels/wechat/setup.ts";
import { catalog, type MessageKey } from "../catalog.ts";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { Inbox } from "../model.ts";
import { Field } from "./form.tsx";
import { Snippet } from "./snippet.tsx";

const KINDS: WechatKind[] = ["official", "wecom", "wechaty"];

type FieldSpec = {
  name: string;
  /** Typed once, sealed on the server, never shown back. */
  secret?: boolean;
  optional?: boolean;
  placeholder?: string;
  /** The admin picks these and types the same into WeChat's console: we can pick them for them. */
  generate?: number;
  options?: { value: string; label: MessageKey | string }[];
};

/** The fields of each kind, as channels/wechat/setup.ts validates them (the server has the last word). */
const FIELDS: Record<WechatKind, FieldSpec[]> = {
  official: [
    { name: "appId", placeholder: "wx0123456789abcdef" },
    { name: "appSecret", secret: true },
    { name: "token", generate: 32 },
    { name: "encodingAesKey", generate: 43 },
    {
      name: "mode",
      options: ["compatible", "safe", "plaintext"].map((m) => ({ value: m, label: `wechat.admin.mode.${m}` })),
    },
  ],
  wecom: [
    { name: "corpId", placeholder: "ww0123456789abcdef" },
    { name: "secret", secret: true },
    { name: "openKfid", placeholder: "wkAbCdEf0123456789" },
    { name: "token", generate: 32 },
    { name: "encodingAesKey", generate: 43 },
    { name: "servicerUserId", optional: true },
  ],
  wechaty: [
    {
      name: "puppet",
      options: ["wechaty-puppet-service", "wechaty-puppet-mock"].map((p) => ({ value: p, label: p })),
    },
    { name: "puppetToken", secret: true, optional: true },
  ],
};

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** Letters and digits only: WeChat's console takes nothing else for a Token or an EncodingAESKey. */
function randomText(length: number) {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ALNUM[b % ALNUM.length]).join("");
}

type Refusal = { field: string | null; message: string };

/**
 * Creates a WeChat inbox of any of the three kinds. A refusal is shown at the field the server names,
 * in the UI's language when the catalog explains that field, else in the server's words.
 */
export function WechatInboxForm({ onCreated }: { onCreated(id: string, name: string): void }) {
  const { t } = useI18n();
  const [kind, setKind] = useState<WechatKind>("official");
  const [values, setValues] = useState<Record<string, string>>({
    mode: "compatible",
    puppet: "wechaty-puppet-service",
  });
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));
  const fields = FIELDS[kind];
  const shownAt = (field: string) => (refusal?.field === field ? refusal : null);
  const explain = (field: string, message: string) => {
    const key = `wechat.field.${field}`;
    return key in catalog.en ? t(key as MessageKey) : message;
  };

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setRefusal(null);
    setBusy(true);
    const name = (values.name ?? "").trim();
    const setup = Object.fromEntries(
      fields.map((f) => [f.name, values[f.name]?.trim() || undefined]).filter(([, v]) => v !== undefined),
    );
    try {
      const inbox = await request<{ id: string }>("/inboxes", { body: { name, channel: "wechat", kind, ...setup } });
      // Secrets leave the browser's memory with the form.
      setValues({ mode: "compatible", puppet: "wechaty-puppet-service" });
      onCreated(inbox.id, name);
    } catch (err) {
      if (err instanceof ApiError) {
        const field =
          err.field && (err.field === "name" || fields.some((f) => f.name === err.field)) ? err.field : null;
        setRefusal({ field, message: field ? explain(field, err.message) : err.message });
      } else setRefusal({ field: null, message: t("error.generic") });
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (field: string) => {
    const shown = shownAt(field);
    return shown ? (
      <span className="error" role="alert" data-testid="field-error" data-field={field}>
        {shown.message}
      </span>
    ) : null;
  };

  return (
    <form className="wechat-form" onSubmit={create} data-testid="wechat-form" noValidate>
      <Field label={t("wechat.admin.kind")}>
        <select
          value={kind}
          onChange={(e) => (setKind(e.target.value as WechatKind), setRefusal(null))}
          data-testid="wechat-kind"
        >
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`wechat.kind.${k}`)}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t("admin.inboxName")}>
        <input
          name="name"
          value={values.name ?? ""}
          onChange={(e) => set("name", e.target.value)}
          maxLength={100}
          aria-invalid={shownAt("name") ? true : undefined}
        />
        {fieldError("name")}
      </Field>
      {fields.map((f) => (
        <Field key={`${kind}-${f.name}`} label={t(`wechat.admin.${f.name}` as MessageKey)}>
          {f.options ? (
            <select name={f.name} value={values[f.name] ?? ""} onChange={(e) => set(f.name, e.target.value)}>
              {f.options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label.includes(".") ? t(o.label as MessageKey) : o.label}
                </option>
              ))}
            </select>
          ) : (
            <span className="inline">
              <input
                name={f.name}
                type={f.secret ? "password" : "text"}
                autoComplete="off"
                spellCheck={false}
                placeholder={f.placeholder}
                value={values[f.name] ?? ""}
                onChange={(e) => set(f.name, e.target.value)}
                aria-invalid={shownAt(f.name) ? true : undefined}
              />
              {f.generate && (
                <button type="button" onClick={() => set(f.name, randomText(f.generate!))}>
                  {t("wechat.admin.generate")}
                </button>
              )}
            </span>
          )}
          {fieldError(f.name)}
        </Field>
      ))}
      <p className="hint">{t("wechat.admin.secretsKept")}</p>
      {refusal && !refusal.field && (
        <p className="error" role="alert">
          {refusal.message}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy}>
        {t("wechat.admin.create")}
      </button>
    </form>
  );
}

/** A WeChat inbox in the list: its kind and public ids, the URL for WeChat's console, the bot for Wechaty. */
export function WechatInboxCard({ inbox }: { inbox: Inbox }) {
  const { t } = useI18n();
  const kind = inbox.kind ?? "official";
  const ids = [inbox.appId, inbox.corpId, inbox.openKfid, inbox.puppet].filter(Boolean).join(" · ");
  return (
    <div className="wechat-inbox" data-testid="wechat-inbox" data-kind={kind}>
      <span className="channel-kind" data-testid="wechat-kind-label">
        {t(`wechat.kind.${kind}`)}
      </span>{" "}
      {ids && <code>{ids}</code>}
      {inbox.webhookUrl && (
        <div data-testid="wechat-webhook">
          <span>{t("wechat.admin.webhookUrl")}</span>
          <Snippet code={inbox.webhookUrl} />
          <p className="hint">
            {kind === "wecom"
              ? t("wechat.admin.howto.wecom")
              : t("wechat.admin.howto.official", {
                  mode: t(`wechat.admin.mode.${inbox.mode ?? "compatible"}` as MessageKey),
                })}
          </p>
        </div>
      )}
      {kind === "wechaty" && (
        <>
          <p className="hint">{t("wechat.admin.howto.wechaty")}</p>
          <WechatyBot inboxId={inbox.id} />
        </>
      )}
    </div>
  );
}

/** `GET /api/v1/inboxes/{id}/wechaty` (apps/inbox/wechaty.ts), as far as the screen needs it. */
type BotState = {
  status: "stopped" | "starting" | "scan" | "logged_in" | "logged_out" | "error";
  /** The admin stopped it: it stays stopped, whatever the node running it last wrote. */
  stopped?: boolean;
  qrImage?: string | null;
  qrcode?: string | null;
  user?: { name: string } | null;
  lastError?: string | null;
};

const POLL_MS = 2000;

/** A Wechaty inbox's bot: its state read every 2 s while the screen is open, the login QR, Start and Stop. */
function WechatyBot({ inboxId }: { inboxId: string }) {
  const { t } = useI18n();
  const [state, setState] = useState<BotState | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const read = () =>
      request<BotState>(`/inboxes/${inboxId}/wechaty`).then(
        (s) => live && (setState(s), setFailed(null)),
        (e) => live && setFailed(e instanceof ApiError ? e.message : t("error.generic")),
      );
    void read();
    const timer = setInterval(() => document.visibilityState === "visible" && void read(), POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [inboxId, t, tick]);
  const act = async (what: "start" | "stop") => {
    setBusy(true);
    try {
      await request(`/inboxes/${inboxId}/wechaty/${what}`, { method: "POST" });
    } catch (e) {
      setFailed(e instanceof ApiError ? e.message : t("error.generic"));
    } finally {
      setBusy(false);
      setTick((n) => n + 1);
    }
  };
  const status = state?.stopped ? "stopped" : state?.status;
  // The QR is an image when the puppet gives one; otherwise its login URL, opened in a new tab.
  const qrLink = status === "scan" && !state?.qrImage && state?.qrcode?.startsWith("https://") ? state.qrcode : null;
  return (
    <section className="wechaty-bot" data-testid="wechaty-bot" data-status={status ?? ""}>
      <strong>{t("wechaty.title")}</strong>{" "}
      <span role="status" data-testid="wechaty-status">
        {status
          ? t(`wechaty.status.${status}` as MessageKey, { name: state?.user?.name ?? "" })
          : failed
            ? t("wechaty.status.unavailable")
            : "…"}
      </span>
      {status === "error" && state?.lastError && <span className="error"> — {state.lastError}</span>}
      {status === "scan" && (
        <div className="wechaty-qr">
          <p>{t("wechaty.scan")}</p>
          {state?.qrImage?.startsWith("data:image/") && (
            <img src={state.qrImage} alt={t("wechaty.qrAlt")} width={220} height={220} data-testid="wechaty-qr" />
          )}
          {qrLink && (
            <a href={qrLink} target="_blank" rel="noreferrer noopener">
              {t("wechaty.qrLink")}
            </a>
          )}
        </div>
      )}
      <div className="row-form">
        <button
          type="button"
          className="primary"
          disabled={busy || status === "starting" || status === "scan" || status === "logged_in"}
          onClick={() => void act("start")}
          data-testid="wechaty-start"
        >
          {t("wechaty.start")}
        </button>
        <button
          type="button"
          disabled={busy || !status || status === "stopped"}
          onClick={() => void act("stop")}
          data-testid="wechaty-stop"
        >
          {t("wechaty.stop")}
        </button>
      </div>
      {failed && state && (
        <p className="error" role="alert">
          {failed}
        </p>
      )}
    </section>
  );
}
