import { backoff, type Frame } from "./api.ts";

/** How often the socket is checked; one silent interval after a ping means the connection is dead. */
const HEARTBEAT_MS = 25_000;
/** The close code the server gives a socket whose visitor token was retired. */
const SESSION_ENDED = 4401;

/**
 * The realtime connection. It reconnects with backoff for as long as it is wanted; the URL is asked
 * for anew on every attempt so it carries the latest token and `after` seq, and the server replays
 * whatever was missed while the socket was down.
 */
export class Feed {
  private socket: WebSocket | null = null;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private attempt = 0;
  private heard = false;

  constructor(
    private readonly url: () => string,
    private readonly onFrame: (frame: Frame) => void,
    /** The server closed with 4401: the session ended (merged or revoked); reconnecting cannot help. */
    private readonly onEnded: () => void = () => {},
  ) {
    // Coming back online is the best moment to retry; no need to wait out the backoff.
    addEventListener("online", () => {
      if (this.retry) this.connect();
    });
  }

  /** (Re)connects now, dropping any current socket. */
  connect() {
    this.stop();
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.heard = true;
      // A connection dropped by a phone network or a NAT often closes no socket: only silence tells.
      this.heartbeat = setInterval(() => {
        if (!this.heard) return this.connect();
        this.heard = false;
        socket.send("ping");
      }, HEARTBEAT_MS);
    };
    socket.onmessage = (e) => {
      this.heard = true;
      const frame = parse(e.data);
      if (!frame) return;
      if (frame.type === "hello") this.attempt = 0;
      this.onFrame(frame);
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      clearInterval(this.heartbeat);
      this.socket = null;
      if (e.code === SESSION_ENDED) return this.onEnded();
      this.retry = setTimeout(() => this.connect(), backoff(this.attempt++));
    };
  }

  stop() {
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    this.retry = undefined;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}

function parse(data: unknown): Frame | null {
  try {
    return typeof data === "string" ? (JSON.parse(data) as Frame) : null;
  } catch {
    return null;
  }
}
