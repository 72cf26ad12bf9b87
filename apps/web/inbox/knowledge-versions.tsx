import { useEffect, useState } from "react";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";

export type Version = { version: number; title: string; status: string; note: string | null; createdAt: string };
type Change = { before: string; after: string } | null;
type Diff = {
  from: number;
  to: number;
  title: Change;
  summary: Change;
  body: { op: "same" | "add" | "remove"; text: string }[];
};

/**
 * An article's versions, newest first: compare any version with the current one (or any two), the
 * changes marked as insertions and deletions, and restore an old version (saved as a new one).
 */
export function VersionHistory({
  articleId,
  versions,
  canEdit,
  onRestore,
}: {
  articleId: string;
  versions: Version[];
  canEdit: boolean;
  onRestore: (version: number) => void;
}) {
  const { t } = useI18n();
  const current = versions[0]!.version;
  const [pair, setPair] = useState<{ from: number; to: number } | null>(null);
  const [diff, setDiff] = useState<Diff | null>(null);
  const [error, setError] = useState<string | null>(null);

  // A save or restore adds a version: a comparison with "current" must follow it.
  useEffect(
    () => setPair((p) => (p && p.to !== current && p.to === versions[1]?.version ? { ...p, to: current } : p)),
    [current],
  );

  useEffect(() => {
    if (!pair) return setDiff(null);
    let live = true;
    setError(null);
    request<Diff>(`/knowledge/articles/${articleId}/diff?from=${pair.from}&to=${pair.to}`).then(
      (d) => live && setDiff(d),
      (err) => live && setError(err instanceof ApiError ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
  }, [articleId, pair?.from, pair?.to]);

  const options = versions.map((v) => (
    <option key={v.version} value={v.version}>
      v{v.version}
    </option>
  ));

  return (
    <details className="kb-versions" open>
      <summary>{t("kb.versions")}</summary>
      <ol>
        {versions.map((v) => (
          <li key={v.version} data-testid="kb-version" aria-current={pair?.from === v.version ? "true" : undefined}>
            v{v.version} · {new Date(v.createdAt).toLocaleString()} · {t(`kb.status.${v.status}` as MessageKey)}
            {v.note ? ` · ${v.note}` : ""}
            {v.version !== current && (
              <button
                type="button"
                onClick={() => setPair({ from: v.version, to: current })}
                data-testid={`kb-compare-${v.version}`}
              >
                {t("kb.compareCurrent")}
              </button>
            )}
            {canEdit && v.version !== current && (
              <button type="button" onClick={() => onRestore(v.version)} data-testid={`kb-restore-${v.version}`}>
                {t("kb.restore")}
              </button>
            )}
          </li>
        ))}
      </ol>
      {versions.length > 1 && (
        <div className="kb-compare">
          <label>
            {t("kb.diffFrom")}{" "}
            <select
              value={pair?.from ?? versions[1]!.version}
              onChange={(e) => setPair({ from: Number(e.target.value), to: pair?.to ?? current })}
              data-testid="kb-diff-from"
            >
              {options}
            </select>
          </label>
          <label>
            {t("kb.diffTo")}{" "}
            <select
              value={pair?.to ?? current}
              onChange={(e) => setPair({ from: pair?.from ?? versions[1]!.version, to: Number(e.target.value) })}
              data-testid="kb-diff-to"
            >
              {options}
            </select>
          </label>
          {pair && (
            <button type="button" onClick={() => setPair(null)}>
              {t("common.close")}
            </button>
          )}
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {pair && diff && <DiffView diff={diff} />}
    </details>
  );
}

function DiffView({ diff }: { diff: Diff }) {
  const { t } = useI18n();
  const changed = (label: string, c: Change, testId: string) =>
    c && (
      <p className="kb-diff-field" data-testid={testId}>
        <strong>{label}: </strong>
        <del>{c.before}</del> → <ins>{c.after}</ins>
      </p>
    );
  const adds = diff.body.filter((l) => l.op === "add").length;
  const removes = diff.body.filter((l) => l.op === "remove").length;
  return (
    <section className="kb-diff" data-testid="kb-diff" aria-label={t("kb.diffTitle", { from: diff.from, to: diff.to })}>
      <h4>{t("kb.diffTitle", { from: diff.from, to: diff.to })}</h4>
      <p className="meta">{t("kb.diffCounts", { adds, removes })}</p>
      {changed(t("kb.title"), diff.title, "kb-diff-title")}
      {changed(t("kb.summary"), diff.summary, "kb-diff-summary")}
      {adds + removes === 0 && !diff.title && !diff.summary ? (
        <p className="empty">{t("kb.diffSame")}</p>
      ) : (
        <pre className="kb-diff-body">
          {diff.body.map((line, i) =>
            line.op === "add" ? (
              <ins key={i} data-testid="kb-diff-add">
                {"+ " + line.text + "\n"}
              </ins>
            ) : line.op === "remove" ? (
              <del key={i} data-testid="kb-diff-remove">
                {"- " + line.text + "\n"}
              </del>
            ) : (
              <span key={i}>{"  " + line.text + "\n"}</span>
            ),
          )}
        </pre>
      )}
    </section>
  );
}
