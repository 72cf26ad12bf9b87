import { useEffect, useState } from "react";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";

type TokenAnswer = { mode: "twilio" | "simulated" | "none"; identity: string; token?: string };
type DeviceState = "none" | "simulated" | "starting" | "ready" | "offline";

/**
 * The agent's audio for phone calls: Twilio's Voice SDK, registered under the agent's identity. The
 * server rings that identity only for calls the agent took (an accepted offer, click-to-call, a
 * warm transfer to them, a supervisor's monitoring), so incoming legs are answered at once. The SDK
 * is loaded only where a real Twilio line exists; on the demo's simulated line there is no audio.
 */
export function PhoneDevice() {
  const { t } = useI18n();
  const [state, setState] = useState<DeviceState>("none");
  useEffect(() => {
    let stopped = false;
    let device: { destroy(): void } | undefined;
    (async () => {
      const first = await request<TokenAnswer>("/voice/token");
      if (first.mode !== "twilio" || !first.token) return setState(first.mode === "simulated" ? "simulated" : "none");
      setState("starting");
      const { Device } = await import("@twilio/voice-sdk");
      if (stopped) return;
      const d = new Device(first.token, { closeProtection: true, logLevel: "error" });
      device = d;
      d.on("registered", () => setState("ready"));
      d.on("unregistered", () => setState("offline"));
      d.on("error", () => setState("offline"));
      d.on("incoming", (call: { accept(): void }) => call.accept());
      d.on("tokenWillExpire", async () => {
        const next = await request<TokenAnswer>("/voice/token").catch(() => undefined);
        if (next?.token) d.updateToken(next.token);
      });
      await d.register();
    })().catch(() => !stopped && setState("offline"));
    return () => {
      stopped = true;
      device?.destroy();
    };
  }, []);
  if (state === "none") return null;
  return (
    <span
      className={`phone-state phone-${state}`}
      data-testid="phone-state"
      data-state={state}
      title={t(`phone.${state}`)}
    >
      📞 {t(`phone.${state}`)}
    </span>
  );
}
