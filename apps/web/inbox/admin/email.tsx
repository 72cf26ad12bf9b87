import { useEffect, useState, type FormEvent } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field, useSubmit } from "./form.tsx";

type Security = "tls" | "starttls" | "none";
type EmailSetup = {
  address: string;
  displayName?: string;
  signature?: string;
  imap?: { host: string; port: number; security: Security; user: string; mailbox: string; moveTo?: string };
  smtp?: { host: string; port: number; security: Security; user?: string };
  subjectWindowDays: number;
  reopenWithinDays: number;
  [key: string]: unknown;
};
/** An address or alias of the inbox; SMTP-in refuses mail for it (550) until it is verified. */
type Address = { address: string; verified: boolean };
type Loaded = {
  email: EmailSetup;
  credentials: { imapPassword: boolean; smtpPassword: boolean; dkim: boolean };
  addresses: Address[];
};

const text = (form: FormData, name: string) => String(form.get(name) ?? "").trim();
const num = (form: FormData, name: string, fallback: number) => {
  const n = Number(text(form, name));
  return text(form, name) && Number.isFinite(n) ? n : fallback;
};

/**
 * Creates an email inbox (no `inboxId`) or edits one: address, incoming IMAP, outgoing SMTP, signature
 * and threading windows. Passwords are write-only: left empty, the stored one is kept.
 */
export function EmailInboxForm({ inboxId, onSaved }: { inboxId?: string; onSaved: () => void }) {
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (inboxId) request<Loaded>(`/inboxes/${inboxId}/email`).then(setLoaded, () => {});
  }, [inboxId]);
  if (inboxId && !loaded) return <p className="muted">{t("email.admin.loading")}</p>;
  const e = loaded?.email;

  const save = async (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault();
    const f = new FormData(ev.currentTarget);
    const imapHost = text(f, "imapHost");
    const smtpHost = text(f, "smtpHost");
    const email: EmailSetup = {
      ...(e ?? {}),
      address: text(f, "address"),
      displayName: text(f, "displayName") || undefined,
      signature: text(f, "signature") || undefined,
      imap: imapHost
        ? {
            host: imapHost,
            port: num(f, "imapPort", 993),
            security: text(f, "imapSecurity") as Security,
            user: text(f, "imapUser"),
            mailbox: text(f, "imapMailbox") || "INBOX",
            moveTo: text(f, "imapMoveTo") || undefined,
          }
        : undefined,
      smtp: smtpHost
        ? {
            host: smtpHost,
            port: num(f, "smtpPort", 587),
            security: text(f, "smtpSecurity") as Security,
            user: text(f, "smtpUser") || undefined,
          }
        : undefined,
      subjectWindowDays: num(f, "subjectWindowDays", 14),
      reopenWithinDays: num(f, "reopenWithinDays", 30),
    };
    const credentials = {
      ...(text(f, "imapPassword") ? { imapPassword: String(f.get("imapPassword")) } : {}),
      ...(text(f, "smtpPassword") ? { smtpPassword: String(f.get("smtpPassword")) } : {}),
    };
    setSaved(false);
    const ok = await submit(async () => {
      const name = text(f, "name");
      if (!inboxId) return request("/inboxes", { body: { name, channel: "email", email, credentials } });
      // A changed address or alias starts unproven: the list below shows it so.
      setLoaded(await request<Loaded>(`/inboxes/${inboxId}/email`, { method: "PUT", body: { email, credentials } }));
    });
    if (ok) {
      setSaved(true);
      onSaved();
    }
  };

  const security = (name: string, value: Security | undefined, fallback: Security) => (
    <select name={name} defaultValue={value ?? fallback}>
      <option value="tls">{t("email.admin.tls")}</option>
      <option value="starttls">STARTTLS</option>
      <option value="none">{t("email.admin.plain")}</option>
    </select>
  );

  return (
    <>
      <form className="email-form" onSubmit={save} data-testid="email-inbox-form">
        {!inboxId && (
          <Field label={t("admin.inboxName")}>
            <input name="name" required maxLength={100} />
          </Field>
        )}
        <Field label={t("email.admin.address")}>
          <input name="address" type="email" required defaultValue={e?.address} />
        </Field>
        <Field label={t("email.admin.displayName")}>
          <input name="displayName" maxLength={100} defaultValue={e?.displayName} />
        </Field>
        <fieldset>
          <legend>{t("email.admin.incoming")}</legend>
          <Field label={t("email.admin.host")}>
            <input name="imapHost" defaultValue={e?.imap?.host} placeholder="imap.example.com" />
          </Field>
          <Field label={t("email.admin.port")}>
            <input name="imapPort" type="number" defaultValue={e?.imap?.port ?? 993} />
          </Field>
          <Field label={t("email.admin.security")}>{security("imapSecurity", e?.imap?.security, "tls")}</Field>
          <Field label={t("email.admin.user")}>
            <input name="imapUser" defaultValue={e?.imap?.user} />
          </Field>
          <Field label={loaded?.credentials.imapPassword ? t("email.admin.passwordKept") : t("email.admin.password")}>
            <input name="imapPassword" type="password" autoComplete="new-password" />
          </Field>
          <Field label={t("email.admin.mailbox")}>
            <input name="imapMailbox" defaultValue={e?.imap?.mailbox ?? "INBOX"} />
          </Field>
          <Field label={t("email.admin.moveTo")}>
            <input name="imapMoveTo" defaultValue={e?.imap?.moveTo} />
          </Field>
        </fieldset>
        <fieldset>
          <legend>{t("email.admin.outgoing")}</legend>
          <Field label={t("email.admin.host")}>
            <input name="smtpHost" defaultValue={e?.smtp?.host} placeholder="smtp.example.com" />
          </Field>
          <Field label={t("email.admin.port")}>
            <input name="smtpPort" type="number" defaultValue={e?.smtp?.port ?? 587} />
          </Field>
          <Field label={t("email.admin.security")}>{security("smtpSecurity", e?.smtp?.security, "starttls")}</Field>
          <Field label={t("email.admin.user")}>
            <input name="smtpUser" defaultValue={e?.smtp?.user} />
          </Field>
          <Field label={loaded?.credentials.smtpPassword ? t("email.admin.passwordKept") : t("email.admin.password")}>
            <input name="smtpPassword" type="password" autoComplete="new-password" />
          </Field>
        </fieldset>
        <Field label={t("email.admin.signature")}>
          <textarea name="signature" rows={2} maxLength={5000} defaultValue={e?.signature} />
        </Field>
        <Field label={t("email.admin.subjectWindow")}>
          <input name="subjectWindowDays" type="number" min={0} max={365} defaultValue={e?.subjectWindowDays ?? 14} />
        </Field>
        <Field label={t("email.admin.reopenWithin")}>
          <input name="reopenWithinDays" type="number" min={0} max={3650} defaultValue={e?.reopenWithinDays ?? 30} />
        </Field>
        {error}
        {saved && (
          <p className="muted" role="status">
            {t("email.admin.saved")}
          </p>
        )}
        <button type="submit" className="primary" data-testid="email-inbox-save">
          {inboxId ? t("email.admin.save") : t("email.admin.create")}
        </button>
      </form>
      {inboxId && loaded && (
        <AddressVerification inboxId={inboxId} addresses={loaded.addresses} onChange={(next) => setLoaded(next)} />
      )}
    </>
  );
}

/**
 * The inbox's addresses, each proven or not (docs/security.md, "Tenancy and routing keys"). A code is
 * mailed through the inbox's outgoing server to `local+verify-<code>@domain`: where that mail comes back
 * through SMTP-in it proves the address by itself; where it lands in a mailbox, the admin types it here.
 */
function AddressVerification(props: { inboxId: string; addresses: Address[]; onChange: (next: Loaded) => void }) {
  const { inboxId, addresses, onChange } = props;
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const [sent, setSent] = useState<string[] | null>(null);
  const send = async () => {
    setSent(null);
    const path = `/inboxes/${inboxId}/email/verification`;
    await submit(async () => setSent((await request<{ sent: string[] }>(path, { method: "POST" })).sent));
  };
  return (
    <section className="email-addresses" data-testid="email-addresses">
      <h3>{t("email.admin.addresses")}</h3>
      <p className="muted">{t("email.admin.addressesHelp")}</p>
      <ul>
        {addresses.map((a) => (
          <li key={a.address} data-testid="email-address" data-verified={a.verified}>
            <span>{a.address}</span>{" "}
            <span className={a.verified ? "proof verified" : "proof"} data-testid="email-address-status">
              {a.verified ? t("email.admin.verified") : t("email.admin.notVerified")}
            </span>
            {!a.verified && <CodeForm inboxId={inboxId} address={a.address} onConfirmed={onChange} />}
          </li>
        ))}
      </ul>
      {addresses.some((a) => !a.verified) && (
        <button type="button" onClick={() => void send()} data-testid="email-send-code">
          {t("email.admin.sendCode")}
        </button>
      )}
      {error}
      {sent && (
        <p className="muted" role="status" data-testid="email-code-sent">
          {sent.length ? t("email.admin.codeSent", { addresses: sent.join(", ") }) : t("email.admin.nothingToSend")}
        </p>
      )}
    </section>
  );
}

/** Enters the code an admin read in the mailbox; a wrong, expired or used one is the server's 409. */
function CodeForm(props: { inboxId: string; address: string; onConfirmed: (next: Loaded) => void }) {
  const { inboxId, address, onConfirmed } = props;
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const confirm = async (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault();
    const code = text(new FormData(ev.currentTarget), "code");
    const path = `/inboxes/${inboxId}/email/verification/confirm`;
    await submit(async () => onConfirmed(await request<Loaded>(path, { body: { address, code } })));
  };
  return (
    <form className="row-form" onSubmit={confirm} data-testid="email-code-form">
      <Field label={t("email.admin.code")}>
        <input name="code" required maxLength={100} autoComplete="one-time-code" spellCheck={false} />
      </Field>
      <button type="submit">{t("email.admin.confirm")}</button>
      {error}
    </form>
  );
}
