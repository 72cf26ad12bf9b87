/**
 * One side of a browser call's audio: an RTCPeerConnection with the microphone's track, the other
 * side's audio played in an <audio> element, and signalling handed to `send` (the server relays it).
 * Shared by the widget and the agent's inbox. The agent's side makes the offer, the visitor's
 * answers; ICE candidates trickle both ways and are held until the remote description is set, since
 * separate POSTs may overtake each other on the way.
 */
export type PeerSignal =
  | { kind: "offer" | "answer"; sdp: string }
  | {
      kind: "candidate";
      candidate: {
        candidate: string;
        sdpMid?: string | null;
        sdpMLineIndex?: number | null;
        usernameFragment?: string | null;
      };
    };

export type IceServerConfig = { urls: string | string[]; username?: string; credential?: string };

export class AudioPeer {
  readonly pc: RTCPeerConnection;
  private early: RTCIceCandidateInit[] = [];
  private closed = false;

  constructor(
    iceServers: IceServerConfig[],
    private readonly stream: MediaStream,
    private readonly audio: HTMLAudioElement,
    private readonly send: (signal: PeerSignal) => Promise<unknown>,
    onState: (state: RTCPeerConnectionState) => void,
  ) {
    this.pc = new RTCPeerConnection({ iceServers });
    for (const track of stream.getAudioTracks()) this.pc.addTrack(track, stream);
    this.pc.ontrack = (e) => {
      audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      // Autoplay may be refused until the page had a click; the call began with one on both sides.
      audio.play().catch(() => {});
    };
    this.pc.onicecandidate = (e) => {
      if (e.candidate?.candidate)
        void this.send({ kind: "candidate", candidate: e.candidate.toJSON() as never }).catch(() => {});
    };
    this.pc.onconnectionstatechange = () => onState(this.pc.connectionState);
  }

  /** The agent's side starts the negotiation. */
  async offer() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await this.send({ kind: "offer", sdp: offer.sdp ?? "" });
  }

  async receive(signal: PeerSignal) {
    if (this.closed) return;
    if (signal.kind === "candidate") {
      if (!this.pc.remoteDescription) this.early.push(signal.candidate);
      else await this.pc.addIceCandidate(signal.candidate).catch(() => {});
      return;
    }
    await this.pc.setRemoteDescription({ type: signal.kind, sdp: signal.sdp });
    for (const c of this.early.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
    if (signal.kind === "offer") {
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await this.send({ kind: "answer", sdp: answer.sdp ?? "" });
    }
  }

  setMuted(muted: boolean) {
    for (const t of this.stream.getAudioTracks()) t.enabled = !muted;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
    for (const t of this.stream.getTracks()) t.stop();
    this.audio.srcObject = null;
  }
}

/** The microphone, or null when the visitor or agent refused it (or there is none). */
export async function microphone(): Promise<MediaStream | null> {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch {
    return null;
  }
}

/** A random RFC 4122 version 4 id; crypto.randomUUID() needs a secure context, host pages may be http. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A peer connection that dropped (the other tab closed, the network went) ends the call after this long. */
export const DISCONNECT_GRACE_MS = 8000;
