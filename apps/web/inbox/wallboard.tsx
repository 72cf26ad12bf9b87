import { useCallback, useEffect, useRef, useState } from "react";
import { useFrames } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useNow } from "./hooks.ts";
import { clock, useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import type { Channel, Presence } from "./model.ts";
import { LiveCalls } from "./softphone.tsx";

type LiveQueue = {
  id: string;
  name: string;
  waiting: number;
  longestWaitS: number;
  offered: number;
  answered: number;
  abandoned: number;
  serviceLevel: number | null;
  serviceLevelSeconds: number;
  agentsAvailable: number;
  alerts: { kind: string; value: number; threshold: number }[];
};
type AgentRow = {
  id: string;
  name: string;
  role: string;
  presence: Presence;
  reason: string | null;
  since: string;
  occupancy: number;
  work: { conversationId: string; channel: Channel; state: string; queueId: string }[];
};
type History = { step: number; points: { at: string; waiting: Record<string, number> }[] };

/** Supervisors' live view: queues, agents and alerts over the socket, and the last hour as a chart. */
export function WallboardPage() {
  const { t, percent } = useI18n();
  const [queues, setQueues] = useState<LiveQueue[]>([]);
  const [agents, setAgents] = useState<AgentRow[]>([]);
  const now = useNow(1000);
  const loadAgents = useCallback(
    () =>
      request<{ items: AgentRow[] }>("/agents").then(
        (r) => setAgents(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => {
    request<LiveQueue[]>("/queues/live").then(setQueues, () => {});
    void loadAgents();
    // Work moving between agents changes their rows; a light refresh keeps it current between events.
    const timer = setInterval(loadAgents, 5000);
    return () => clearInterval(timer);
  }, [loadAgents]);
  useFrames(
    (f) => {
      if (f.type === "queues.live" && Array.isArray(f.queues)) setQueues(f.queues as LiveQueue[]);
      if (f.type === "agent.presence" || f.type === "offer.created") void loadAgents();
    },
    [loadAgents],
  );
  const alerts = queues.flatMap((q) => q.alerts.map((a) => ({ ...a, queue: q.name })));
  return (
    <div className="wallboard" data-testid="wallboard">
      {alerts.length > 0 && (
        <section className="alerts" role="alert" aria-label={t("wall.alerts")}>
          {alerts.map((a, i) => (
            <p key={i} data-testid="wall-alert">
              ⚠ {a.queue}:{" "}
              {a.kind === "waiting"
                ? t("wall.alertWaiting", { n: a.value, max: a.threshold })
                : t("wall.alertWait", { t: clock(a.value), max: clock(a.threshold) })}
            </p>
          ))}
        </section>
      )}
      <section aria-labelledby="wall-queues">
        <h2 id="wall-queues">{t("wall.queues")}</h2>
        <table className="grid" data-testid="wall-queues">
          <thead>
            <tr>
              <th scope="col">{t("wall.queue")}</th>
              <th scope="col">{t("wall.waiting")}</th>
              <th scope="col">{t("wall.longest")}</th>
              <th scope="col">{t("wall.serviceLevel")}</th>
              <th scope="col">{t("wall.answered")}</th>
              <th scope="col">{t("wall.abandoned")}</th>
              <th scope="col">{t("wall.available")}</th>
            </tr>
          </thead>
          <tbody>
            {queues.map((q) => (
              <tr key={q.id} data-queue-id={q.id} className={q.alerts.length ? "alerting" : ""}>
                <th scope="row">{q.name}</th>
                <td data-testid="queue-waiting">{q.waiting}</td>
                <td>{clock(q.longestWaitS)}</td>
                <td title={t("wall.slTarget", { s: q.serviceLevelSeconds })}>
                  {q.serviceLevel === null ? "—" : percent(q.serviceLevel)}
                </td>
                <td>{q.answered}</td>
                <td>{q.abandoned}</td>
                <td>{q.agentsAvailable}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <WaitingChart queues={queues} />
      <LiveCalls />
      <section aria-labelledby="wall-agents">
        <h2 id="wall-agents">{t("wall.agents")}</h2>
        <table className="grid" data-testid="wall-agents">
          <thead>
            <tr>
              <th scope="col">{t("wall.agent")}</th>
              <th scope="col">{t("wall.state")}</th>
              <th scope="col">{t("wall.inState")}</th>
              <th scope="col">{t("wall.occupancy")}</th>
              <th scope="col">{t("wall.work")}</th>
            </tr>
          </thead>
          <tbody>
            {agents
              .filter((a) => a.role !== "knowledge_editor")
              .map((a) => (
                <tr key={a.id} data-agent-id={a.id}>
                  <th scope="row">{a.name}</th>
                  <td>
                    <span className={`dot dot-${a.presence}`} aria-hidden="true" />{" "}
                    {t(`presence.${a.presence}` as MessageKey)}
                    {a.reason ? ` · ${a.reason}` : ""}
                  </td>
                  <td>{clock((now - new Date(a.since).getTime()) / 1000)}</td>
                  <td>{percent(a.occupancy)}</td>
                  <td>
                    {a.work.map((w) => (
                      <Reassign key={w.conversationId} work={w} agents={agents} onDone={loadAgents} />
                    ))}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/** A supervisor moves one piece of work to another agent. */
function Reassign({ work, agents, onDone }: { work: AgentRow["work"][number]; agents: AgentRow[]; onDone(): void }) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="work">
      <a href={`#/inbox/all/${work.conversationId}`}>
        {t(`channel.${work.channel}` as MessageKey)} · {t(`work.${work.state}` as MessageKey)}
      </a>
      <select
        aria-label={t("wall.reassign")}
        value=""
        data-testid="reassign"
        onChange={async (e) => {
          if (!e.target.value) return;
          try {
            await request(`/conversations/${work.conversationId}/assign`, { body: { assigneeId: e.target.value } });
            onDone();
          } catch (err) {
            setError(err instanceof ApiError ? err.message : t("error.generic"));
          }
        }}
      >
        <option value="">{t("wall.reassign")}…</option>
        {agents
          .filter((a) => a.role !== "knowledge_editor")
          .map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
      </select>
      {error && <span className="error">{error}</span>}
    </span>
  );
}

/** Waiting per queue over the last hour, drawn with ECharts (loaded only on this page). */
function WaitingChart({ queues }: { queues: LiveQueue[] }) {
  const { t, locale } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const [history, setHistory] = useState<History | null>(null);
  const [error, setError] = useState(false);
  useEffect(() => {
    const load = () => request<History>("/queues/history?minutes=60&step=60").then(setHistory, () => setError(true));
    void load();
    const timer = setInterval(load, 60_000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    if (!history || !box.current) return;
    let disposed = false;
    let chart: { dispose(): void; resize(): void } | undefined;
    const onResize = () => chart?.resize();
    void import("./chart.ts").then(({ drawWaiting }) => {
      if (disposed || !box.current) return;
      chart = drawWaiting(
        box.current,
        history,
        queues.map((q) => ({ id: q.id, name: q.name })),
        locale,
      );
      addEventListener("resize", onResize);
    });
    return () => {
      disposed = true;
      removeEventListener("resize", onResize);
      chart?.dispose();
    };
  }, [history, queues.map((q) => q.id + q.name).join(), locale]);
  return (
    <section aria-labelledby="wall-chart">
      <h2 id="wall-chart">{t("wall.chart")}</h2>
      {error ? (
        <p className="error">{t("error.generic")}</p>
      ) : (
        <div ref={box} className="chart" role="img" aria-label={t("wall.chart")} data-testid="wall-chart" />
      )}
    </section>
  );
}
