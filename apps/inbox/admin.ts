import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiSetup } from "../../channels/api/index.ts";
import { embedSnippet } from "../../channels/webchat/index.ts";
import { wechatInboxOf, wechatKindOf, WechatSetupInput } from "../../channels/wechat/setup.ts";
import { createInbox, listInboxes, renameInbox, type ListedInbox } from "../../conversations/inbox.ts";
import { channels, roles, type Role } from "../../db/schema/index.ts";
import { checkOutboundUrl, OutboundRefused } from "../../platform/outbound.ts";
import { randomToken, sha256Hex } from "../../platform/crypto.ts";
import { Invalid } from "../../platform/errors.ts";
import { NewPassword } from "../../platform/password.ts";
import { can } from "../../platform/permission.ts";
import { parseInput } from "../../platform/validation.ts";
import {
  activeUsers,
  createAgent,
  createTeam,
  deleteTeam,
  listTeams,
  renameTeam,
  setTeamMembers,
} from "../../routing/agent.ts";
import { queueHistory } from "../../routing/history.ts";
import { body, created, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import { parseEmailSetup } from "./email.ts";
import { channelSetups } from "./inbox-setup.ts";
import { acceptInvite, inviteToken, inviteUrl, signedInUser, type AuthEnv } from "./auth.ts";

const InboxName = z.string().trim().min(1).max(100);
const InboxBody = z
  .object({
    name: InboxName,
    channel: z.enum(channels),
    email: Json.optional(),
    credentials: Json.optional(),
    // A WeChat inbox (channel "wechat", kind official, wecom or wechaty); checked by WechatSetupInput,
    // which names the bad field.
    kind: z.string().max(20).optional(),
    token: z.string().max(200).optional(),
    appId: z.string().max(200).optional(),
    appSecret: z.string().max(200).optional(),
    encodingAesKey: z.string().max(200).optional(),
    mode: z.string().max(20).optional(),
    corpId: z.string().max(200).optional(),
    secret: z.string().max(200).optional(),
    openKfid: z.string().max(200).optional(),
    servicerUserId: z.string().max(200).optional(),
    puppet: z.string().max(100).optional(),
    puppetToken: z.string().max(500).optional(),
    // An API inbox (channel "api"): where agents' replies are POSTed; checked by ApiSetup.
    callbackUrl: z.string().max(2000).optional(),
  })
  // SMS, WhatsApp, Slack and Telegram inboxes bring their own fields, checked by their entry in
  // inbox-setup.ts (which names the bad field).
  .loose()
  .openapi("NewInbox");
const AgentBody = z
  .object({
    email: z.email().max(320),
    name: z.string().trim().min(1).max(200),
    role: z.enum(roles),
    password: NewPassword.optional(),
  })
  .openapi("NewAgent");
const InviteAcceptBody = z
  .object({ token: z.string().min(1).max(2000), password: NewPassword })
  .openapi("InviteAccept");
const TeamBody = z.object({ name: z.string().trim().min(1).max(100) });
const MembersBody = z.object({ userIds: z.array(z.uuid()).max(500) });
const HistoryQuery = z.object({
  minutes: z.coerce.number().int().min(5).max(1440).default(60),
  step: z.coerce.number().int().min(10).max(3600).default(60),
});

/**
 * Workspace administration: users and invitations, inboxes, teams, and the wallboard's queue
 * history. Mounted under /api/v1 behind the sign-in middleware (which lets the invitation through).
 */
export function adminApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  // Links and snippets point where users reach this server: PUBLIC_URL, else the address asked.
  const publicUrl = (c: Context) => rt.config.publicUrl ?? new URL(c.req.url).origin;

  const inboxView = (c: Context, inbox: ListedInbox, role: Role) => {
    const webchat = inbox.channel === "webchat" && inbox.publicKey;
    return {
      id: inbox.id,
      name: inbox.name,
      channel: inbox.channel,
      createdAt: inbox.createdAt.toISOString(),
      ...(webchat ? { publicKey: inbox.publicKey } : {}),
      ...(inbox.channel === "wechat" ? wechatView(c, inbox) : {}),
      ...(inbox.channel === "api"
        ? { callbackUrl: inbox.settings.callbackUrl, webhookUrl: `${publicUrl(c)}/api/v1/inboxes/${inbox.id}/messages` }
        : {}),
      ...(channelSetups[inbox.channel]?.view(inbox, publicUrl(c)) ?? {}),
      ...(webchat && can({ role }, "inboxes.manage")
        ? { embedSnippet: embedSnippet(publicUrl(c), inbox.publicKey!) }
        : {}),
    };
  };

  /** Which kind of WeChat inbox, its public ids, and the server URL to paste into WeChat's console. */
  const wechatView = (c: Context, inbox: ListedInbox) => {
    const kind = wechatKindOf(inbox.settings);
    const shown = ["appId", "mode", "corpId", "openKfid", "servicerUserId", "puppet"] as const;
    return {
      kind,
      ...Object.fromEntries(
        shown.filter((k) => typeof inbox.settings[k] === "string").map((k) => [k, inbox.settings[k]]),
      ),
      ...(kind === "wechaty" ? {} : { webhookUrl: `${publicUrl(c)}/webhooks/wechat/${inbox.id}` }),
    };
  };

  app.openapi(
    createRoute({
      method: "post",
      path: "/auth/invite/accept",
      request: body(InviteAcceptBody),
      responses: ok("A session token, as sign-in gives"),
      tags: ["auth"],
    }),
    async (c) => {
      const { token, password } = c.req.valid("json");
      const session = await acceptInvite(db, rt.keyring, token, password);
      return c.json({ token: session.token, user: signedInUser(session.user) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/users", responses: ok("Active users by name, for pickers"), tags: ["admin"] }),
    async (c) => c.json({ items: await activeUsers(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/agents",
      request: body(AgentBody),
      responses: created("The user, with an invitation link when no password was given"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const input = c.req.valid("json");
      const user = await createAgent(db, { workspaceId: a.workspaceId, ...input });
      const invite = input.password === undefined ? inviteUrl(publicUrl(c), inviteToken(rt.keyring, user)) : null;
      return c.json({ id: user.id, email: user.email, name: user.name, role: user.role, inviteUrl: invite }, 201);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/inboxes", responses: ok("The workspace's inboxes"), tags: ["admin"] }),
    async (c) => {
      const a = c.get("actor");
      return c.json({ items: (await listInboxes(db, a.workspaceId)).map((i) => inboxView(c, i, a.role)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/inboxes",
      request: body(InboxBody),
      responses: created("The inbox with its embed snippet"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const { name, channel, ...setup } = c.req.valid("json");
      if (channel === "email") {
        const { email, credentials } = parseEmailSetup(setup);
        const given = Object.fromEntries(Object.entries(credentials).filter(([, v]) => v !== null && v !== undefined));
        // Its address and aliases receive nothing until proven (POST /inboxes/{id}/email/verification).
        const inbox = await createInbox(db, rt.keyring, {
          workspaceId: a.workspaceId,
          channel,
          name,
          settings: email,
          credentials: Object.keys(given).length ? given : undefined,
          ownerProven: false,
        });
        return c.json({ ...inboxView(c, inbox, a.role), email: inbox.settings }, 201);
      }
      if (channel === "wechat") {
        const { settings, credentials } = wechatInboxOf(parseInput(WechatSetupInput, setup));
        const inbox = await createInbox(db, rt.keyring, {
          workspaceId: a.workspaceId,
          channel,
          name,
          settings,
          credentials,
        });
        return c.json(inboxView(c, inbox, a.role), 201);
      }
      if (channel === "api") {
        const settings = parseInput(ApiSetup, { callbackUrl: setup.callbackUrl });
        // The outbound-URL policy refuses internal addresses now, not only at the first reply; replies
        // travel encrypted (https), as outgoing webhooks do, but to a host OUTBOUND_ALLOW_HOSTS lists.
        const callback = new URL(settings.callbackUrl);
        const allowHosts = rt.config.outboundAllowHosts;
        if (callback.protocol !== "https:" && !allowHosts.includes(callback.hostname.toLowerCase()))
          throw new Invalid(
            "callbackUrl: must be an https URL (http only to a host OUTBOUND_ALLOW_HOSTS lists)",
            "callbackUrl",
          );
        try {
          await checkOutboundUrl(callback, { allowHosts });
        } catch (err) {
          if (err instanceof OutboundRefused) throw new Invalid(`callbackUrl: ${err.message}`, "callbackUrl");
          throw err;
        }
        // Shown once: the token only as its SHA-256, the secret sealed with the other credentials.
        const token = `sbi_${randomToken(32)}`;
        const secret = `sbs_${randomToken(32)}`;
        const inbox = await createInbox(db, rt.keyring, {
          workspaceId: a.workspaceId,
          channel,
          name,
          settings,
          credentials: { tokenHash: sha256Hex(token), secret },
        });
        return c.json({ ...inboxView(c, inbox, a.role), token, secret }, 201);
      }
      const channelSetup = channelSetups[channel];
      if (channelSetup) {
        // The id comes first: a provider may have to be told the inbox's webhook URL before it is stored.
        const id = crypto.randomUUID();
        const { settings, credentials, shownOnce } = await channelSetup.create(rt, setup, {
          publicUrl: publicUrl(c),
          inboxId: id,
        });
        const inbox = await createInbox(db, rt.keyring, {
          id,
          workspaceId: a.workspaceId,
          channel,
          name,
          settings,
          credentials,
        });
        return c.json({ ...inboxView(c, inbox, a.role), ...shownOnce }, 201);
      }
      if (channel !== "webchat")
        throw new Invalid(`Only webchat inboxes can be created here for now; ${channel} gets its own setup`, "channel");
      const inbox = await createInbox(db, rt.keyring, { workspaceId: a.workspaceId, channel, name });
      return c.json(inboxView(c, inbox, a.role), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/inboxes/{id}",
      request: { params: IdParam, ...body(z.object({ name: InboxName })) },
      responses: ok("Renamed"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(
        inboxView(c, await renameInbox(db, a.workspaceId, c.req.valid("param").id, c.req.valid("json").name), a.role),
        200,
      );
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/teams", responses: ok("Teams with their members"), tags: ["admin"] }),
    async (c) => c.json({ items: await listTeams(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/teams",
      request: body(TeamBody),
      responses: created("The team"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const team = await createTeam(db, a.workspaceId, c.req.valid("json").name);
      return c.json({ id: team.id, name: team.name, members: [] }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/teams/{id}",
      request: { params: IdParam, ...body(TeamBody) },
      responses: ok("The team"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(await renameTeam(db, a.workspaceId, c.req.valid("param").id, c.req.valid("json").name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/teams/{id}/members",
      request: { params: IdParam, ...body(MembersBody) },
      responses: ok("The team"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(
        await setTeamMembers(rt.core, a.workspaceId, c.req.valid("param").id, c.req.valid("json").userIds),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/teams/{id}",
      request: { params: IdParam },
      responses: ok("Deleted"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      await deleteTeam(rt.core, a.workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/queues/history",
      request: { query: HistoryQuery },
      responses: ok("Work waiting per queue at each step of the last minutes"),
      tags: ["routing"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(await queueHistory(db, a.workspaceId, c.req.valid("query")), 200);
    },
  );

  return app;
}
