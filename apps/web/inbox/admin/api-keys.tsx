import { useCallback, useEffect, useState, type FormEvent } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field } from "./form.tsx";
import { useRefusal } from "./refusal.tsx";
import { ShownOnce } from "./shown-once.tsx";

const SCOPES = ["read", "write", "admin"] as const;
type Scope = (typeof SCOPES)[number];

/** `GET /api/v1/api-keys` (apps/inbox/api-keys.ts): never the key, only its first characters. */
type ApiKey = {
  id: string;
  name: string;
  scopes: Scope[];
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
};

/** The end of the chosen day where the admin is: a key "valid until 31 March" works all that day. */
const endOfDay = (date: string) => new Date(`${date}T23:59:59`).toISOString();

/** Settings → API keys: service tokens for integrations, shown once at creation, revocable. */
export function ApiKeys() {
  const { t, when } = useI18n();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [scopes, setScopes] = useState<Scope[]>(["read"]);
  const [made, setMade] = useState<{ name: string; key: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const { refuse, clear, invalid, errorAt, general } = useRefusal("apiKeys.field", ["name", "scopes", "expiresAt"]);
  const load = useCallback(
    () => request<{ items: ApiKey[] }>("/api-keys").then((r) => setKeys(r.items), refuse),
    [refuse],
  );
  useEffect(() => void load(), [load]);

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const name = String(f.get("name") ?? "").trim();
    const expires = String(f.get("expiresAt") ?? "");
    clear();
    setBusy(true);
    try {
      const created = await request<{ key: string }>("/api-keys", {
        body: { name, scopes, ...(expires ? { expiresAt: endOfDay(expires) } : {}) },
      });
      form.reset();
      setScopes(["read"]);
      setMade({ name, key: created.key });
      await load();
    } catch (err) {
      refuse(err);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (key: ApiKey) => {
    if (!confirm(t("apiKeys.revokeConfirm", { name: key.name }))) return;
    try {
      await request(`/api-keys/${key.id}`, { method: "DELETE" });
    } catch (err) {
      refuse(err);
    }
    await load();
  };

  const status = (k: ApiKey) =>
    k.revokedAt ? "revoked" : k.expiresAt && new Date(k.expiresAt).getTime() <= Date.now() ? "expired" : "active";

  return (
    <>
      <h2>{t("admin.apiKeys")}</h2>
      <p className="hint">{t("apiKeys.intro")}</p>
      <form className="settings-form" onSubmit={create} data-testid="api-key-form" noValidate>
        <Field label={t("admin.name")}>
          <input
            name="name"
            maxLength={100}
            placeholder={t("apiKeys.namePlaceholder")}
            aria-invalid={invalid("name")}
          />
          {errorAt("name")}
        </Field>
        <fieldset aria-invalid={invalid("scopes")}>
          <legend>{t("apiKeys.scopes")}</legend>
          {SCOPES.map((s) => (
            <label key={s}>
              <input
                type="checkbox"
                name="scope"
                value={s}
                checked={scopes.includes(s)}
                onChange={(e) => setScopes((now) => (e.target.checked ? [...now, s] : now.filter((x) => x !== s)))}
              />{" "}
              {t(`apiKeys.scope.${s}`)}
            </label>
          ))}
          {errorAt("scopes")}
        </fieldset>
        <Field label={t("apiKeys.expiresAt")}>
          <input name="expiresAt" type="date" aria-invalid={invalid("expiresAt")} />
          {errorAt("expiresAt")}
        </Field>
        {general}
        <button type="submit" className="primary" disabled={busy}>
          {t("apiKeys.create")}
        </button>
      </form>
      {made && (
        <ShownOnce
          testId="api-key-shown"
          values={[{ name: "key", label: t("apiKeys.theKey", { name: made.name }), value: made.key }]}
          onDone={() => setMade(null)}
        />
      )}
      {keys && keys.length === 0 && <p className="empty">{t("apiKeys.none")}</p>}
      {keys && keys.length > 0 && (
        <table className="grid" data-testid="api-key-list">
          <thead>
            <tr>
              <th>{t("admin.name")}</th>
              <th>{t("apiKeys.prefix")}</th>
              <th>{t("apiKeys.scopes")}</th>
              <th>{t("apiKeys.created")}</th>
              <th>{t("apiKeys.expires")}</th>
              <th>{t("apiKeys.lastUsed")}</th>
              <th>{t("apiKeys.status")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-testid="api-key-row" data-key-id={k.id} data-status={status(k)}>
                <td>{k.name}</td>
                <td>
                  <code data-testid="api-key-prefix">{k.prefix}…</code>
                </td>
                <td>{k.scopes.map((s) => t(`apiKeys.scope.${s}`)).join(", ")}</td>
                <td>{when(k.createdAt)}</td>
                <td>{k.expiresAt ? when(k.expiresAt) : t("apiKeys.never")}</td>
                <td>{k.lastUsedAt ? when(k.lastUsedAt) : t("apiKeys.neverUsed")}</td>
                <td data-testid="api-key-status">
                  {t(`apiKeys.status.${status(k)}`)}
                  {k.revokedAt && ` · ${when(k.revokedAt)}`}
                </td>
                <td>
                  {!k.revokedAt && (
                    <button type="button" className="danger" onClick={() => void revoke(k)}>
                      {t("apiKeys.revoke")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
