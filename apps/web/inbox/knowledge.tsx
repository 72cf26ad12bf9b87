import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { CategorySelect, CategoryTree, useCategories } from "./knowledge-categories.tsx";
import { EditSuggestions, KnowledgeInsights } from "./knowledge-insights.tsx";
import { VersionHistory, type Version } from "./knowledge-versions.tsx";
import { href, navigate } from "./route.ts";

type ListItem = {
  id: string;
  title: string;
  locale: string;
  status: string;
  visibility: string;
  version: number;
  updatedAt: string;
};
type Translation = { id: string; locale: string; title: string; status: string };
type Article = ListItem & {
  summary: string;
  body: string;
  bodyHtml: string;
  tags: string[];
  categoryId: string | null;
  translations: Translation[];
};
const LOCALES = [
  { code: "en", name: "English" },
  { code: "zh-CN", name: "中文" },
] as const;
type Form = {
  title: string;
  summary: string;
  body: string;
  locale: string;
  status: string;
  visibility: string;
  tags: string;
  categoryId: string | null;
};

const STATUSES = ["draft", "in_review", "published", "archived"] as const;
const EMPTY: Form = {
  title: "",
  summary: "",
  body: "",
  locale: "en",
  status: "draft",
  visibility: "public",
  tags: "",
  categoryId: null,
};
/**
 * `#/knowledge/categories` is the category tree, `#/knowledge/insights` the gaps and article report;
 * any other second segment is an article ("new" a blank one).
 */
const CATEGORIES = "categories";
const INSIGHTS = "insights";

/**
 * The knowledge base in the inbox app: a list to filter, an editor with a live preview (rendered by
 * the server, exactly as the help center will show it), versions with diff and restore, and the
 * category tree. Ctrl/⌘+S saves, Escape goes back to the list. Agents read; editors and admins write.
 */
export function KnowledgePage({ articleId }: { articleId: string | null }) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const canEdit = me.role === "admin" || me.role === "knowledge_editor";
  const seesInsights = canEdit || me.role === "supervisor";
  const [items, setItems] = useState<ListItem[]>([]);
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [reload, setReload] = useState(0);
  // Kept here, not in the editor: creating an article moves to its own URL (a new editor).
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);

  useEffect(() => {
    const params = new URLSearchParams({ limit: "200" });
    if (q.trim()) params.set("q", q.trim());
    if (status) params.set("status", status);
    let live = true;
    request<{ items: ListItem[] }>(`/knowledge/articles?${params}`).then(
      (r) => live && setItems(r.items),
      () => live && setItems([]),
    );
    return () => {
      live = false;
    };
  }, [q, status, reload]);

  return (
    <div className="kb-page" data-testid="kb-page">
      <aside className="kb-list">
        <div className="kb-filters">
          <input
            type="search"
            placeholder={t("kb.filter")}
            aria-label={t("kb.filter")}
            value={q}
            onChange={(e) => setQ(e.target.value)}
            data-testid="kb-filter"
          />
          <select aria-label={t("kb.status")} value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t("kb.allStatuses")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`kb.status.${s}` as MessageKey)}
              </option>
            ))}
          </select>
          {canEdit && (
            <a className="button primary" href={href({ page: "knowledge", articleId: "new" })} data-testid="kb-new">
              {t("kb.new")}
            </a>
          )}
          <a
            className="button"
            href={href({ page: "knowledge", articleId: CATEGORIES })}
            aria-current={articleId === CATEGORIES ? "page" : undefined}
            data-testid="kb-categories-link"
          >
            {t("kb.cat.title")}
          </a>
          {seesInsights && (
            <a
              className="button"
              href={href({ page: "knowledge", articleId: INSIGHTS })}
              aria-current={articleId === INSIGHTS ? "page" : undefined}
              data-testid="kb-insights-link"
            >
              {t("kb.insights.title")}
            </a>
          )}
        </div>
        <ul>
          {items.map((a) => (
            <li key={a.id} aria-current={a.id === articleId ? "true" : undefined}>
              <a href={href({ page: "knowledge", articleId: a.id })}>
                <strong lang={a.locale}>{a.title}</strong>
                <span className="meta">
                  {a.locale} · {t(`kb.status.${a.status}` as MessageKey)} · v{a.version}
                  {a.visibility === "agents" ? ` · ${t("kb.agentsOnly")}` : ""}
                </span>
              </a>
            </li>
          ))}
        </ul>
      </aside>
      <section className="kb-editor">
        {articleId === CATEGORIES ? (
          <CategoryTree canEdit={canEdit} />
        ) : articleId === INSIGHTS && seesInsights ? (
          <KnowledgeInsights />
        ) : articleId ? (
          <Editor
            key={articleId}
            id={articleId === "new" ? null : articleId}
            canEdit={canEdit}
            message={message}
            setMessage={setMessage}
            onSaved={() => setReload((n) => n + 1)}
          />
        ) : (
          <p className="empty">{t("kb.pick")}</p>
        )}
      </section>
    </div>
  );
}

type Message = { error: boolean; text: string } | null;

function Editor({
  id,
  canEdit,
  onSaved,
  message,
  setMessage,
}: {
  id: string | null;
  canEdit: boolean;
  onSaved: () => void;
  message: Message;
  setMessage: (m: Message) => void;
}) {
  const { t } = useI18n();
  const [form, setForm] = useState<Form>(EMPTY);
  const [preview, setPreview] = useState("");
  const [versions, setVersions] = useState<Version[]>([]);
  const [translations, setTranslations] = useState<Translation[]>([]);
  const [saving, setSaving] = useState(false);
  const categories = useCategories();
  const title = useRef<HTMLInputElement>(null);

  const load = (articleId: string) =>
    Promise.all([
      request<Article>(`/knowledge/articles/${articleId}`),
      request<{ items: Version[] }>(`/knowledge/articles/${articleId}/versions`),
    ]).then(([a, v]) => {
      setForm({
        title: a.title,
        summary: a.summary,
        body: a.body,
        locale: a.locale,
        status: a.status,
        visibility: a.visibility,
        tags: a.tags.join(", "),
        categoryId: a.categoryId,
      });
      setPreview(a.bodyHtml);
      setVersions(v.items);
      setTranslations(a.translations ?? []);
    });

  /** A draft in the other language, linked to this article, starting from its text for the translator. */
  const translate = async (locale: string) => {
    if (!id) return;
    setMessage(null);
    try {
      const draft = await request<Article>("/knowledge/articles", {
        body: {
          title: form.title,
          summary: form.summary,
          body: form.body,
          locale,
          status: "draft",
          visibility: form.visibility,
          categoryId: form.categoryId,
          translationOf: id,
        },
      });
      navigate({ page: "knowledge", articleId: draft.id });
      onSaved();
    } catch (err) {
      setMessage({ error: true, text: err instanceof ApiError ? err.message : String(err) });
    }
  };
  const missing = LOCALES.filter((l) => l.code !== form.locale && !translations.some((tr) => tr.locale === l.code));

  useEffect(() => {
    if (id) void load(id).catch(() => setMessage({ error: true, text: t("kb.notFound") }));
    else title.current?.focus();
  }, [id]);

  // Preview as the server renders it (sanitized), a moment after typing stops.
  useEffect(() => {
    if (!canEdit) return;
    const timer = setTimeout(() => {
      request<{ html: string }>("/knowledge/preview", { body: { body: form.body } }).then(
        (r) => setPreview(r.html),
        () => {},
      );
    }, 300);
    return () => clearTimeout(timer);
  }, [form.body, canEdit]);

  const save = async () => {
    if (!canEdit || saving) return;
    setSaving(true);
    setMessage(null);
    const payload = {
      ...form,
      tags: form.tags
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    };
    try {
      const saved = await request<Article>(id ? `/knowledge/articles/${id}` : "/knowledge/articles", {
        method: id ? "PUT" : "POST",
        body: payload,
      });
      if (id) await load(id);
      onSaved();
      setMessage({ error: false, text: t("kb.saved", { version: saved.version }) });
      if (!id) navigate({ page: "knowledge", articleId: saved.id });
    } catch (err) {
      setMessage({ error: true, text: err instanceof ApiError ? err.message : String(err) });
    } finally {
      setSaving(false);
    }
  };

  const restore = async (version: number) => {
    if (!id) return;
    await request(`/knowledge/articles/${id}/versions/${version}/restore`, { method: "POST" });
    // The form and the version list show the restored state before the confirmation does.
    await load(id);
    onSaved();
    setMessage({ error: false, text: t("kb.restored", { version }) });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") {
      e.preventDefault();
      void save();
    } else if (e.key === "Escape") navigate({ page: "knowledge", articleId: null });
  };
  const set = (k: keyof Form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  return (
    <>
      <form
        className="kb-form"
        onKeyDown={onKeyDown}
        onSubmit={(e) => (e.preventDefault(), void save())}
        data-testid="kb-form"
      >
        <fieldset disabled={!canEdit}>
          <label className="field">
            <span>{t("kb.title")}</span>
            <input
              ref={title}
              value={form.title}
              onChange={set("title")}
              required
              maxLength={300}
              data-testid="kb-title"
            />
          </label>
          <label className="field">
            <span>{t("kb.summary")}</span>
            <input value={form.summary} onChange={set("summary")} maxLength={1000} data-testid="kb-summary" />
          </label>
          <div className="kb-row">
            <label className="field inline">
              <span>{t("kb.locale")}</span>
              <select value={form.locale} onChange={set("locale")} data-testid="kb-locale">
                {LOCALES.map((l) => (
                  <option key={l.code} value={l.code}>
                    {l.name}
                  </option>
                ))}
              </select>
            </label>
            <label className="field inline">
              <span>{t("kb.status")}</span>
              <select value={form.status} onChange={set("status")} data-testid="kb-status">
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {t(`kb.status.${s}` as MessageKey)}
                  </option>
                ))}
              </select>
            </label>
            <label className="field inline">
              <span>{t("kb.visibility")}</span>
              <select value={form.visibility} onChange={set("visibility")}>
                <option value="public">{t("kb.public")}</option>
                <option value="agents">{t("kb.agentsOnly")}</option>
              </select>
            </label>
            <label className="field inline">
              <span>{t("kb.tags")}</span>
              <input value={form.tags} onChange={set("tags")} />
            </label>
            <label className="field inline">
              <span>{t("kb.category")}</span>
              <CategorySelect
                categories={categories}
                value={form.categoryId}
                onChange={(categoryId) => setForm((f) => ({ ...f, categoryId }))}
                label={t("kb.category")}
                none={t("kb.cat.none")}
                testId="kb-category-select"
              />
            </label>
          </div>
          <div className="kb-split">
            <label className="field">
              <span>{t("kb.body")}</span>
              <textarea value={form.body} onChange={set("body")} rows={18} dir="auto" data-testid="kb-body" />
            </label>
            <div
              className="kb-preview"
              aria-label={t("kb.preview")}
              data-testid="kb-preview"
              dangerouslySetInnerHTML={{ __html: preview }}
            />
          </div>
        </fieldset>
        {message && (
          <p className={message.error ? "error" : "ok"} role={message.error ? "alert" : "status"}>
            {message.text}
          </p>
        )}
        {canEdit && (
          <div className="kb-actions">
            <button type="submit" className="primary" disabled={saving} data-testid="kb-save">
              {t("kb.save")}
            </button>
            <span className="hint">{t("kb.keys")}</span>
          </div>
        )}
        {id && (translations.length > 0 || (canEdit && missing.length > 0)) && (
          <p className="kb-translations" data-testid="kb-translations">
            {t("kb.translations")}:{" "}
            {translations.map((tr) => (
              <a
                key={tr.id}
                href={href({ page: "knowledge", articleId: tr.id })}
                lang={tr.locale}
                data-testid="kb-translation"
              >
                {tr.title} ({tr.locale} · {t(`kb.status.${tr.status}` as MessageKey)})
              </a>
            ))}
            {canEdit &&
              missing.map((l) => (
                <button
                  key={l.code}
                  type="button"
                  onClick={() => void translate(l.code)}
                  data-testid={`kb-translate-${l.code}`}
                >
                  {t("kb.translateTo", { language: l.name })}
                </button>
              ))}
          </p>
        )}
        {id && versions.length > 0 && (
          <VersionHistory articleId={id} versions={versions} canEdit={canEdit} onRestore={(v) => void restore(v)} />
        )}
      </form>
      {/* Its own form, beside the article's (forms do not nest). */}
      {id && <EditSuggestions articleId={id} canEdit={canEdit} />}
    </>
  );
}
