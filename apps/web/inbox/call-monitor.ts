import { AudioPeer, microphone, type IceServerConfig, type PeerSignal } from "../rtc/peer.ts";

/**
 * Supervisors on browser calls (calls/browser-call.ts): a second peer connection between
 * the supervisor's wallboard and the agent's tab. The visitor's browser is never part of it, so a
 * whisper reaches the agent alone; for a barge the agent's tab mixes the supervisor into what it
 * sends the visitor.
 */
export type MonitorMode = "listen" | "whisper" | "barge";

/**
 * The agent's side, one per live browser call: answers each monitoring supervisor's offer with
 * the call as the agent hears it (the visitor mixed with the agent's microphone), plays what the
 * supervisor says, and mixes barging supervisors into the track the visitor gets.
 */
export class MonitorHost {
  private readonly links = new Map<
    string,
    { peer: AudioPeer; mode: MonitorMode; name: string; remote: MediaStream | null; audio: HTMLAudioElement }
  >();
  private ctx: AudioContext | null = null;

  constructor(
    private readonly call: AudioPeer,
    private readonly mic: MediaStream,
    private readonly iceServers: IceServerConfig[],
    private readonly send: (supervisorId: string, signal: PeerSignal) => Promise<unknown>,
    private readonly changed: () => void,
  ) {}

  /** Who monitors the call now, for the agent's call strip. */
  get monitors() {
    return [...this.links.values()].map((l) => ({ name: l.name, mode: l.mode }));
  }

  /** A supervisor joined, changed mode, or left (`null`). */
  mode(supervisorId: string, name: string, mode: MonitorMode | null) {
    const link = this.links.get(supervisorId);
    if (!mode) {
      if (link) this.drop(supervisorId);
    } else if (link) {
      link.mode = mode;
      link.name = name;
    } else this.link(supervisorId, name, mode);
    this.mixForVisitor();
    this.changed();
  }

  async signal(supervisorId: string, signal: PeerSignal) {
    // An offer can overtake the "joined" notice: the link starts with it, as a listener until told.
    const link = this.links.get(supervisorId) ?? this.link(supervisorId, "", "listen");
    await link.peer.receive(signal);
  }

  close() {
    for (const id of [...this.links.keys()]) this.drop(id);
    void this.ctx?.close();
    this.ctx = null;
  }

  private audioContext() {
    this.ctx ??= new AudioContext();
    void this.ctx.resume();
    return this.ctx;
  }

  /** A fresh track mixing `streams` (Web Audio), for a peer connection to send. */
  private mix(streams: MediaStream[]) {
    const ctx = this.audioContext();
    const out = ctx.createMediaStreamDestination();
    for (const s of streams) if (s.getAudioTracks().length) ctx.createMediaStreamSource(s).connect(out);
    return out.stream;
  }

  private visitorAudio() {
    const track = this.call.pc.getReceivers().find((r) => r.track?.kind === "audio")?.track;
    return track ? new MediaStream([track]) : null;
  }

  private link(supervisorId: string, name: string, mode: MonitorMode) {
    const visitor = this.visitorAudio();
    const heard = this.mix([this.mic, ...(visitor ? [visitor] : [])]);
    const audio = document.createElement("audio");
    audio.autoplay = true;
    const entry = { peer: null as unknown as AudioPeer, mode, name, remote: null as MediaStream | null, audio };
    entry.peer = new AudioPeer(
      this.iceServers,
      heard,
      audio,
      (signal) => this.send(supervisorId, signal),
      (state) => {
        if (state === "failed" || state === "closed") this.drop(supervisorId);
        this.changed();
      },
    );
    entry.peer.pc.addEventListener("track", (e) => {
      entry.remote = e.streams[0] ?? new MediaStream([e.track]);
      this.mixForVisitor();
    });
    this.links.set(supervisorId, entry);
    return entry;
  }

  private drop(supervisorId: string) {
    const link = this.links.get(supervisorId);
    if (!link) return;
    this.links.delete(supervisorId);
    link.peer.close();
    this.mixForVisitor();
    this.changed();
  }

  /** The visitor hears the agent, plus every supervisor who barged in; whispers stay with the agent. */
  private mixForVisitor() {
    const sender = this.call.pc.getSenders().find((s) => s.track?.kind === "audio" || s.track === null);
    if (!sender) return;
    const barging = [...this.links.values()].filter((l) => l.mode === "barge" && l.remote).map((l) => l.remote!);
    const own = this.mic.getAudioTracks()[0] ?? null;
    const track = barging.length ? (this.mix([this.mic, ...barging]).getAudioTracks()[0] ?? own) : own;
    if (sender.track !== track) void sender.replaceTrack(track).catch(() => {});
  }
}

/** The supervisor's side: one link per monitored call, offered from the wallboard. */
export class MonitorClient {
  readonly audio = document.createElement("audio");
  state: RTCPeerConnectionState = "new";
  private peer: AudioPeer;

  private constructor(
    readonly callId: string,
    stream: MediaStream,
    iceServers: IceServerConfig[],
    send: (signal: PeerSignal) => Promise<unknown>,
    onState: (state: RTCPeerConnectionState) => void,
  ) {
    this.audio.autoplay = true;
    this.peer = new AudioPeer(iceServers, stream, this.audio, send, (state) => {
      this.state = state;
      onState(state);
    });
    // Without a microphone the supervisor can still listen: receive only.
    if (!stream.getAudioTracks().length) this.peer.pc.addTransceiver("audio", { direction: "recvonly" });
  }

  /** A link ready to `offer()`: kept where answers can find it before the offer goes, since they may come back first. */
  static async open(
    callId: string,
    mode: MonitorMode,
    iceServers: IceServerConfig[],
    send: (signal: PeerSignal) => Promise<unknown>,
    onState: (state: RTCPeerConnectionState) => void,
  ) {
    const mic = (await microphone()) ?? new MediaStream();
    const client = new MonitorClient(callId, mic, iceServers, send, onState);
    client.setMode(mode);
    return client;
  }

  offer() {
    return this.peer.offer();
  }

  /** Listening sends silence; whisper and barge send the microphone (the agent's tab decides who hears it). */
  setMode(mode: MonitorMode) {
    this.peer.setMuted(mode === "listen");
  }

  receive(signal: PeerSignal) {
    return this.peer.receive(signal);
  }

  close() {
    this.peer.close();
  }
}
