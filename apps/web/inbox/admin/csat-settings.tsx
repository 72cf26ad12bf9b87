import { useEffect, useState, type FormEvent } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field, useSubmit } from "./form.tsx";

type CsatSettings = {
  enabled: boolean;
  scale: "stars" | "thumbs";
  question: { en?: string; "zh-CN"?: string };
  delayMinutes: number;
  expiresHours: number;
  defaultQuestion: { en: string; "zh-CN": string };
};

/** One inbox's satisfaction survey: on/off, scale, question in both languages, delay and link lifetime. */
export function CsatSettingsCard({ inboxId }: { inboxId: string }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [settings, setSettings] = useState<CsatSettings | null>(null);
  const [saved, setSaved] = useState(false);
  const { submit, error } = useSubmit();
  useEffect(() => {
    if (open && !settings)
      void submit(async () => setSettings(await request<CsatSettings>(`/inboxes/${inboxId}/csat`)));
  }, [open, settings, inboxId, submit]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setSaved(false);
    const d = new FormData(e.currentTarget);
    const text = (k: string) => String(d.get(k) ?? "").trim() || undefined;
    const ok = await submit(async () =>
      setSettings(
        await request<CsatSettings>(`/inboxes/${inboxId}/csat`, {
          method: "PUT",
          body: {
            enabled: d.get("enabled") === "on",
            scale: d.get("scale"),
            question: { en: text("questionEn"), "zh-CN": text("questionZh") },
            delayMinutes: Number(d.get("delayMinutes")),
            expiresHours: Number(d.get("expiresHours")),
          },
        }),
      ),
    );
    setSaved(ok);
  };

  return (
    <div className="csat-settings">
      <button type="button" onClick={() => setOpen((v) => !v)} aria-expanded={open} data-testid="csat-settings">
        {t("csat.settings")}
      </button>
      {open && settings && (
        <form className="panel-form" onSubmit={save} data-testid="csat-settings-form">
          <label className="field inline">
            <input type="checkbox" name="enabled" defaultChecked={settings.enabled} />
            <span>{t("csat.enabled")}</span>
          </label>
          <Field label={t("csat.scale")}>
            <select name="scale" defaultValue={settings.scale}>
              <option value="stars">{t("csat.stars")}</option>
              <option value="thumbs">{t("csat.thumbs")}</option>
            </select>
          </Field>
          <Field label={t("csat.questionEn")}>
            <input
              name="questionEn"
              maxLength={500}
              defaultValue={settings.question.en ?? ""}
              placeholder={settings.defaultQuestion.en}
            />
          </Field>
          <Field label={t("csat.questionZh")}>
            <input
              name="questionZh"
              maxLength={500}
              defaultValue={settings.question["zh-CN"] ?? ""}
              placeholder={settings.defaultQuestion["zh-CN"]}
            />
          </Field>
          <Field label={t("csat.delay")}>
            <input name="delayMinutes" type="number" min={0} max={1440} required defaultValue={settings.delayMinutes} />
          </Field>
          <Field label={t("csat.expires")}>
            <input name="expiresHours" type="number" min={1} max={720} required defaultValue={settings.expiresHours} />
          </Field>
          <button type="submit" className="primary">
            {t("csat.save")}
          </button>
          {saved && (
            <p className="notice" role="status">
              {t("csat.saved")}
            </p>
          )}
        </form>
      )}
      {error}
    </div>
  );
}
