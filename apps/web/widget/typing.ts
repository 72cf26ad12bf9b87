/** Visitor typing is announced at most this often, and counts as stopped after TYPING_IDLE_MS. */
const TYPING_THROTTLE_MS = 3000;
const TYPING_IDLE_MS = 4000;

/** Lets agents see the visitor typing: at most once per throttle period, with a "stopped" after a pause. */
export class TypingSignal {
  private sentAt = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  /** `send` is best effort: a lost signal is corrected by the next one or by the agent side's timeout. */
  constructor(private readonly send: (typing: boolean) => Promise<unknown>) {}

  typed() {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stop(), TYPING_IDLE_MS);
    if (Date.now() - this.sentAt < TYPING_THROTTLE_MS) return;
    this.sentAt = Date.now();
    this.send(true).catch(() => {});
  }

  stop() {
    clearTimeout(this.idle);
    if (!this.sentAt) return;
    this.sentAt = 0;
    this.send(false).catch(() => {});
  }
}
