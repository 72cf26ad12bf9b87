import { connectWaitingCall, dialOut, hangup, hold, legStatus, mute, watchAssignments } from "./agent-leg.ts";
import { CallContext } from "./call-context.ts";
import { completeWarmTransfer, transfer } from "./call-transfer.ts";
import { gather, incoming, transcription, voicemail, widgetIncoming } from "./inbound.ts";
import { monitor, record, recordingReady, retryRecordings, stopMonitor } from "./supervision.ts";
import { agentConference, conferenceEvent, current, customerConference, waitKey, waitTwiml } from "./waiting.ts";

type Args<F> = F extends (ctx: CallContext, ...args: infer A) => unknown ? A : never;

/**
 * Drives phone calls: answers Twilio's webhooks from the IVR flow and the call's state, and moves
 * calls with Twilio's REST API when agents act (answer, hold, transfer, hang up, monitor). Each job
 * lives in its own file — inbound.ts (a call's start and its IVR), waiting.ts (the queue's music and
 * the conference), agent-leg.ts (ringing agents, legs' status, hold, click-to-call), call-transfer.ts,
 * supervision.ts (monitoring, recording) — over the shared CallContext; this class puts them under
 * one name for the webhooks and the agent API. Every piece of state is in the database, so any node
 * can answer any webhook.
 */
export class CallControl extends CallContext {
  private unsubscribe: (() => void) | undefined;

  /** Starts ringing agents for the waiting calls assigned to them. */
  start() {
    this.unsubscribe = watchAssignments(this);
  }

  stop() {
    this.unsubscribe?.();
  }

  // Twilio's webhooks.
  incoming = (...a: Args<typeof incoming>) => incoming(this, ...a);
  widgetIncoming = (...a: Args<typeof widgetIncoming>) => widgetIncoming(this, ...a);
  gather = (...a: Args<typeof gather>) => gather(this, ...a);
  current = (...a: Args<typeof current>) => current(this, ...a);
  waitTwiml = (...a: Args<typeof waitTwiml>) => waitTwiml(this, ...a);
  waitKey = (...a: Args<typeof waitKey>) => waitKey(this, ...a);
  customerConference = (...a: Args<typeof customerConference>) => customerConference(this, ...a);
  agentConference = (...a: Args<typeof agentConference>) => agentConference(this, ...a);
  conference = (...a: Args<typeof conferenceEvent>) => conferenceEvent(this, ...a);
  recording = (...a: Args<typeof recordingReady>) => recordingReady(this, ...a);
  voicemail = (...a: Args<typeof voicemail>) => voicemail(this, ...a);
  transcription = (...a: Args<typeof transcription>) => transcription(this, ...a);
  status = (...a: Args<typeof legStatus>) => legStatus(this, ...a);

  // Agents' actions.
  connectWaitingCall = (...a: Args<typeof connectWaitingCall>) => connectWaitingCall(this, ...a);
  hold = (...a: Args<typeof hold>) => hold(this, ...a);
  mute = (...a: Args<typeof mute>) => mute(this, ...a);
  hangup = (...a: Args<typeof hangup>) => hangup(this, ...a);
  record = (...a: Args<typeof record>) => record(this, ...a);
  monitor = (...a: Args<typeof monitor>) => monitor(this, ...a);
  stopMonitor = (...a: Args<typeof stopMonitor>) => stopMonitor(this, ...a);
  transfer = (...a: Args<typeof transfer>) => transfer(this, ...a);
  completeWarmTransfer = (...a: Args<typeof completeWarmTransfer>) => completeWarmTransfer(this, ...a);
  dialOut = (...a: Args<typeof dialOut>) => dialOut(this, ...a);
  retryRecordings = () => retryRecordings(this);
}
