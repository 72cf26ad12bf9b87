/**
 * The widget's call through the inbox's Twilio phone line (calls/phone-line.ts): Twilio's Voice
 * SDK, loaded only when the visitor presses "call" (it is ten times the widget's size), places a
 * call to the line's TwiML app with the ticket the server gave. The server does the rest: the call
 * waits in the line's queue inside this chat's conversation, then an agent's softphone joins it.
 */

/** What the server hands the widget: POST /widget/v1/calls/twilio. */
export type PhoneTicket = { token: string; identity: string; params: Record<string, string> };

/** The parts of Twilio's Voice SDK the widget uses (window.Twilio from /widget/voice-sdk.js). */
type SdkCall = {
  on(event: "accept" | "disconnect" | "cancel" | "reject" | "error", listener: (arg?: unknown) => void): void;
  mute(muted: boolean): void;
  disconnect(): void;
};
type SdkDevice = {
  connect(options: { params: Record<string, string> }): Promise<SdkCall>;
  on(event: "error", listener: (error: unknown) => void): void;
  destroy(): void;
};
type Sdk = { Device: new (token: string, options?: Record<string, unknown>) => SdkDevice };

declare global {
  interface Window {
    Twilio?: Partial<Sdk>;
  }
}

let loading: Promise<Sdk> | undefined;

/** Adds Twilio's SDK (served by our server, never a CDN) to the page once. */
function loadSdk(base: string): Promise<Sdk> {
  const ready = () => (window.Twilio?.Device ? (window.Twilio as Sdk) : undefined);
  const present = ready();
  if (present) return Promise.resolve(present);
  loading ??= new Promise<Sdk>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = `${base}/widget/voice-sdk.js`;
    script.async = true;
    script.onload = () => {
      const sdk = ready();
      if (sdk) resolve(sdk);
      else reject(new Error("Twilio's Voice SDK did not load"));
    };
    script.onerror = () => {
      loading = undefined;
      reject(new Error("Twilio's Voice SDK could not be fetched"));
    };
    document.head.append(script);
  });
  return loading;
}

export type LineState = "connecting" | "connected";
export type LineEnd = "completed" | "failed";

export class PhoneLine {
  state: LineState = "connecting";
  answeredAt: string | null = null;
  private device: SdkDevice | null = null;
  private call: SdkCall | null = null;
  private over = false;

  constructor(
    private readonly base: string,
    private readonly changed: () => void,
    private readonly ended: (how: LineEnd) => void,
  ) {}

  async start(ticket: PhoneTicket) {
    const sdk = await loadSdk(this.base);
    if (this.over) return;
    const device = new sdk.Device(ticket.token, { logLevel: "error", closeProtection: true });
    this.device = device;
    device.on("error", () => this.end("failed"));
    const call = await device.connect({ params: ticket.params });
    if (this.over) return call.disconnect();
    this.call = call;
    call.on("accept", () => {
      this.state = "connected";
      this.answeredAt = new Date().toISOString();
      this.changed();
    });
    call.on("disconnect", () => this.end(this.answeredAt ? "completed" : "failed"));
    call.on("cancel", () => this.end("completed"));
    call.on("reject", () => this.end("failed"));
    call.on("error", () => this.end(this.answeredAt ? "completed" : "failed"));
  }

  mute(muted: boolean) {
    this.call?.mute(muted);
  }

  hangUp() {
    this.call?.disconnect();
    this.end("completed");
  }

  /** Once, whichever way it ends: the device goes too (it holds the microphone and a socket to Twilio). */
  end(how: LineEnd) {
    if (this.over) return;
    this.over = true;
    this.device?.destroy();
    this.device = null;
    this.call = null;
    this.ended(how);
  }
}
