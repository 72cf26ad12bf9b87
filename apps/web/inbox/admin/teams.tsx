import type { FormEvent } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { useWorkspace } from "../workspace.tsx";
import { Field, useSubmit } from "./form.tsx";

export function Teams() {
  const { t } = useI18n();
  const { me, teams, users, reload } = useWorkspace();
  const { submit, error } = useSubmit();
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    if (await submit(() => request("/teams", { body: { name: new FormData(form).get("name") } }))) {
      form.reset();
      await reload();
    }
  };
  const setMembers = (teamId: string, userIds: string[]) =>
    submit(() => request(`/teams/${teamId}/members`, { method: "PUT", body: { userIds } })).then(reload);
  return (
    <>
      <h2>{t("admin.teams")}</h2>
      {me.role === "admin" && (
        <form className="row-form" onSubmit={create} data-testid="team-form">
          <Field label={t("admin.teamName")}>
            <input name="name" required maxLength={100} />
          </Field>
          <button type="submit" className="primary">
            {t("common.add")}
          </button>
        </form>
      )}
      {error}
      <ul className="cards">
        {teams.map((team) => (
          <li key={team.id}>
            <strong>{team.name}</strong>
            <fieldset>
              <legend>{t("admin.members")}</legend>
              {users
                .filter((u) => u.role !== "knowledge_editor")
                .map((u) => {
                  const member = team.members.some((m) => m.id === u.id);
                  return (
                    <label key={u.id} className="field inline">
                      <input
                        type="checkbox"
                        checked={member}
                        onChange={() =>
                          setMembers(
                            team.id,
                            member
                              ? team.members.filter((m) => m.id !== u.id).map((m) => m.id)
                              : [...team.members.map((m) => m.id), u.id],
                          )
                        }
                      />
                      <span>{u.name}</span>
                    </label>
                  );
                })}
            </fieldset>
          </li>
        ))}
      </ul>
    </>
  );
}
