import { useState, type FormEvent } from "react";
import { ApiError, request } from "./client.ts";
import { useI18n, type Locale } from "./i18n.ts";

function LocaleSwitch() {
  const { t, locale, setLocale } = useI18n();
  return (
    <label className="field inline">
      <span>{t("nav.language")}</span>
      <select data-testid="locale" value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
        <option value="en">English</option>
        <option value="zh-CN">中文</option>
      </select>
    </label>
  );
}

export function LoginPage({ expired, onSignedIn }: { expired: boolean; onSignedIn(token: string): Promise<void> }) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const { token } = await request<{ token: string }>("/auth/login", {
        body: { email: form.get("email"), password: form.get("password") },
      });
      await onSignedIn(token);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 429
          ? t("login.tooMany")
          : err instanceof ApiError && err.status === 401
            ? t("login.wrong")
            : t("error.generic"),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form onSubmit={submit} aria-labelledby="login-title" data-testid="login-form">
        <h1 id="login-title">{t("login.title")}</h1>
        {expired && (
          <p className="notice" role="status">
            {t("login.expired")}
          </p>
        )}
        <label className="field">
          <span>{t("login.email")}</span>
          <input name="email" type="email" autoComplete="username" required autoFocus />
        </label>
        <label className="field">
          <span>{t("login.password")}</span>
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {t("login.submit")}
        </button>
        <LocaleSwitch />
      </form>
    </div>
  );
}

/** An invited teammate chooses a password and is signed in. */
export function InvitePage({ token, onSignedIn }: { token: string; onSignedIn(token: string): Promise<void> }) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const password = String(new FormData(e.currentTarget).get("password"));
    try {
      const res = await request<{ token: string }>("/auth/invite/accept", { body: { token, password } });
      await onSignedIn(res.token);
    } catch (err) {
      setError(
        err instanceof ApiError && err.field === "token"
          ? t("invite.invalid")
          : err instanceof ApiError
            ? err.message
            : t("error.generic"),
      );
    }
  };
  return (
    <div className="login">
      <form onSubmit={submit} aria-labelledby="invite-title">
        <h1 id="invite-title">{t("invite.title")}</h1>
        <label className="field">
          <span>{t("invite.password")}</span>
          <input name="password" type="password" autoComplete="new-password" minLength={8} required autoFocus />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary">
          {t("invite.submit")}
        </button>
        <LocaleSwitch />
      </form>
    </div>
  );
}
