import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { Channel, Queue } from "../model.ts";
import { useWorkspace } from "../workspace.tsx";
import { Field, useSubmit } from "./form.tsx";

const CHANNELS: Channel[] = ["webchat", "email", "voice", "wechat", "slack", "sms", "whatsapp"];

type EntryRule = {
  queueId: string;
  conditions: {
    channels?: Channel[];
    keywords?: string[];
    inboxIds?: string[];
    attributes?: Record<string, unknown>;
    languages?: string[];
  };
};

/** Queues: the common settings as a form, the advanced ones (priority rules, hours, overflow) as JSON. */
export function Queues() {
  const { t } = useI18n();
  const { queues, reload } = useWorkspace();
  const [editing, setEditing] = useState<Queue | "new" | null>(null);
  const [rules, setRules] = useState<EntryRule[]>([]);
  const { submit, error } = useSubmit();
  const loadRules = useCallback(
    () =>
      request<{ items: EntryRule[] }>("/entry-rules").then(
        (r) => setRules(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void loadRules(), [loadRules]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    const num = (k: string) => (String(d.get(k) ?? "").trim() === "" ? null : Number(d.get(k)));
    const ok = await submit(async () => {
      let advanced: Record<string, unknown> = {};
      try {
        advanced = JSON.parse(String(d.get("advanced") || "{}"));
      } catch {
        throw new ApiError(400, "invalid", t("admin.badJson"), "advanced");
      }
      const body = {
        ...advanced,
        name: d.get("name"),
        channels: CHANNELS.filter((c) => d.get(`ch-${c}`)),
        requiredSkills: String(d.get("skills") ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => {
            const [skill, level] = s.split(":");
            return { skill: skill!.trim(), minLevel: Number(level ?? 1) };
          }),
        serviceLevelSeconds: num("serviceLevelSeconds") ?? 20,
        maxWaitSeconds: num("maxWaitSeconds"),
        offerTimeoutSeconds: num("offerTimeoutSeconds"),
        wrapUpSeconds: num("wrapUpSeconds"),
        csatIvr: d.get("csatIvr") === "on",
      };
      if (editing === "new") await request("/queues", { body });
      else await request(`/queues/${(editing as Queue).id}`, { method: "PUT", body });
    });
    if (ok) {
      setEditing(null);
      await reload();
    }
  };
  const saveRules = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const text = String(new FormData(e.currentTarget).get("rules"));
    await submit(async () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ApiError(400, "invalid", t("admin.badJson"), "rules");
      }
      await request("/entry-rules", { method: "PUT", body: { rules: parsed } });
      await loadRules();
    });
  };
  const q = editing && editing !== "new" ? editing : null;
  return (
    <>
      <h2>{t("admin.queues")}</h2>
      {error}
      <table className="grid" data-testid="queue-table">
        <thead>
          <tr>
            <th scope="col">{t("admin.name")}</th>
            <th scope="col">{t("filter.channel")}</th>
            <th scope="col">{t("admin.skills")}</th>
            <th scope="col">{t("admin.slTarget")}</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {queues.map((x) => (
            <tr key={x.id}>
              <th scope="row">{x.name}</th>
              <td>{x.channels.map((c) => t(`channel.${c}` as MessageKey)).join(", ") || t("filter.any")}</td>
              <td>{x.requiredSkills.map((s) => `${s.skill}≥${s.minLevel ?? 1}`).join(", ") || "—"}</td>
              <td>{x.serviceLevelSeconds} s</td>
              <td>
                <button type="button" onClick={() => setEditing(x)}>
                  {t("common.edit")}
                </button>
                <button
                  type="button"
                  onClick={() =>
                    confirm(t("admin.deleteQueue", { name: x.name })) &&
                    submit(() => request(`/queues/${x.id}`, { method: "DELETE" })).then(reload)
                  }
                >
                  {t("common.delete")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => setEditing("new")} data-testid="new-queue">
        {t("admin.newQueue")}
      </button>
      {editing && (
        <form className="panel-form" onSubmit={save} key={q?.id ?? "new"} data-testid="queue-form">
          <Field label={t("admin.name")}>
            <input name="name" required maxLength={100} defaultValue={q?.name ?? ""} />
          </Field>
          <fieldset>
            <legend>{t("filter.channel")}</legend>
            {CHANNELS.map((c) => (
              <label key={c} className="field inline">
                <input type="checkbox" name={`ch-${c}`} defaultChecked={q?.channels.includes(c)} />
                <span>{t(`channel.${c}` as MessageKey)}</span>
              </label>
            ))}
          </fieldset>
          <Field label={t("admin.skillsHelp")}>
            <input
              name="skills"
              defaultValue={q?.requiredSkills.map((s) => `${s.skill}:${s.minLevel ?? 1}`).join(", ") ?? ""}
            />
          </Field>
          <Field label={t("admin.slTarget")}>
            <input
              name="serviceLevelSeconds"
              type="number"
              min={1}
              max={3600}
              defaultValue={q?.serviceLevelSeconds ?? 20}
            />
          </Field>
          <Field label={t("admin.maxWait")}>
            <input name="maxWaitSeconds" type="number" min={1} max={86400} defaultValue={q?.maxWaitSeconds ?? ""} />
          </Field>
          <Field label={t("admin.offerTimeout")}>
            <input
              name="offerTimeoutSeconds"
              type="number"
              min={5}
              max={3600}
              defaultValue={q?.offerTimeoutSeconds ?? ""}
            />
          </Field>
          <Field label={t("admin.wrapUp")}>
            <input name="wrapUpSeconds" type="number" min={0} max={3600} defaultValue={q?.wrapUpSeconds ?? ""} />
          </Field>
          <label className="field inline">
            <input type="checkbox" name="csatIvr" defaultChecked={q?.csatIvr === true} data-testid="queue-csat-ivr" />
            <span>{t("csat.ivr")}</span>
          </label>
          <Field label={t("admin.advanced")}>
            <textarea
              name="advanced"
              rows={6}
              className="code"
              defaultValue={JSON.stringify(
                {
                  priorityRules: q?.priorityRules ?? [],
                  businessHours: q?.businessHours ?? null,
                  overflow: q?.overflow ?? [],
                },
                null,
                2,
              )}
            />
          </Field>
          <div className="row-form">
            <button type="submit" className="primary">
              {t("common.save")}
            </button>
            <button type="button" onClick={() => setEditing(null)}>
              {t("common.cancel")}
            </button>
          </div>
        </form>
      )}
      <h3>{t("admin.entryRules")}</h3>
      <p className="hint">{t("admin.entryRulesHelp")}</p>
      <form className="panel-form" onSubmit={saveRules} key={JSON.stringify(rules)}>
        <textarea
          name="rules"
          rows={10}
          className="code"
          aria-label={t("admin.entryRules")}
          defaultValue={JSON.stringify(
            rules.map(({ queueId, conditions }) => ({ queueId, conditions })),
            null,
            2,
          )}
        />
        <button type="submit">{t("common.save")}</button>
      </form>
    </>
  );
}
