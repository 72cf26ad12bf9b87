import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { Role } from "../model.ts";
import { useWorkspace } from "../workspace.tsx";
import { Field, useSubmit } from "./form.tsx";
import { Snippet } from "./snippet.tsx";

const ROLES: Role[] = ["agent", "supervisor", "knowledge_editor", "admin"];

type AgentRow = {
  id: string;
  name: string;
  email: string;
  role: Role;
  capacity: Record<string, number>;
  skills: { skill: string; level: number }[];
};

export function Agents() {
  const { t } = useI18n();
  const { me, reload } = useWorkspace();
  const [agents, setAgents] = useState<AgentRow[]>([]);
  const [skills, setSkills] = useState<{ id: string; name: string }[]>([]);
  const [invite, setInvite] = useState<string | null>(null);
  const { submit, error } = useSubmit();
  const load = useCallback(async () => {
    const [a, s] = await Promise.all([
      request<{ items: AgentRow[] }>("/agents"),
      request<{ items: { id: string; name: string }[] }>("/skills"),
    ]);
    setAgents(a.items);
    setSkills(s.items);
  }, []);
  useEffect(() => void load().catch(() => {}), [load]);
  const isAdmin = me.role === "admin";

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const d = new FormData(form);
    let url: string | null = null;
    const ok = await submit(async () => {
      url = (
        await request<{ inviteUrl: string | null }>("/agents", {
          body: { email: d.get("email"), name: d.get("name"), role: d.get("role") },
        })
      ).inviteUrl;
    });
    if (ok) {
      form.reset();
      setInvite(url);
      await Promise.all([load(), reload()]);
    }
  };
  const patch = (id: string, body: unknown) =>
    submit(() => request(`/agents/${id}`, { method: "PATCH", body })).then(load);
  const addSkill = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("skill")).trim();
    if (name) void submit(() => request("/skills", { body: { name } })).then(() => (form.reset(), load()));
  };
  return (
    <>
      <h2>{t("admin.agents")}</h2>
      {isAdmin && (
        <form className="row-form" onSubmit={create} data-testid="invite-form">
          <Field label={t("admin.name")}>
            <input name="name" required maxLength={200} />
          </Field>
          <Field label={t("login.email")}>
            <input name="email" type="email" required />
          </Field>
          <Field label={t("admin.role")}>
            <select name="role" defaultValue="agent">
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`role.${r}` as MessageKey)}
                </option>
              ))}
            </select>
          </Field>
          <button type="submit" className="primary">
            {t("admin.invite")}
          </button>
        </form>
      )}
      {invite && (
        <div className="notice" role="status">
          {t("admin.inviteLink")} <Snippet code={invite} />
        </div>
      )}
      {error}
      <table className="grid" data-testid="agent-table">
        <thead>
          <tr>
            <th scope="col">{t("admin.name")}</th>
            <th scope="col">{t("admin.role")}</th>
            <th scope="col">{t("admin.skills")}</th>
            <th scope="col">{t("admin.capacity")}</th>
          </tr>
        </thead>
        <tbody>
          {agents.map((a) => (
            <tr key={a.id} data-agent-id={a.id}>
              <th scope="row">
                {a.name}
                <br />
                <small>{a.email}</small>
              </th>
              <td>
                {isAdmin ? (
                  <select
                    aria-label={t("admin.role")}
                    value={a.role}
                    onChange={(e) => patch(a.id, { role: e.target.value })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {t(`role.${r}` as MessageKey)}
                      </option>
                    ))}
                  </select>
                ) : (
                  t(`role.${a.role}` as MessageKey)
                )}
              </td>
              <td>
                {skills.map((s) => {
                  const level = a.skills.find((x) => x.skill === s.name)?.level ?? 0;
                  return (
                    <label key={s.id} className="skill">
                      <span>{s.name}</span>
                      <select
                        aria-label={`${a.name} ${s.name}`}
                        value={level}
                        onChange={(e) => patch(a.id, { skills: [{ skill: s.name, level: Number(e.target.value) }] })}
                      >
                        {[0, 1, 2, 3, 4, 5].map((n) => (
                          <option key={n} value={n}>
                            {n === 0 ? "—" : n}
                          </option>
                        ))}
                      </select>
                    </label>
                  );
                })}
              </td>
              <td>
                {(["chat", "voice", "email", "messaging"] as const).map((cls) => (
                  <label key={cls} className="skill">
                    <span>{t(`capacity.${cls}` as MessageKey)}</span>
                    <input
                      type="number"
                      min={0}
                      max={50}
                      aria-label={`${a.name} ${t(`capacity.${cls}` as MessageKey)}`}
                      defaultValue={a.capacity?.[cls] ?? 0}
                      onBlur={(e) =>
                        Number(e.target.value) !== a.capacity?.[cls] &&
                        patch(a.id, { capacity: { [cls]: Number(e.target.value) } })
                      }
                    />
                  </label>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row-form" onSubmit={addSkill}>
        <Field label={t("admin.newSkill")}>
          <input name="skill" required maxLength={100} />
        </Field>
        <button type="submit">{t("common.add")}</button>
      </form>
    </>
  );
}
