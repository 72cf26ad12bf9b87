import { useEffect, useState, type FormEvent } from "react";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";

export type Category = { id: string; name: string; slug: string; parentId: string | null; position: number };

/** Categories in tree order, each with its depth: what the tree screen and the article's picker show. */
export function treeOrder(categories: Category[]): { category: Category; depth: number }[] {
  const children = new Map<string | null, Category[]>();
  for (const c of categories) children.set(c.parentId, [...(children.get(c.parentId) ?? []), c]);
  const out: { category: Category; depth: number }[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const c of children.get(parent) ?? []) {
      out.push({ category: c, depth });
      walk(c.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** The workspace's categories, reloaded when `version` changes. */
export function useCategories(version = 0) {
  const [categories, setCategories] = useState<Category[]>([]);
  useEffect(() => {
    let live = true;
    request<{ items: Category[] }>("/knowledge/categories").then(
      (r) => live && setCategories(r.items),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [version]);
  return categories;
}

/** A category picker showing the tree by indentation; `exclude` hides a category and everything below it. */
export function CategorySelect({
  categories,
  value,
  onChange,
  label,
  none,
  exclude,
  testId,
}: {
  categories: Category[];
  value: string | null;
  onChange: (id: string | null) => void;
  label: string;
  none: string;
  exclude?: string;
  testId?: string;
}) {
  const rows = treeOrder(categories);
  const hidden = new Set<string>();
  if (exclude) {
    hidden.add(exclude);
    for (const { category } of rows) if (category.parentId && hidden.has(category.parentId)) hidden.add(category.id);
  }
  return (
    <select
      aria-label={label}
      value={value ?? ""}
      onChange={(e) => onChange(e.target.value || null)}
      data-testid={testId}
    >
      <option value="">{none}</option>
      {rows
        .filter(({ category }) => !hidden.has(category.id))
        .map(({ category, depth }) => (
          <option key={category.id} value={category.id}>
            {"\u00a0\u00a0".repeat(depth) + category.name}
          </option>
        ))}
    </select>
  );
}

const slugOf = (name: string) =>
  name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);

/**
 * The category tree for editors: add a category under any other, rename it, move it under another
 * parent (or to the top), delete it (its subcategories and articles move up to its parent).
 */
export function CategoryTree({ canEdit }: { canEdit: boolean }) {
  const { t } = useI18n();
  const [version, setVersion] = useState(0);
  const categories = useCategories(version);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const [draft, setDraft] = useState({ name: "", slug: "", parentId: null as string | null });
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);

  const act = async (work: () => Promise<unknown>, done: string) => {
    setMessage(null);
    try {
      await work();
      setVersion((n) => n + 1);
      setMessage({ error: false, text: done });
      return true;
    } catch (err) {
      setMessage({ error: true, text: err instanceof ApiError ? err.message : String(err) });
      return false;
    }
  };

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const slug = draft.slug.trim() || slugOf(draft.name);
    if (
      await act(
        () => request("/knowledge/categories", { body: { name: draft.name.trim(), slug, parentId: draft.parentId } }),
        t("kb.cat.added", { name: draft.name.trim() }),
      )
    ) {
      setDraft({ name: "", slug: "", parentId: null });
    }
  };
  const rename = async (e: FormEvent) => {
    e.preventDefault();
    if (!renaming) return;
    if (
      await act(
        () =>
          request(`/knowledge/categories/${renaming.id}`, { method: "PATCH", body: { name: renaming.name.trim() } }),
        t("kb.cat.renamed", { name: renaming.name.trim() }),
      )
    )
      setRenaming(null);
  };
  const move = (c: Category, parentId: string | null) =>
    act(
      () => request(`/knowledge/categories/${c.id}`, { method: "PATCH", body: { parentId } }),
      t("kb.cat.moved", { name: c.name }),
    );
  const remove = (c: Category) => {
    if (!confirm(t("kb.cat.deleteConfirm", { name: c.name }))) return;
    void act(
      () => request(`/knowledge/categories/${c.id}`, { method: "DELETE" }),
      t("kb.cat.deleted", { name: c.name }),
    );
  };

  return (
    <section className="kb-categories" data-testid="kb-categories" aria-labelledby="kb-categories-title">
      <h2 id="kb-categories-title">{t("kb.cat.title")}</h2>
      {message && (
        <p className={message.error ? "error" : "ok"} role={message.error ? "alert" : "status"}>
          {message.text}
        </p>
      )}
      {categories.length === 0 && <p className="empty">{t("kb.cat.empty")}</p>}
      <ul className="kb-tree" role="tree" aria-labelledby="kb-categories-title">
        {treeOrder(categories).map(({ category: c, depth }) => (
          <li
            key={c.id}
            role="treeitem"
            aria-level={depth + 1}
            style={{ paddingLeft: `${depth * 1.5}rem` }}
            data-testid="kb-category"
            data-name={c.name}
          >
            {renaming?.id === c.id ? (
              <form className="kb-inline" onSubmit={rename}>
                <input
                  value={renaming.name}
                  onChange={(e) => setRenaming({ id: c.id, name: e.target.value })}
                  aria-label={t("kb.cat.name")}
                  required
                  maxLength={120}
                  autoFocus
                  data-testid="kb-cat-rename-input"
                />
                <button type="submit" className="primary">
                  {t("common.save")}
                </button>
                <button type="button" onClick={() => setRenaming(null)}>
                  {t("common.cancel")}
                </button>
              </form>
            ) : (
              <span className="kb-cat-name">
                {c.name} <span className="meta">/{c.slug}</span>
              </span>
            )}
            {canEdit && renaming?.id !== c.id && (
              <span className="kb-cat-actions">
                <button
                  type="button"
                  onClick={() => setRenaming({ id: c.id, name: c.name })}
                  data-testid="kb-cat-rename"
                >
                  {t("kb.cat.rename")}
                </button>
                <CategorySelect
                  categories={categories}
                  value={c.parentId}
                  onChange={(p) => void move(c, p)}
                  label={t("kb.cat.moveUnder", { name: c.name })}
                  none={t("kb.cat.topLevel")}
                  exclude={c.id}
                  testId="kb-cat-move"
                />
                <button type="button" onClick={() => remove(c)} data-testid="kb-cat-delete">
                  {t("common.delete")}
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {canEdit && (
        <form className="kb-cat-add" onSubmit={add}>
          <h3>{t("kb.cat.add")}</h3>
          <label className="field inline">
            <span>{t("kb.cat.name")}</span>
            <input
              value={draft.name}
              onChange={(e) => setDraft({ ...draft, name: e.target.value })}
              required
              maxLength={120}
              data-testid="kb-cat-name"
            />
          </label>
          <label className="field inline">
            <span>{t("kb.cat.slug")}</span>
            <input
              value={draft.slug}
              placeholder={slugOf(draft.name)}
              onChange={(e) => setDraft({ ...draft, slug: e.target.value })}
              pattern="[a-z0-9][a-z0-9\-]{0,60}"
              data-testid="kb-cat-slug"
            />
          </label>
          <label className="field inline">
            <span>{t("kb.cat.parent")}</span>
            <CategorySelect
              categories={categories}
              value={draft.parentId}
              onChange={(parentId) => setDraft({ ...draft, parentId })}
              label={t("kb.cat.parent")}
              none={t("kb.cat.topLevel")}
              testId="kb-cat-parent"
            />
          </label>
          <button type="submit" className="primary" data-testid="kb-cat-add">
            {t("common.add")}
          </button>
        </form>
      )}
    </section>
  );
}
