import { useCallback, useEffect, useRef, useState } from "react";
import type { IceServerConfig, PeerSignal } from "../rtc/peer.ts";
import { MonitorClient, type MonitorMode } from "./call-monitor.ts";
import { useFrames, useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useNow } from "./hooks.ts";
import { clock, useI18n } from "./i18n.ts";
import type { MessageKey } from "./catalog.ts";
import { callParty, type Call } from "./model.ts";
import { href } from "./route.ts";

const ON_THE_LINE = ["connecting", "connected", "on_hold", "callback"];

/** The calls of the workspace still going, refreshed whenever a call item changes. */
export function useLiveCalls() {
  const [calls, setCalls] = useState<Call[]>([]);
  const refresh = useCallback(
    () =>
      request<{ items: Call[] }>("/calls/live").then(
        (r) => setCalls(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void refresh(), [refresh]);
  useFrames(
    (f) => {
      const item = f.item as { type?: string } | undefined;
      if (((f.type === "item.updated" || f.type === "item.created") && item?.type === "call") || f.type === "resync")
        void refresh();
    },
    [refresh],
  );
  return { calls, refresh };
}

/**
 * The agent's phone: the call they are on, with hold, mute, record, transfer and hang-up. Audio
 * runs through Twilio (the server rings this agent's softphone identity); on the demo's simulated
 * line there is no audio, and the controls drive the simulator the same way.
 */
export function Softphone() {
  const { me } = useWorkspace();
  const { calls, refresh } = useLiveCalls();
  // Browser calls (chat → voice) have their own strip (browser-call.tsx): Twilio's controls do not apply.
  const mine = calls.filter(
    (c) =>
      (c.agentId === me.id || c.consult?.agentId === me.id) &&
      ON_THE_LINE.includes(c.status) &&
      c.provider !== "webrtc",
  );
  if (!mine.length) return null;
  return (
    <aside className="softphone" aria-label="Softphone" data-testid="softphone">
      {mine.map((c) => (
        <CallCard key={c.callId} call={c} onChange={refresh} />
      ))}
    </aside>
  );
}

function CallCard({ call, onChange }: { call: Call; onChange(): void }) {
  const { t } = useI18n();
  const { users, teams, queues, me } = useWorkspace();
  const [muted, setMuted] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [transferring, setTransferring] = useState(false);
  const [target, setTarget] = useState("");
  const [warm, setWarm] = useState(false);
  const now = useNow(1000);
  const act = async (path: string, body: unknown = {}) => {
    setError(null);
    try {
      await request(`/calls/${call.callId}/${path}`, { method: "POST", body });
      onChange();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  const talking = call.answeredAt ? Math.round((now - new Date(call.answeredAt).getTime()) / 1000) : 0;
  const connected = call.status === "connected" || call.status === "on_hold";
  const transfer = async () => {
    const [kind, id] = target.split(":");
    if (!kind || !id) return;
    await act("transfer", { [`${kind}Id`]: id, warm: warm && kind !== "queue" });
    setTransferring(false);
  };
  return (
    <section className="call-card" data-testid="call-card" data-status={call.status}>
      <header>
        <strong>📞 {callParty(call, t("call.webVisitor"))}</strong>
        <span data-testid="call-status">{t(`call.status.${call.status}` as MessageKey)}</span>
        {connected && <span role="timer">{clock(talking)}</span>}
      </header>
      <a href={href({ page: "inbox", view: "mine", conversationId: call.conversationId })}>{t("call.caller")} →</a>
      <div className="call-actions">
        {connected && (
          <>
            <button
              type="button"
              onClick={() => act("hold", { hold: call.status !== "on_hold" })}
              data-testid="call-hold"
            >
              {call.status === "on_hold" ? t("call.hold.off") : t("call.hold.on")}
            </button>
            <button
              type="button"
              aria-pressed={muted}
              onClick={() => act("mute", { muted: !muted }).then(() => setMuted(!muted))}
              data-testid="call-mute"
            >
              {muted ? t("call.mute.off") : t("call.mute.on")}
            </button>
            {!call.recordingUrl && (
              <button type="button" onClick={() => act("record")} data-testid="call-record">
                {t("call.record")}
              </button>
            )}
            <button
              type="button"
              onClick={() => setTransferring(!transferring)}
              aria-expanded={transferring}
              data-testid="call-transfer"
            >
              {t("call.transfer")}
            </button>
          </>
        )}
        {call.consult && call.agentId === me.id && (
          <button type="button" onClick={() => act("transfer/complete")} data-testid="call-transfer-complete">
            {t("call.transfer.complete")}
          </button>
        )}
        <button type="button" className="danger" onClick={() => act("hangup")} data-testid="call-hangup">
          {t("call.hangup")}
        </button>
      </div>
      {transferring && (
        <div className="call-transfer">
          <label>
            {t("call.transfer.to")}
            <select value={target} onChange={(e) => setTarget(e.target.value)} data-testid="call-transfer-target">
              <option value="" />
              <optgroup label={t("call.agent")}>
                {users
                  .filter((u) => u.id !== me.id && u.role !== "knowledge_editor")
                  .map((u) => (
                    <option key={u.id} value={`agent:${u.id}`}>
                      {u.name}
                    </option>
                  ))}
              </optgroup>
              <optgroup label="Teams">
                {teams.map((x) => (
                  <option key={x.id} value={`team:${x.id}`}>
                    {x.name}
                  </option>
                ))}
              </optgroup>
              <optgroup label="Queues">
                {queues.map((q) => (
                  <option key={q.id} value={`queue:${q.id}`}>
                    {q.name}
                  </option>
                ))}
              </optgroup>
            </select>
          </label>
          <label>
            <input type="checkbox" checked={warm} onChange={(e) => setWarm(e.target.checked)} />{" "}
            {t("call.transfer.warm")}
          </label>
          <button
            type="button"
            className="primary"
            onClick={transfer}
            disabled={!target}
            data-testid="call-transfer-go"
          >
            {t("call.transfer.go")}
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** Supervisors: every live call, with listen, whisper and barge. */
export function LiveCalls() {
  const { t } = useI18n();
  const { users, queues, me } = useWorkspace();
  const { calls, refresh } = useLiveCalls();
  const [error, setError] = useState<string | null>(null);
  const now = useNow(1000);
  // Browser calls are monitored over a link from this tab to the agent's (call-monitor.ts).
  const links = useRef(new Map<string, MonitorClient>());
  const [linkState, setLinkState] = useState<Record<string, RTCPeerConnectionState>>({});
  useFrames((f) => {
    if (f.type === "call.monitor.signal")
      void links.current
        .get(f.callId)
        ?.receive(f.signal as PeerSignal)
        .catch(() => {});
  }, []);
  useEffect(() => () => links.current.forEach((l) => l.close()), []);
  useEffect(() => {
    for (const [id, link] of links.current)
      if (!calls.some((c) => c.callId === id && (c.status === "connected" || c.status === "on_hold"))) {
        link.close();
        links.current.delete(id);
      }
  }, [calls]);
  const act = async (fn: () => Promise<void>) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
    void refresh();
  };
  const monitor = (call: Call, mode: MonitorMode) =>
    act(async () => {
      const r = await request<{ iceServers?: IceServerConfig[] }>(`/calls/${call.callId}/monitor`, {
        method: "POST",
        body: { mode },
      });
      if (call.provider !== "webrtc") return;
      const existing = links.current.get(call.callId);
      if (existing) return existing.setMode(mode);
      const send = (signal: PeerSignal) => request(`/calls/${call.callId}/monitor/signal`, { body: signal });
      const link = await MonitorClient.open(call.callId, mode, r.iceServers ?? [], send, (state) =>
        setLinkState((s) => ({ ...s, [call.callId]: state })),
      );
      links.current.set(call.callId, link);
      await link.offer();
    });
  const leave = (call: Call) =>
    act(async () => {
      await request(`/calls/${call.callId}/monitor/stop`, { method: "POST" });
      links.current.get(call.callId)?.close();
      links.current.delete(call.callId);
    });
  return (
    <section aria-labelledby="live-calls" data-testid="live-calls">
      <h2 id="live-calls">{t("call.live")}</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!calls.length ? (
        <p className="empty">{t("call.none")}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>{t("call.caller")}</th>
              <th>{t("call.agent")}</th>
              <th>{t("call.statusColumn")}</th>
              <th />
              <th />
            </tr>
          </thead>
          <tbody>
            {calls.map((c) => (
              <tr
                key={c.callId}
                data-testid="live-call"
                data-status={c.status}
                data-provider={c.provider}
                data-monitor-state={linkState[c.callId]}
              >
                <td>
                  <a href={href({ page: "inbox", view: "all", conversationId: c.conversationId })}>
                    {callParty(c, t("call.webVisitor"))}
                  </a>
                </td>
                <td>
                  {users.find((u) => u.id === c.agentId)?.name ?? queues.find((q) => q.id === c.queueId)?.name ?? "—"}
                </td>
                <td>{t(`call.status.${c.status}` as MessageKey)}</td>
                <td>{clock(Math.round((now - new Date(c.answeredAt ?? c.startedAt).getTime()) / 1000))}</td>
                <td className="call-actions">
                  {(c.status === "connected" || c.status === "on_hold") &&
                    (["listen", "whisper", "barge"] as const).map((mode) => (
                      <button
                        key={mode}
                        type="button"
                        onClick={() => monitor(c, mode)}
                        aria-pressed={c.monitors.some((m) => m.userId === me.id && m.mode === mode)}
                        data-testid={`monitor-${mode}`}
                      >
                        {t(`call.monitor.${mode}` as MessageKey)}
                      </button>
                    ))}
                  {c.monitors.some((m) => m.userId === me.id) && (
                    <button type="button" onClick={() => leave(c)} data-testid="monitor-leave">
                      {t("call.monitor.leave")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
