import { useEffect, useState } from "react";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useNow } from "./hooks.ts";
import { clock, useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import type { PresenceState } from "./model.ts";

const AWAY_REASONS = ["break", "lunch", "meeting", "training"] as const;

/** The agent's status: available, away (with a reason) or offline; busy and wrap-up follow from work. */
export function PresenceMenu() {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const [state, setState] = useState<PresenceState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(1000);
  useEffect(() => {
    request<PresenceState>("/me/presence").then(setState, () => {});
  }, []);
  useFrames(
    (f) => f.type === "agent.presence" && f.agent?.userId === me.id && setState(f.agent as PresenceState),
    [me.id],
  );

  const choose = async (value: string) => {
    const [presence, reason] = value.split(":");
    setError(null);
    try {
      setState(
        await request<PresenceState>("/me/presence", {
          method: "PUT",
          body: { presence, ...(reason ? { reason } : {}) },
        }),
      );
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  if (!state) return null;
  const wrapLeft =
    state.presence === "wrap_up" && state.wrapUpUntil ? (new Date(state.wrapUpUntil).getTime() - now) / 1000 : null;
  const current = state.presence === "away" ? `away:${state.reason ?? ""}` : state.presence;
  return (
    <div className="presence" data-presence={state.presence} data-testid="presence">
      <span className={`dot dot-${state.presence}`} aria-hidden="true" />
      <label className="visually-hidden" htmlFor="presence-select">
        {t("presence.label")}
      </label>
      <select
        id="presence-select"
        value={current}
        onChange={(e) => choose(e.target.value)}
        data-testid="presence-select"
      >
        {(state.presence === "busy" || state.presence === "wrap_up") && (
          <option value={state.presence}>{t(`presence.${state.presence}` as MessageKey)}</option>
        )}
        <option value="available">{t("presence.available")}</option>
        {state.presence === "away" && !AWAY_REASONS.includes(state.reason as never) && (
          <option value={current}>
            {t("presence.away")}
            {state.reason ? ` · ${state.reason}` : ""}
          </option>
        )}
        {AWAY_REASONS.map((r) => (
          <option key={r} value={`away:${r}`}>
            {t("presence.away")} · {t(`away.${r}` as MessageKey)}
          </option>
        ))}
        <option value="offline">{t("presence.offline")}</option>
      </select>
      {wrapLeft !== null && (
        <span className="wrap-up" data-testid="wrap-up" role="timer">
          {t("presence.wrapUpLeft", { t: clock(Math.max(0, wrapLeft)) })}
          <button type="button" onClick={() => choose("available")}>
            {t("presence.ready")}
          </button>
        </span>
      )}
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
