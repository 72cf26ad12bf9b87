import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useWorkspace } from "./app.tsx";
import { ApiError, request } from "./client.ts";
import { EmailInboxForm } from "./email-admin.tsx";
import { useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { CallLinePicker, IvrEditor, PhoneLineForm } from "./admin-voice.tsx";
import { SpamView } from "./spam.tsx";
import type { Canned, Channel, Queue, Role } from "./model.ts";

const TABS = [
  { id: "inboxes", adminOnly: true },
  { id: "agents", adminOnly: false },
  { id: "teams", adminOnly: false },
  { id: "queues", adminOnly: false },
  { id: "canned", adminOnly: false },
  { id: "spam", adminOnly: false },
] as const;
const ROLES: Role[] = ["agent", "supervisor", "knowledge_editor", "admin"];
const CHANNELS: Channel[] = ["webchat", "email", "voice", "wechat", "slack", "sms", "whatsapp"];

/** Runs a form's request and shows the server's error next to the field it names. */
export function useSubmit() {
  const { t } = useI18n();
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const submit = useCallback(
    async (fn: () => Promise<unknown>) => {
      setError(null);
      try {
        await fn();
        return true;
      } catch (e) {
        setError(
          e instanceof ApiError
            ? { message: e.field ? `${e.field}: ${e.message}` : e.message, field: e.field }
            : { message: t("error.generic") },
        );
        return false;
      }
    },
    [t],
  );
  const shown = error ? (
    <p className="error" role="alert" data-field={error.field ?? ""}>
      {error.message}
    </p>
  ) : null;
  return { submit, error: shown };
}

export function AdminPage({ tab }: { tab: string }) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const tabs = TABS.filter((x) => !x.adminOnly || me.role === "admin");
  const current = tabs.find((x) => x.id === tab)?.id ?? tabs[0]!.id;
  return (
    <div className="admin">
      <nav className="tabs" aria-label={t("nav.admin")}>
        {tabs.map((x) => (
          <a
            key={x.id}
            href={`#/admin/${x.id}`}
            aria-current={x.id === current ? "page" : undefined}
            data-testid={`admin-tab-${x.id}`}
          >
            {t(`admin.${x.id}` as MessageKey)}
          </a>
        ))}
      </nav>
      <section className="admin-body">
        {current === "inboxes" && <Inboxes />}
        {current === "agents" && <Agents />}
        {current === "teams" && <Teams />}
        {current === "queues" && <Queues />}
        {current === "canned" && <CannedResponses />}
        {current === "spam" && <SpamView />}
      </section>
    </div>
  );
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
    </label>
  );
}

function Inboxes() {
  const { t } = useI18n();
  const { inboxes, reload } = useWorkspace();
  const { submit, error } = useSubmit();
  const [created, setCreated] = useState<string | null>(null);
  const [addingEmail, setAddingEmail] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name"));
    let id = "";
    if (
      await submit(
        async () => (id = (await request<{ id: string }>("/inboxes", { body: { name, channel: "webchat" } })).id),
      )
    ) {
      form.reset();
      setCreated(id);
      await reload();
    }
  };
  return (
    <>
      <h2>{t("admin.inboxes")}</h2>
      <form className="row-form" onSubmit={create} data-testid="inbox-form">
        <Field label={t("admin.inboxName")}>
          <input name="name" required maxLength={100} />
        </Field>
        <button type="submit" className="primary">
          {t("admin.createWebchat")}
        </button>
      </form>
      <button
        type="button"
        onClick={() => setAddingEmail((v) => !v)}
        aria-expanded={addingEmail}
        data-testid="add-email-inbox"
      >
        {t("email.admin.add")}
      </button>
      {error}
      <PhoneLineForm onCreated={(id) => (setCreated(id), reload())} />
      {addingEmail && <EmailInboxForm onSaved={() => (setAddingEmail(false), void reload())} />}
      <ul className="cards" data-testid="inbox-list">
        {inboxes.map((i) => (
          <li key={i.id} className={i.id === created ? "highlight" : ""} data-inbox-id={i.id}>
            <strong>{i.name}</strong> · {t(`channel.${i.channel}` as MessageKey)}
            {i.embedSnippet && <Snippet code={i.embedSnippet} />}
            {i.channel === "webchat" && <CallLinePicker inbox={i} />}
            {i.channel === "voice" && <IvrEditor inbox={i} />}
            {i.channel === "email" && (
              <>
                {" "}
                <button
                  type="button"
                  onClick={() => setEditing(editing === i.id ? null : i.id)}
                  aria-expanded={editing === i.id}
                  data-testid="email-settings"
                >
                  {t("email.admin.settings")}
                </button>
                {editing === i.id && <EmailInboxForm inboxId={i.id} onSaved={() => void reload()} />}
              </>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

function Snippet({ code }: { code: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="snippet">
      <pre data-testid="embed-snippet">{code}</pre>
      <button
        type="button"
        onClick={async () => {
          await navigator.clipboard?.writeText(code).catch(() => {});
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        }}
      >
        {copied ? t("admin.copied") : t("admin.copy")}
      </button>
    </div>
  );
}

type AgentRow = {
  id: string;
  name: string;
  email: string;
  role: Role;
  capacity: Record<string, number>;
  skills: { skill: string; level: number }[];
};

function Agents() {
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

function Teams() {
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
function Queues() {
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

function CannedResponses() {
  const { t } = useI18n();
  const [items, setItems] = useState<Canned[]>([]);
  const [editing, setEditing] = useState<Canned | null>(null);
  const { submit, error } = useSubmit();
  const load = useCallback(
    () =>
      request<{ items: Canned[] }>("/canned-responses").then(
        (r) => setItems(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void load(), [load]);
  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const d = new FormData(form);
    const body = { shortcut: d.get("shortcut"), title: d.get("title"), body: d.get("body") };
    const ok = await submit(() =>
      editing
        ? request(`/canned-responses/${editing.id}`, { method: "PUT", body })
        : request("/canned-responses", { body }),
    );
    if (ok) {
      form.reset();
      setEditing(null);
      await load();
    }
  };
  return (
    <>
      <h2>{t("admin.canned")}</h2>
      <p className="hint">{t("admin.cannedHelp")}</p>
      <form className="panel-form" onSubmit={save} key={editing?.id ?? "new"} data-testid="canned-form">
        <Field label={t("admin.shortcut")}>
          <input name="shortcut" required maxLength={50} defaultValue={editing?.shortcut ?? ""} />
        </Field>
        <Field label={t("admin.title")}>
          <input name="title" required maxLength={200} defaultValue={editing?.title ?? ""} />
        </Field>
        <Field label={t("admin.body")}>
          <textarea name="body" required rows={4} maxLength={10000} defaultValue={editing?.body ?? ""} />
        </Field>
        <div className="row-form">
          <button type="submit" className="primary">
            {editing ? t("common.save") : t("common.add")}
          </button>
          {editing && (
            <button type="button" onClick={() => setEditing(null)}>
              {t("common.cancel")}
            </button>
          )}
        </div>
      </form>
      {error}
      <ul className="cards" data-testid="canned-items">
        {items.map((c) => (
          <li key={c.id}>
            <strong>/{c.shortcut}</strong> {c.title}
            <p dir="auto">{c.body}</p>
            <button type="button" onClick={() => setEditing(c)}>
              {t("common.edit")}
            </button>
            <button
              type="button"
              onClick={() => submit(() => request(`/canned-responses/${c.id}`, { method: "DELETE" })).then(load)}
            >
              {t("common.delete")}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
