import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { severities, type QaRule } from "../qa-model.ts";
import { Field } from "./form.tsx";

const PHRASE_KINDS = ["greeting", "closing", "forbidden_phrase", "promise", "complaint"];
const SECONDS_KINDS = ["response_gap", "silence", "hold"];
const KINDS = [...PHRASE_KINDS, ...SECONDS_KINDS, "sentiment"];

/** The rule's settings from its form, by kind. */
function configOf(kind: string, d: FormData): QaRule["config"] {
  if (PHRASE_KINDS.includes(kind))
    return {
      phrases: String(d.get("phrases") ?? "")
        .split("\n")
        .map((p) => p.trim())
        .filter(Boolean),
    };
  if (SECONDS_KINDS.includes(kind)) return { maxSeconds: Number(d.get("maxSeconds")) };
  return { threshold: Number(d.get("threshold")) };
}

/**
 * Settings → QA scorecard: the workspace's rules (the default scorecard until changed), each with its
 * switch, weight, severity, alert and phrases or limits; a rule refused by the server shows why.
 */
export function QaScorecard() {
  const { t } = useI18n();
  const [rules, setRules] = useState<QaRule[]>([]);
  const [adding, setAdding] = useState(false);
  const load = useCallback(async () => setRules((await request<{ items: QaRule[] }>("/qa/rules")).items), []);
  useEffect(() => void load(), [load]);
  return (
    <div className="qa-scorecard" data-testid="qa-scorecard">
      <p className="notice">{t("qa.rules.intro")}</p>
      {rules.map((r) => (
        <RuleForm key={r.id} rule={r} onSaved={load} />
      ))}
      {adding ? (
        <RuleForm onSaved={async () => (setAdding(false), await load())} />
      ) : (
        <button type="button" onClick={() => setAdding(true)} data-testid="qa-rule-add">
          {t("qa.rules.add")}
        </button>
      )}
    </div>
  );
}

function RuleForm({ rule, onSaved }: { rule?: QaRule; onSaved(): Promise<void> }) {
  const { t } = useI18n();
  const [kind, setKind] = useState(rule?.kind ?? "forbidden_phrase");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    const body = {
      name: String(d.get("name") ?? ""),
      ...(rule ? {} : { kind }),
      config: configOf(kind, d),
      severity: String(d.get("severity")),
      weight: Number(d.get("weight")),
      appliesTo: String(d.get("appliesTo")),
      alert: d.get("alert") === "on",
      enabled: d.get("enabled") === "on",
    };
    setError(null);
    setSaved(false);
    try {
      await request(rule ? `/qa/rules/${rule.id}` : "/qa/rules", { method: rule ? "PATCH" : "POST", body });
      setSaved(true);
      await onSaved();
    } catch (err) {
      if (err instanceof ApiError) setError(err.message);
      else throw err;
    }
  };
  const remove = async () => {
    await request(`/qa/rules/${rule!.id}`, { method: "DELETE" });
    await onSaved();
  };
  return (
    <form className="card qa-rule" onSubmit={submit} data-testid="qa-rule" data-kind={kind}>
      <div className="row">
        <Field label={t("qa.rules.name")}>
          <input name="name" defaultValue={rule?.name ?? ""} required maxLength={100} />
        </Field>
        <Field label={t("qa.rules.kind")}>
          <select value={kind} disabled={!!rule} onChange={(e) => setKind(e.target.value)}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`qa.kind.${k}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
        <label className="field inline">
          <input type="checkbox" name="enabled" defaultChecked={rule?.enabled ?? true} data-testid="qa-rule-enabled" />
          <span>{t("qa.rules.enabled")}</span>
        </label>
      </div>
      <div className="row">
        <Field label={t("qa.rules.weight")}>
          <input name="weight" type="number" min={0} max={100} defaultValue={rule?.weight ?? 10} />
        </Field>
        <Field label={t("qa.severity")}>
          <select name="severity" defaultValue={rule?.severity ?? "warning"}>
            {severities.map((s) => (
              <option key={s} value={s}>
                {t(`qa.severity.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("qa.rules.appliesTo")}>
          <select name="appliesTo" defaultValue={rule?.appliesTo ?? "all"}>
            {(["all", "chat", "call"] as const).map((a) => (
              <option key={a} value={a}>
                {t(`qa.applies.${a}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
        <label className="field inline">
          <input type="checkbox" name="alert" defaultChecked={rule?.alert ?? false} />
          <span>{t("qa.rules.alert")}</span>
        </label>
      </div>
      {PHRASE_KINDS.includes(kind) && (
        <Field label={t("qa.rules.phrases")}>
          <textarea
            name="phrases"
            rows={4}
            defaultValue={(rule?.config.phrases ?? []).join("\n")}
            data-testid="qa-rule-phrases"
          />
        </Field>
      )}
      {SECONDS_KINDS.includes(kind) && (
        <Field label={t("qa.rules.seconds")}>
          <input name="maxSeconds" type="number" min={1} defaultValue={rule?.config.maxSeconds ?? 60} />
        </Field>
      )}
      {kind === "sentiment" && (
        <Field label={t("qa.rules.threshold")}>
          <input
            name="threshold"
            type="number"
            step={0.05}
            min={-1}
            max={1}
            defaultValue={rule?.config.threshold ?? -0.3}
          />
        </Field>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {saved && <p className="notice">{t("qa.rules.saved")}</p>}
      <div className="toast-actions">
        <button type="submit" className="primary" data-testid="qa-rule-save">
          {t("qa.rules.save")}
        </button>
        {rule && (
          <button type="button" onClick={() => void remove()}>
            {t("qa.rules.delete")}
          </button>
        )}
      </div>
    </form>
  );
}
