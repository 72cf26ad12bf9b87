import {
  AudioPeer,
  DISCONNECT_GRACE_MS,
  microphone,
  uuid,
  type IceServerConfig,
  type PeerSignal,
} from "../rtc/peer.ts";
import type { BrowserCallView } from "../../../calls/browser-call.ts";
import { ApiError, request, session } from "./client.ts";
import type { MessageKey } from "./catalog.ts";
import type { Item } from "./model.ts";
import type { Frame } from "./realtime.ts";
import { navigate } from "./route.ts";
import { MonitorHost } from "./call-monitor.ts";

export type CallInfo = Pick<
  BrowserCallView,
  "id" | "conversationId" | "direction" | "status" | "agentId" | "answeredAt"
>;
type Active = {
  call: CallInfo;
  peer: AudioPeer | null;
  stream: MediaStream;
  reported: boolean;
  drop?: ReturnType<typeof setTimeout>;
  early: PeerSignal[];
  /** Supervisors listening, whispering or barging (call-monitor.ts). */
  monitor?: MonitorHost;
};

const FINAL = ["completed", "abandoned", "voicemail", "no_answer", "busy", "failed", "transferred_out"];
export const isFinal = (status: string) => FINAL.includes(status);

/** A browser call as a call item's data carries it (calls/call.ts `callData`). */
export function fromItem(item: Item, conversationId: string): CallInfo | null {
  const d = item.data as {
    callId?: string;
    provider?: string;
    status?: string;
    agentId?: string | null;
    answeredAt?: string | null;
  };
  if (item.type !== "call" || d.provider !== "webrtc" || !d.callId || !d.status) return null;
  return {
    id: d.callId,
    conversationId,
    direction: item.direction === "out" ? "out" : "in",
    status: d.status as CallInfo["status"],
    agentId: d.agentId ?? null,
    answeredAt: d.answeredAt ?? null,
  };
}

/**
 * This tab's side of browser calls (chat → voice): which calls ring for me, and the one I am on —
 * its microphone, peer connection (peer.ts) and signalling through the conversation's call API.
 * One per signed-in tab; React reads it through `useSyncExternalStore`.
 */
export class BrowserPhone {
  ringing = new Map<string, CallInfo>();
  active: Active | null = null;
  muted = false;
  error: MessageKey | null = null;
  peerState: RTCPeerConnectionState | null = null;
  private iceServers: IceServerConfig[] = [];
  private dismissed = new Set<string>();
  private listeners = new Set<() => void>();
  version = 0;
  private readonly audio = document.createElement("audio");

  constructor(private readonly me: string) {
    this.audio.autoplay = true;
    addEventListener("pagehide", this.onPageHide);
  }

  dispose() {
    removeEventListener("pagehide", this.onPageHide);
    this.release();
  }

  /** Closing the tab ends my call at once (a keep-alive request outlives the page). */
  private onPageHide = () => {
    const call = this.active?.call;
    if (!call) return;
    void fetch(`/api/v1/conversations/${call.conversationId}/browser-calls/${call.id}/hangup`, {
      method: "POST",
      keepalive: true,
      headers: { authorization: `Bearer ${session.token ?? ""}`, "content-type": "application/json" },
      body: "{}",
    }).catch(() => {});
  };

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  };

  private changed() {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** What rings for me now, and the ICE servers to use (after sign-in and every reconnect). */
  async load() {
    const r = await request<{ items: BrowserCallView[]; iceServers: IceServerConfig[] }>("/browser-calls").catch(
      () => null,
    );
    if (!r) return;
    this.iceServers = r.iceServers;
    this.ringing = new Map(
      r.items
        .filter((c) => c.status === "ringing" && c.direction === "in" && !this.dismissed.has(c.id))
        .map((c) => [c.id, c]),
    );
    const mine = this.active && r.items.find((c) => c.id === this.active!.call.id);
    if (this.active && !mine) this.release();
    else if (mine) this.update(mine);
    this.changed();
  }

  frame(f: Frame) {
    if ((f.type === "item.created" || f.type === "item.updated") && f.item && f.conversationId) {
      const call = fromItem(f.item as Item, f.conversationId);
      if (call) this.update(call);
    } else if (f.type === "call.signal" && this.active && f.callId === this.active.call.id) {
      const signal = f.signal as PeerSignal;
      if (this.active.peer) void this.active.peer.receive(signal).catch(() => this.hangUp("failed"));
      else this.active.early.push(signal);
    } else if (f.type === "call.monitor" && this.active?.peer && f.callId === this.active.call.id) {
      this.monitorOf(this.active).mode(f.supervisorId, f.supervisorName ?? "", f.mode ?? null);
    } else if (f.type === "call.monitor.signal" && this.active?.peer && f.callId === this.active.call.id) {
      void this.monitorOf(this.active)
        .signal(f.supervisorId, f.signal as PeerSignal)
        .catch(() => {});
    } else if ((f.type === "connection" && f.connected) || f.type === "resync") {
      void this.load();
    }
  }

  private update(call: CallInfo) {
    const rings =
      call.status === "ringing" && call.direction === "in" && (call.agentId === null || call.agentId === this.me);
    if (rings && !this.dismissed.has(call.id)) this.ringing.set(call.id, call);
    else this.ringing.delete(call.id);
    const active = this.active;
    if (active && active.call.id === call.id) {
      if (isFinal(call.status)) return this.release();
      active.call = call;
      // The visitor took my invitation: my browser makes the offer.
      if (call.status === "connecting" && !active.peer) this.connect(active);
    }
    this.changed();
  }

  private monitorOf(active: Active) {
    active.monitor ??= new MonitorHost(
      active.peer!,
      active.stream,
      this.iceServers,
      (supervisorId, signal) =>
        request(`/calls/${active.call.id}/monitor/signal`, { body: { ...signal, supervisorId } }),
      () => this.changed(),
    );
    return active.monitor;
  }

  async answer(call: CallInfo) {
    if (this.active) return;
    this.error = null;
    const stream = await microphone();
    if (!stream) return this.fail("browserCall.noMic");
    try {
      const r = await request<{ call: BrowserCallView; iceServers: IceServerConfig[] }>(
        `/conversations/${call.conversationId}/browser-calls/${call.id}/answer`,
        { method: "POST" },
      );
      this.iceServers = r.iceServers;
      this.ringing.delete(call.id);
      const active: Active = { call: r.call, peer: null, stream, reported: false, early: [] };
      this.active = active;
      this.connect(active);
      navigate({ page: "inbox", view: "mine", conversationId: call.conversationId });
    } catch (e) {
      for (const t of stream.getTracks()) t.stop();
      this.ringing.delete(call.id);
      this.fail(e instanceof ApiError ? null : "error.generic", e);
    }
  }

  async invite(conversationId: string) {
    if (this.active) return;
    this.error = null;
    const stream = await microphone();
    if (!stream) return this.fail("browserCall.noMic");
    try {
      const r = await request<{ call: BrowserCallView; iceServers: IceServerConfig[] }>(
        `/conversations/${conversationId}/browser-calls`,
        { body: { callId: uuid() } },
      );
      this.iceServers = r.iceServers;
      this.active = { call: r.call, peer: null, stream, reported: false, early: [] };
      this.changed();
    } catch (e) {
      for (const t of stream.getTracks()) t.stop();
      this.fail(e instanceof ApiError ? null : "error.generic", e);
    }
  }

  decline(call: CallInfo) {
    this.dismissed.add(call.id);
    this.ringing.delete(call.id);
    this.changed();
    // Ringing for me alone (my conversation): declining ends it; otherwise the others still ring.
    if (call.agentId === this.me)
      void request(`/conversations/${call.conversationId}/browser-calls/${call.id}/hangup`, { body: {} }).catch(
        () => {},
      );
  }

  hangUp(reason: "hangup" | "failed" = "hangup") {
    const call = this.active?.call;
    if (!call) return;
    void request(`/conversations/${call.conversationId}/browser-calls/${call.id}/hangup`, { body: { reason } }).catch(
      () => {},
    );
    this.release();
  }

  toggleMute() {
    this.muted = !this.muted;
    this.active?.peer?.setMuted(this.muted);
    this.changed();
  }

  private connect(active: Active) {
    const { id, conversationId } = active.call;
    const base = `/conversations/${conversationId}/browser-calls/${id}`;
    const peer = new AudioPeer(
      this.iceServers,
      active.stream,
      this.audio,
      (signal) => request(`${base}/signal`, { body: signal }),
      (state) => {
        if (this.active !== active) return;
        this.peerState = state;
        clearTimeout(active.drop);
        if (state === "connected" && !active.reported) {
          active.reported = true;
          void request<{ call: BrowserCallView }>(`${base}/connected`, { method: "POST" }).then(
            (r) => this.update(r.call),
            () => {},
          );
        } else if (state === "disconnected") {
          active.drop = setTimeout(() => this.hangUp(), DISCONNECT_GRACE_MS);
        } else if (state === "failed") {
          this.hangUp(active.reported ? "hangup" : "failed");
        }
        this.changed();
      },
    );
    active.peer = peer;
    peer.setMuted(this.muted);
    for (const s of active.early.splice(0)) void peer.receive(s).catch(() => this.hangUp("failed"));
    void peer.offer().catch(() => this.hangUp("failed"));
  }

  private release() {
    const active = this.active;
    this.active = null;
    this.muted = false;
    this.peerState = null;
    if (active) {
      clearTimeout(active.drop);
      active.monitor?.close();
      active.peer?.close();
      for (const t of active.stream.getTracks()) t.stop();
    }
    this.changed();
  }

  private fail(key: MessageKey | null, e?: unknown) {
    this.error = key;
    this.apiError = e instanceof ApiError ? e.message : null;
    this.changed();
  }

  apiError: string | null = null;
}
