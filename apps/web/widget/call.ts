import type { Api, CallAnswer, CallView, Frame } from "./api.ts";
import type { MessageKey } from "./catalog.ts";
import {
  AudioPeer,
  DISCONNECT_GRACE_MS,
  microphone,
  uuid,
  type IceServerConfig,
  type PeerSignal,
} from "../rtc/peer.ts";
import { PhoneLine, type PhoneTicket } from "./phone-line.ts";
import { h } from "./dom.ts";
import type { View } from "./view.ts";

const FINAL = ["completed", "abandoned", "no_answer", "busy", "failed", "voicemail", "transferred_out"];
const isFinal = (status: string) => FINAL.includes(status);
/** How long "call ended" stays in the strip after a call. */
const ENDED_MS = 6000;

type Ended = Extract<MessageKey, "callEnded" | "callMissed" | "callFailed">;

/**
 * Chat → voice in the widget: the visitor's "call" button, an agent's invitation to a call, and the
 * call itself, browser to browser (peer.ts), signalled through the widget API and socket. The strip
 * under the header shows where the call stands; `data-call-status` / `data-peer-state` on the
 * widget's host element say the same to scripts and tests.
 */
export class WidgetCall {
  private call: CallView | null = null;
  private stream: MediaStream | null = null;
  private peer: AudioPeer | null = null;
  private iceServers: IceServerConfig[] = [];
  /** Signals that came before this tab's peer connection existed. */
  private early: PeerSignal[] = [];
  private available = false;
  /** Which way the call button goes: browser to browser, or through the inbox's Twilio phone line. */
  private via: "browser" | "phone" = "browser";
  private line: PhoneLine | null = null;
  private muted = false;
  private busy = false;
  private reportedConnected = false;
  private ended: Ended | null = null;
  private endedTimer: ReturnType<typeof setTimeout> | undefined;
  private dropTimer: ReturnType<typeof setTimeout> | undefined;
  private clock: ReturnType<typeof setInterval> | undefined;
  private readonly audio = document.createElement("audio");

  constructor(
    private readonly api: Api,
    private readonly view: View,
    private readonly reveal: () => void,
  ) {
    this.audio.autoplay = true;
    // Closing the tab ends the call at once rather than when the server notices the socket gone.
    addEventListener("pagehide", () => {
      if (this.stream && this.call && !isFinal(this.call.status)) this.api.hangUpOnUnload(this.call.id);
      this.line?.hangUp();
    });
  }

  /** A call continues a chat: the button shows once the visitor has a conversation. */
  setAvailable(available: boolean, via: "browser" | "phone" = "browser") {
    this.via = via;
    // A host page on plain http has no microphone API (it needs a secure context): no button there.
    this.available = available && !!navigator.mediaDevices?.getUserMedia && typeof RTCPeerConnection === "function";
    this.render();
  }

  /** After the socket (re)connects: an invitation may have rung, or our call ended, while away. */
  async refresh() {
    if (!this.available && !this.call) return;
    try {
      const live = await this.api.calls<{ items: CallView[]; iceServers: IceServerConfig[] }>("GET", "/live");
      this.iceServers = live.iceServers;
      const mine = this.call && live.items.find((c) => c.id === this.call!.id);
      if (this.call && !mine && this.stream) this.finish("completed");
      const ringing = live.items.find((c) => c.status === "ringing" && c.direction === "out");
      if (mine) this.update(mine);
      else if (ringing && !this.call) this.update(ringing);
    } catch {
      // The next reconnect asks again.
    }
  }

  receive(frame: Frame) {
    if (frame.type === "call.state" && frame.call) this.update(frame.call);
    else if (frame.type === "call.signal" && frame.signal && frame.callId && frame.callId === this.call?.id) {
      if (this.peer) void this.peer.receive(frame.signal).catch(() => this.hangUp("failed"));
      else this.early.push(frame.signal);
    }
  }

  /** The visitor's "call" button. */
  async start() {
    if (this.call || this.line || this.busy) return;
    if (this.via === "phone") return this.startLine();
    this.busy = true;
    try {
      const stream = await microphone();
      if (!stream) return this.view.showNotice("callNoMic");
      this.stream = stream;
      const answer = await this.api.calls<CallAnswer>("POST", "", { callId: uuid() });
      this.iceServers = answer.iceServers;
      this.update(answer.call);
    } catch {
      this.release();
      this.view.showNotice("error");
    } finally {
      this.busy = false;
    }
  }

  /** The call through Twilio: a ticket from the server, then the SDK places it. */
  private async startLine() {
    this.busy = true;
    try {
      // Asked here (and let go at once) so a refusal gets the same notice as a browser call; the SDK asks again.
      const probe = await microphone();
      if (!probe) return this.view.showNotice("callNoMic");
      for (const t of probe.getTracks()) t.stop();
      const line = new PhoneLine(
        this.api.base,
        () => this.render(),
        (how) => {
          if (this.line !== line) return;
          this.line = null;
          this.muted = false;
          this.ended = how === "failed" ? "callFailed" : "callEnded";
          this.view.host.dataset.lastCallStatus = how;
          clearTimeout(this.endedTimer);
          this.endedTimer = setTimeout(() => ((this.ended = null), this.render()), ENDED_MS);
          this.render();
        },
      );
      this.line = line;
      this.ended = null;
      this.render();
      const ticket = await this.api.calls<PhoneTicket>("POST", "/twilio");
      await line.start(ticket);
    } catch {
      this.line?.end("failed");
    } finally {
      this.busy = false;
    }
  }

  private async accept() {
    const call = this.call;
    if (!call || this.busy) return;
    this.busy = true;
    try {
      const stream = this.stream ?? (await microphone());
      if (!stream) return this.view.showNotice("callNoMic");
      this.stream = stream;
      const answer = await this.api.calls<CallAnswer>("POST", `/${call.id}/accept`);
      this.iceServers = answer.iceServers;
      this.update(answer.call);
    } catch {
      this.view.showNotice("error");
    } finally {
      this.busy = false;
    }
  }

  private hangUp(reason: "hangup" | "failed" = "hangup") {
    const call = this.call;
    if (!call) return;
    this.api
      .calls<{ call: CallView }>("POST", `/${call.id}/hangup`, { reason })
      .then((r) => this.update(r.call))
      .catch(() => this.finish(reason === "failed" ? "failed" : "completed"));
  }

  private update(call: CallView) {
    if (this.call && call.id !== this.call.id && !isFinal(this.call.status)) return;
    if (isFinal(call.status)) {
      if (this.call?.id === call.id) this.finish(call.status);
      return;
    }
    // Taken in another of the visitor's tabs: that tab has the microphone and the call.
    if (call.status !== "ringing" && !this.stream) {
      if (this.call?.id === call.id) this.call = null;
      return this.render();
    }
    const invited = !this.call && call.status === "ringing" && call.direction === "out";
    this.call = call;
    this.ended = null;
    if (call.status !== "ringing" && !this.peer) this.connect(call);
    if (invited) this.reveal();
    this.render();
  }

  private connect(call: CallView) {
    const peer = new AudioPeer(
      this.iceServers,
      this.stream!,
      this.audio,
      (signal) => this.api.calls("POST", `/${call.id}/signal`, signal),
      (state) => this.peerState(call.id, state),
    );
    this.peer = peer;
    peer.setMuted(this.muted);
    for (const s of this.early.splice(0)) void peer.receive(s).catch(() => this.hangUp("failed"));
  }

  private peerState(callId: string, state: RTCPeerConnectionState) {
    if (this.call?.id !== callId) return;
    this.view.host.dataset.peerState = state;
    clearTimeout(this.dropTimer);
    if (state === "connected" && !this.reportedConnected) {
      this.reportedConnected = true;
      this.api.calls<{ call: CallView }>("POST", `/${callId}/connected`).then(
        (r) => this.update(r.call),
        () => {},
      );
    } else if (state === "disconnected") {
      // The agent's tab closed or the network dropped: give it a moment to come back.
      this.dropTimer = setTimeout(() => this.hangUp(), DISCONNECT_GRACE_MS);
    } else if (state === "failed") {
      this.hangUp(this.reportedConnected ? "hangup" : "failed");
    }
  }

  private finish(status: string) {
    this.ended =
      status === "failed"
        ? "callFailed"
        : status === "no_answer" && this.call?.direction === "in"
          ? "callMissed"
          : "callEnded";
    this.view.host.dataset.lastCallStatus = status;
    this.call = null;
    this.release();
    clearTimeout(this.endedTimer);
    this.endedTimer = setTimeout(() => ((this.ended = null), this.render()), ENDED_MS);
    this.render();
  }

  private release() {
    clearTimeout(this.dropTimer);
    this.peer?.close();
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.peer = null;
    this.stream = null;
    this.early = [];
    this.muted = false;
    this.reportedConnected = false;
    delete this.view.host.dataset.peerState;
  }

  render() {
    const { callBar, callButton, host } = this.view;
    const call = this.call;
    const t = (key: MessageKey, vars?: Record<string, string | number>) => this.view.t(key, vars);
    host.dataset.callStatus = this.line?.state ?? call?.status ?? "none";
    callButton.hidden = !this.available || !!call || !!this.line;
    clearInterval(this.clock);
    if (this.line) return this.renderLine(this.line);
    if (!call) {
      callBar.hidden = !this.ended;
      callBar.replaceChildren(this.ended ? h("p", { role: "status" }, t(this.ended)) : "");
      return;
    }
    const agent = call.agentName || t("agent");
    const button = (key: MessageKey, onclick: () => void, cls = "", testid = "") =>
      this.button(key, onclick, cls, testid);
    const hang = button("callHangUp", () => this.hangUp(), "hang", "switchboard-call-hangup");
    const mute = this.muteButton();
    let text: string;
    let actions: HTMLButtonElement[];
    let ticking: string | null = null;
    if (call.status === "ringing" && call.direction === "out") {
      text = t("callInvite", { name: agent });
      actions = [
        button("callAccept", () => void this.accept(), "take", "switchboard-call-accept"),
        button("callDecline", () => this.hangUp(), "", "switchboard-call-decline"),
      ];
    } else if (call.status === "ringing") {
      text = t("callRinging");
      actions = [hang];
    } else if (call.status === "connected" && call.answeredAt) {
      text = t("callConnected", { name: agent, time: elapsed(call.answeredAt) });
      actions = [mute, hang];
      ticking = call.answeredAt;
    } else {
      text = t("callConnecting");
      actions = [mute, hang];
    }
    callBar.hidden = false;
    const status = h("p", { role: "status" }, text);
    callBar.replaceChildren(status, ...actions);
    // Only the clock's text changes each second; the buttons stay put under the visitor's pointer.
    if (ticking)
      this.clock = setInterval(
        () => (status.textContent = t("callConnected", { name: agent, time: elapsed(ticking) })),
        1000,
      );
  }

  /** Through the phone line the caller first hears the queue's announcements, then the agent. */
  private renderLine(line: PhoneLine) {
    const { callBar } = this.view;
    const since = line.answeredAt;
    const text = () => (since ? this.view.t("callOnLine", { time: elapsed(since) }) : this.view.t("callConnecting"));
    const status = h("p", { role: "status" }, text());
    callBar.hidden = false;
    callBar.replaceChildren(
      status,
      this.muteButton(),
      this.button("callHangUp", () => line.hangUp(), "hang", "switchboard-call-hangup"),
    );
    if (since) this.clock = setInterval(() => (status.textContent = text()), 1000);
  }

  private button(key: MessageKey, onclick: () => void, cls = "", testid = "") {
    return h("button", { type: "button", class: cls, "data-testid": testid || undefined, onclick }, this.view.t(key));
  }

  private muteButton() {
    return this.button(this.muted ? "callUnmute" : "callMute", () => {
      this.muted = !this.muted;
      this.peer?.setMuted(this.muted);
      this.line?.mute(this.muted);
      this.render();
    });
  }
}

function elapsed(since: string) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
