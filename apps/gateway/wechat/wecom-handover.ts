import { hostname } from "node:os";
import { and, eq } from "drizzle-orm";
import { wechatKindOf, wecomSetupOf } from "../../../channels/wechat/setup.ts";
import {
  SERVICE_STATE,
  transServiceState,
  type ServiceState,
  type WecomApiOptions,
} from "../../../channels/wechat/wecom-api.ts";
import type { EventBus } from "../../../conversations/bus.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { Lease } from "../../../db/lease.ts";
import { contactIdentities, conversations, inboxes } from "../../../db/schema/index.ts";
import type { Keyring } from "../../../platform/crypto.ts";
import { log } from "../../../platform/log.ts";

/**
 * Tells WeChat who serves a WeCom customer-service chat (`kf/service_state/trans`):
 * - an agent accepts (or is assigned) the conversation → state 1, "served through the API". Not 3
 *   ("served by a WeCom member"): in state 3 the chat belongs to that member's WeCom client and
 *   `send_msg` refuses every reply with 95018, so the agent could no longer answer from Switchboard.
 *   WeCom documents send_msg for states 0 and 1 only.
 * - the conversation is resolved → state 4, ended (WeCom sends its closing message if one is set up).
 *   The customer's next message opens a new session (state 0), and a new conversation here.
 *
 * Every node hears every event (the bus fans out across nodes): a lease per event
 * (`wecom-handover:<workspace>:<seq>`) lets one node make the call. A refused call is retried with
 * backoff; one that keeps failing is logged as an error with WeCom's reason.
 */

export type WecomHandoverOptions = {
  core: Core;
  bus: EventBus;
  keyring: Keyring;
  api: WecomApiOptions;
  /** Delays between attempts of a failing call (then it is given up, logged). */
  retryDelaysMs?: number[];
};

const RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000];

type Changes = { assigneeId?: unknown; to?: unknown };
type ConversationOfEvent = { channel?: unknown; inboxId?: unknown };

/** The WeCom state a conversation change asks for, if any. */
export function serviceStateFor(changes: Changes | undefined): ServiceState | undefined {
  if (typeof changes?.assigneeId === "string" && changes.assigneeId) return SERVICE_STATE.api;
  if (changes?.to === "resolved") return SERVICE_STATE.ended;
  return undefined;
}

/** Starts the listener; returns a stop function that also waits for calls under way. */
export function startWecomHandover(o: WecomHandoverOptions): () => Promise<void> {
  const holder = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  const pending = new Set<Promise<void>>();
  let stopped = false;

  const unsubscribe = o.bus.subscribe((m) => {
    if (stopped || !("type" in m) || m.type !== "conversation.updated" || !m.conversationId) return;
    const conversation = m.payload.conversation as ConversationOfEvent | undefined;
    if (conversation?.channel !== "wechat" || typeof conversation.inboxId !== "string") return;
    const state = serviceStateFor(m.payload.changes as Changes | undefined);
    if (state === undefined) return;
    const work = handOver(m.workspaceId, m.seq, m.conversationId, conversation.inboxId, state)
      .catch((err: unknown) =>
        log.error("wecom: session state change failed", { conversationId: m.conversationId, err }),
      )
      .finally(() => pending.delete(work));
    pending.add(work);
  });

  async function handOver(
    workspaceId: string,
    seq: number,
    conversationId: string,
    inboxId: string,
    state: ServiceState,
  ) {
    const [inbox] = await o.core.db
      .select()
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, inboxId)));
    if (!inbox || wechatKindOf(inbox.settings) !== "wecom") return;
    const claim = new Lease(o.core.db, `wecom-handover:${workspaceId}:${seq}`, {
      holder,
      ttlMs: 60 * 60_000,
      workspaceId,
    });
    if (!(await claim.acquire())) return; // another node makes this call
    const [customer] = await o.core.db
      .select({ externalUserId: contactIdentities.value })
      .from(conversations)
      .innerJoin(contactIdentities, eq(contactIdentities.contactId, conversations.contactId))
      .where(and(eq(conversations.id, conversationId), eq(contactIdentities.kind, "wecom")));
    if (!customer) return;
    const setup = wecomSetupOf(inbox.settings, readCredentials(o.keyring, inbox, o.core.db));
    const app = { corpId: setup.corpId, secret: setup.secret, inboxId: inbox.id };
    const change = { openKfid: setup.openKfid, externalUserId: customer.externalUserId, state };
    const delays = o.retryDelaysMs ?? RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      let permanent = false;
      try {
        const outcome = await transServiceState(app, change, o.api);
        if (outcome.ok) return;
        ({ reason, permanent } = outcome);
      } catch (err) {
        reason = err instanceof Error ? err.message : String(err);
      }
      if (permanent || attempt >= delays.length || stopped) {
        log.error("wecom: WeChat was not told the session's state", { conversationId, inboxId, state, reason });
        return;
      }
      log.warn("wecom: session state change failed; retrying", { conversationId, state, reason, attempt });
      await Bun.sleep(delays[attempt]!);
    }
  }

  return async () => {
    stopped = true;
    unsubscribe();
    // A call sleeping before its next attempt is not waited for: it sees `stopped` and gives up.
    await Promise.race([Promise.allSettled([...pending]), Bun.sleep(2_000)]);
  };
}
