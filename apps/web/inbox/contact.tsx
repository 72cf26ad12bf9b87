import { useCallback, useEffect, useState, type FormEvent } from "react";
import { can } from "../../../platform/permission.ts";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { ChannelBadge } from "./channel-badge.tsx";
import { NewEmail } from "./new-email.tsx";
import { ContactTickets } from "./contact-tickets.tsx";
import { channelIcon, channelsFor, type ContactProfile, type IdentityKind } from "./model.ts";
import { previewText } from "./masked-text.tsx";

const KINDS: IdentityKind[] = ["phone", "whatsapp", "email", "wechat", "slack", "telegram", "visitor"];
type Found = { id: string; name: string | null; identities: { kind: IdentityKind; value: string }[] };

/** Contact 360: identities on every channel, attributes, notes, past conversations; edit and merge. */
export function ContactPanel({
  contactId,
  currentConversationId,
  onClose,
}: {
  contactId: string;
  currentConversationId: string;
  onClose(): void;
}) {
  const { t, ago, locale } = useI18n();
  const day = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
  const { me } = useWorkspace();
  const [p, setP] = useState<ContactProfile | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    () => request<ContactProfile>(`/contacts/${contactId}`).then(setP, () => setError(t("error.generic"))),
    [contactId, t],
  );
  useEffect(() => void load(), [load]);
  useFrames(
    (f) =>
      (f.type === "contact.updated" && f.contact?.id === contactId) ||
      (f.type === "contact.merged" && f.contactId === contactId)
        ? void load()
        : undefined,
    [contactId, load],
  );

  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await load();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  if (!p) return <aside className="contact-panel" aria-busy="true" />;
  const attributes = Object.entries(p.attributes ?? {});
  return (
    <aside className="contact-panel" aria-label={t("contact.title")} data-testid="contact-panel">
      <header>
        <h2>{t("contact.title")}</h2>
        <button type="button" className="close" aria-label={t("common.close")} onClick={onClose}>
          ×
        </button>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <EditableName
        name={p.name}
        onSave={(name) => run(() => request(`/contacts/${p.id}`, { method: "PATCH", body: { name } }))}
      />

      <NewEmail contactId={p.id} addresses={p.identities.filter((i) => i.kind === "email").map((i) => i.value)} />
      <section aria-labelledby="identities-h">
        <h3 id="identities-h">{t("contact.identities")}</h3>
        <ul className="identities" data-testid="identities">
          {p.identities.map((i) => (
            <li key={i.id} data-kind={i.kind}>
              <span className="kind">
                {/* The channel's icon: a phone number, a WhatsApp number, a Slack or Telegram user at a glance. */}
                {channelsFor[i.kind][0] && (
                  <span aria-hidden="true" className="identity-icon">
                    {channelIcon[channelsFor[i.kind][0]!]}
                  </span>
                )}{" "}
                {t(`identity.${i.kind}` as MessageKey)}
              </span>{" "}
              <span dir="auto">{i.value}</span>
              {i.optedOutAt && (
                <span className="via-state via-opted_out" data-testid="opted-out-badge">
                  {t("contact.optedOut", { date: day.format(new Date(i.optedOutAt)) })}
                </span>
              )}
              {p.identities.length > 1 && (
                <button
                  type="button"
                  aria-label={t("contact.removeIdentity", { value: i.value })}
                  onClick={() => run(() => request(`/contacts/${p.id}/identities/${i.id}`, { method: "DELETE" }))}
                >
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
        <form
          className="row-form"
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const data = new FormData(form);
            void run(() =>
              request(`/contacts/${p.id}/identities`, { body: { kind: data.get("kind"), value: data.get("value") } }),
            ).then(() => form.reset());
          }}
        >
          <select name="kind" aria-label={t("contact.identityKind")}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`identity.${k}` as MessageKey)}
              </option>
            ))}
          </select>
          <input
            name="value"
            required
            maxLength={320}
            aria-label={t("contact.identityValue")}
            placeholder={t("contact.identityValue")}
          />
          <button type="submit">{t("common.add")}</button>
        </form>
      </section>

      <section aria-labelledby="attributes-h">
        <h3 id="attributes-h">{t("contact.attributes")}</h3>
        <label className="field inline">
          <input
            type="checkbox"
            checked={p.attributes.vip === true}
            onChange={(e) => {
              const vip = e.target.checked;
              // Shown at once; the reload after the save confirms it (or puts it back on an error).
              setP({ ...p, attributes: { ...p.attributes, vip } });
              void run(() => request(`/contacts/${p.id}`, { method: "PATCH", body: { attributes: { vip } } }));
            }}
            data-testid="vip"
          />
          <span>VIP</span>
        </label>
        <dl className="attributes">
          {attributes
            .filter(([k]) => k !== "vip")
            .map(([k, v]) => (
              <div key={k}>
                <dt dir="auto">{k}</dt>
                <dd dir="auto">{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
              </div>
            ))}
        </dl>
        <form
          className="row-form"
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const data = new FormData(form);
            const key = String(data.get("key")).trim();
            if (key)
              void run(() =>
                request(`/contacts/${p.id}`, {
                  method: "PATCH",
                  body: { attributes: { [key]: String(data.get("value")) } },
                }),
              ).then(() => form.reset());
          }}
        >
          <input
            name="key"
            maxLength={100}
            aria-label={t("contact.attributeName")}
            placeholder={t("contact.attributeName")}
          />
          <input
            name="value"
            maxLength={1000}
            aria-label={t("contact.attributeValue")}
            placeholder={t("contact.attributeValue")}
          />
          <button type="submit">{t("common.save")}</button>
        </form>
      </section>

      <section aria-labelledby="notes-h">
        <h3 id="notes-h">{t("contact.notes")}</h3>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const text = String(new FormData(form).get("text")).trim();
            if (text) void run(() => request(`/contacts/${p.id}/notes`, { body: { text } })).then(() => form.reset());
          }}
        >
          <textarea
            name="text"
            rows={2}
            maxLength={5000}
            aria-label={t("contact.addNote")}
            placeholder={t("contact.addNote")}
          />
          <button type="submit">{t("common.add")}</button>
        </form>
        <ul className="notes" data-testid="contact-notes">
          {(p.notes ?? []).map((n) => (
            <li key={n.id}>
              <p dir="auto">{n.text}</p>
              <small>
                {n.author?.name ?? "—"} · {ago(n.createdAt)}
              </small>
              <button
                type="button"
                aria-label={t("contact.deleteNote")}
                onClick={() => run(() => request(`/contacts/${p.id}/notes/${n.id}`, { method: "DELETE" }))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="history-h">
        <h3 id="history-h">{t("contact.history")}</h3>
        <ul className="history" data-testid="contact-history">
          {p.conversations.map((c) => (
            <li key={c.id} aria-current={c.id === currentConversationId ? "true" : undefined}>
              <a href={`#/inbox/all/${c.id}`}>
                <ChannelBadge channel={c.channel} /> <span dir="auto">{previewText(c.lastMessageText)}</span>
                <small>
                  {t(`status.${c.status}` as MessageKey)} · {ago(c.lastActivityAt)}
                </small>
              </a>
            </li>
          ))}
        </ul>
      </section>

      {can(me, "tickets.read") && <ContactTickets contactId={p.id} />}

      {/* Merging decides who reads the moved conversations: supervisors and admins (contacts.merge). */}
      {can(me, "contacts.merge") && <Merge contactId={p.id} onMerged={load} />}
    </aside>
  );
}

function EditableName({ name, onSave }: { name: string | null; onSave(name: string): void }) {
  const { t } = useI18n();
  const [value, setValue] = useState(name ?? "");
  useEffect(() => setValue(name ?? ""), [name]);
  return (
    <form
      className="row-form"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        if (value.trim() && value.trim() !== name) onSave(value.trim());
      }}
    >
      <input
        value={value}
        onChange={(e) => setValue(e.target.value)}
        maxLength={200}
        aria-label={t("contact.name")}
        placeholder={t("contact.name")}
        data-testid="contact-name"
        dir="auto"
      />
      <button type="submit">{t("common.save")}</button>
    </form>
  );
}

/** Two records of one person (a chat visitor who later emailed): merge the other into this one. */
function Merge({ contactId, onMerged }: { contactId: string; onMerged(): void }) {
  const { t } = useI18n();
  const [q, setQ] = useState("");
  const [found, setFound] = useState<Found[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (q.trim().length < 2) return setFound([]);
    const timer = setTimeout(() => {
      request<{ items: Found[] }>(`/contacts?q=${encodeURIComponent(q.trim())}&limit=10`).then(
        (r) => setFound(r.items.filter((c) => c.id !== contactId)),
        () => {},
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [q, contactId]);
  const merge = async (other: Found) => {
    if (!confirm(t("contact.mergeConfirm", { name: other.name ?? other.identities[0]?.value ?? "" }))) return;
    try {
      await request(`/contacts/${contactId}/merge`, { body: { mergeId: other.id } });
      setQ("");
      onMerged();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  return (
    <section aria-labelledby="merge-h">
      <h3 id="merge-h">{t("contact.merge")}</h3>
      <input
        type="search"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        placeholder={t("contact.mergeSearch")}
        aria-label={t("contact.mergeSearch")}
        data-testid="merge-search"
      />
      {error && <p className="error">{error}</p>}
      <ul className="merge-results">
        {found.map((c) => (
          <li key={c.id}>
            <span dir="auto">{c.name ?? "—"}</span>{" "}
            <small dir="auto">{c.identities.map((i) => i.value).join(", ")}</small>
            <button type="button" onClick={() => merge(c)}>
              {t("contact.mergeInto")}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
