/**
 * One socket per signed-in tab on /api/v1/realtime. It resumes after the last seq it saw, so a
 * dropped connection loses nothing; on `resync` (too much was missed) listeners reload their views.
 */
export type Frame = { seq: number; type: string; conversationId: string | null; [k: string]: any };
type Listener = (f: Frame) => void;

export class Realtime {
  private ws: WebSocket | undefined;
  private lastSeq: number | undefined;
  private listeners = new Set<Listener>();
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ping: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  connected = false;

  constructor(private readonly token: string) {}

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ping);
    this.ws?.close();
  }

  on(fn: Listener) {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private emit(f: Frame) {
    for (const fn of this.listeners) fn(f);
  }

  private open() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const after = this.lastSeq === undefined ? "" : `&after=${this.lastSeq}`;
    const ws = new WebSocket(
      `${proto}://${location.host}/api/v1/realtime?token=${encodeURIComponent(this.token)}${after}`,
    );
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.connected = true;
      this.emit({ seq: 0, type: "connection", conversationId: null, connected: true });
      this.ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 25_000);
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== "string" || e.data === "pong") return;
      const f = JSON.parse(e.data) as Frame;
      // Every frame's seq is a safe resume point (hello: where the replay starts; others: the seq last
      // delivered), so a reconnect resumes after the highest one seen.
      // `resync` names the seq to continue after, even below one a client remembers from elsewhere.
      if (typeof f.seq === "number") this.lastSeq = f.type === "resync" ? f.seq : Math.max(this.lastSeq ?? 0, f.seq);
      if (f.type === "hello") return;
      this.emit(f);
    };
    ws.onclose = () => {
      clearInterval(this.ping);
      if (this.connected) this.emit({ seq: 0, type: "connection", conversationId: null, connected: false });
      this.connected = false;
      if (this.stopped) return;
      const delay = Math.min(10_000, 250 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.open(), delay);
    };
  }
}
