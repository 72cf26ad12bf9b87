import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import nodemailer from "nodemailer";
import { and, eq } from "drizzle-orm";
import { createWorkspace } from "./workspace.ts";
import { inboxRoutes } from "../db/schema/index.ts";
import { createAgent } from "../routing/agent.ts";
import { until } from "../test/poll.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { startSmtpSink } from "../test/smtp-sink.ts";

/**
 * Routing keys: an email address, alias or phone number belongs to one inbox of one
 * workspace, enforced by the database; a claim receives nothing until its owner is proven.
 */

let server: TestServer;
let sink: Awaited<ReturnType<typeof startSmtpSink>>;
let twilio: ReturnType<typeof Bun.serve>;
/** Requests the Twilio stand-in saw: account, number asked for, Basic auth. */
const twilioRequests: { path: string; number: string | null; auth: string | null }[] = [];
/** Numbers each stand-in account holds. */
const holdings = new Map<string, string[]>();
let tokenA: string;
let tokenB: string;
const tag = crypto.randomUUID().slice(0, 8);

beforeAll(async () => {
  twilio = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      const number = url.searchParams.get("PhoneNumber");
      twilioRequests.push({ path: url.pathname, number, auth: req.headers.get("authorization") });
      const sid = /\/Accounts\/([^/]+)\/IncomingPhoneNumbers\.json$/.exec(url.pathname)?.[1];
      const [user, password] = atob((req.headers.get("authorization") ?? "").replace(/^Basic /, "")).split(":");
      if (!sid || user !== sid || password !== "t".repeat(32))
        return Response.json({ code: 20003, message: "Authenticate" }, { status: 401 });
      const held = (holdings.get(sid) ?? []).filter((n) => n === number);
      return Response.json({
        incoming_phone_numbers: held.map((n) => ({ phone_number: n, sid: `PN${"0".repeat(32)}` })),
        next_page_uri: null,
      });
    },
  });
  server = await startTestServer({
    email: { smtp: true },
    env: { TWILIO_API_BASE_URL: `http://127.0.0.1:${twilio.port}` },
  });
  sink = await startSmtpSink();
  tokenA = await server.login(server.admin.email, server.admin.password);
  // A second workspace on the same installation, with its own admin.
  const other = await createWorkspace(server.rt.core.db, `Other ${tag}`);
  const adminB = await createAgent(server.rt.core.db, {
    workspaceId: other.id,
    email: `admin-b-${tag}@example.test`,
    name: "B",
    role: "admin",
    password: "correct horse battery staple",
  });
  tokenB = await server.login(adminB.email, "correct horse battery staple");
});

afterAll(async () => {
  await server?.stop();
  await sink?.stop();
  twilio?.stop(true);
});

const smtp = () =>
  nodemailer.createTransport({ host: "127.0.0.1", port: server.email!.smtpPort!, secure: false, ignoreTLS: true });
const emailInbox = (token: string, email: Record<string, unknown>) =>
  api(`${server.url}/api/v1/inboxes`, {
    token,
    body: { name: `Mail ${crypto.randomUUID().slice(0, 4)}`, channel: "email", email },
  });
const conversationsOf = async (inboxId: string) =>
  (
    await api(`${server.url}/api/v1/conversations?inboxId=${inboxId}&status=open,pending,snoozed,resolved`, {
      token: tokenA,
    })
  ).body.items as { id: string }[];

describe("email addresses and aliases", () => {
  it("are unique across workspaces: another workspace's address, alias or case variant is a 409 naming the field", async () => {
    const address = `sales-${tag}@acme.test`;
    const alias = `billing-${tag}@acme.test`;
    const mine = await emailInbox(tokenA, { address, aliases: [alias] });
    expect(mine.status).toBe(201);

    const same = await emailInbox(tokenB, { address: address.toUpperCase() });
    expect(same.status).toBe(409);
    expect(same.body.error).toMatchObject({ code: "conflict", field: "email.address" });
    const asAlias = await emailInbox(tokenB, { address: `own-${tag}@b.test`, aliases: [`x-${tag}@b.test`, address] });
    expect(asAlias.status).toBe(409);
    expect(asAlias.body.error.field).toBe("email.aliases.1");
    const theirAlias = await emailInbox(tokenB, { address: alias });
    expect(theirAlias.status).toBe(409);
    expect(theirAlias.body.error.field).toBe("email.address");
    // Nothing of a refused inbox was kept: B's own address is still free.
    expect((await emailInbox(tokenB, { address: `own-${tag}@b.test` })).status).toBe(201);

    // Taking it over later through the settings is refused too, and leaves the settings as they were.
    const bInbox = await emailInbox(tokenB, { address: `later-${tag}@b.test` });
    const put = await api(`${server.url}/api/v1/inboxes/${bInbox.body.id}/email`, {
      token: tokenB,
      method: "PUT",
      body: { email: { address: `later-${tag}@b.test`, aliases: [alias] } },
    });
    expect(put.status).toBe(409);
    expect(put.body.error.field).toBe("email.aliases.0");
    const after = await api(`${server.url}/api/v1/inboxes/${bInbox.body.id}/email`, { token: tokenB });
    expect(after.body.email.aliases).toEqual([]);
    expect(after.body.addresses).toEqual([{ address: `later-${tag}@b.test`, verified: false }]);
  });

  it("let exactly one of two concurrent claims win (the database constraint decides)", async () => {
    const address = `race-${tag}@acme.test`;
    const results = await Promise.all([
      emailInbox(tokenA, { address }),
      emailInbox(tokenB, { address }),
      emailInbox(tokenA, { aliases: [address], address: `r2-${tag}@acme.test` }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const rows = await server.rt.core.db
      .select()
      .from(inboxRoutes)
      .where(and(eq(inboxRoutes.kind, "email"), eq(inboxRoutes.key, address)));
    expect(rows).toHaveLength(1);
  });

  it("receive no mail through SMTP-in until proven, by the mailed code arriving or typed by an admin", async () => {
    const address = `help-${tag}@acme.test`;
    const alias = `hilfe-${tag}@acme.test`;
    const created = await emailInbox(tokenA, {
      address,
      aliases: [alias],
      smtp: { host: "127.0.0.1", port: sink.port, security: "none" },
    });
    expect(created.status).toBe(201);
    const inboxId = created.body.id as string;
    // Unproven: refused at RCPT, so nothing reaches the inbox.
    const refused = await smtp()
      .sendMail({ from: "lee@customer.test", to: address, subject: "Too early", text: "hello" })
      .catch((e: { responseCode?: number }) => e);
    expect((refused as { responseCode?: number }).responseCode).toBe(550);
    expect(await conversationsOf(inboxId)).toEqual([]);

    // The verification mail goes out through the inbox's own server, one per unproven address.
    const sent = await api(`${server.url}/api/v1/inboxes/${inboxId}/email/verification`, {
      token: tokenA,
      method: "POST",
    });
    expect(sent.status).toBe(200);
    expect(sent.body.sent.sort()).toEqual([address, alias].sort());
    await sink.waitFor(2);
    const toAddress = sink.received.find((m) => m.envelope.to[0]!.startsWith(`help-${tag}+verify-`))!;
    const toAlias = sink.received.find((m) => m.envelope.to[0]!.startsWith(`hilfe-${tag}+verify-`))!;
    expect(toAddress.mail.subject).toContain(address);

    // The mail reaching SMTP-in (the domain's MX points there) proves the address on arrival, and is
    // then delivered like any mail (the inbox shows that the code came back).
    await smtp().sendMail({ envelope: { from: address, to: toAddress.envelope.to }, raw: toAddress.raw });
    expect(await conversationsOf(inboxId)).toHaveLength(1);
    const proven = await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, { token: tokenA });
    expect(proven.body.addresses).toContainEqual({ address, verified: true });
    expect(proven.body.addresses).toContainEqual({ address: alias, verified: false });
    await smtp().sendMail({ from: "lee@customer.test", to: address, subject: "Now it arrives", text: "hello" });
    expect(await conversationsOf(inboxId)).toHaveLength(2);
    // The alias is still unproven: still refused.
    const aliasRefused = await smtp()
      .sendMail({ from: "lee@customer.test", to: alias, subject: "Alias", text: "x" })
      .catch((e: { responseCode?: number }) => e);
    expect((aliasRefused as { responseCode?: number }).responseCode).toBe(550);

    // An admin types the code read in the mailbox: a wrong one, another workspace's admin, then the right one.
    const code = /\+verify-([0-9a-f]+)@/.exec(toAlias.envelope.to[0]!)![1]!;
    const confirm = (token: string, c: string) =>
      api(`${server.url}/api/v1/inboxes/${inboxId}/email/verification/confirm`, {
        token,
        method: "POST",
        body: { address: alias, code: c },
      });
    expect((await confirm(tokenA, "0".repeat(12))).status).toBe(409);
    expect((await confirm(tokenB, code)).status).toBe(404);
    const ok = await confirm(tokenA, code);
    expect(ok.status).toBe(200);
    expect(ok.body.addresses).toContainEqual({ address: alias, verified: true });
    // A code works once.
    expect((await confirm(tokenA, code)).status).toBe(409);
    await smtp().sendMail({ from: "kim@customer.test", to: alias, subject: "Alias now", text: "x" });
    expect(await conversationsOf(inboxId)).toHaveLength(3);
  });

  it("stop blocking an address when nobody proved the claim within a week (no squatting)", async () => {
    const address = `squat-${tag}@victim.test`;
    const squatter = await emailInbox(tokenB, { address });
    expect(squatter.status).toBe(201);
    expect((await emailInbox(tokenA, { address })).status).toBe(409);
    // Eight days later, still unproven: the owner's claim takes it over.
    const old = new Date(Date.now() - 8 * 86_400_000);
    await server.rt.core.db
      .update(inboxRoutes)
      .set({ createdAt: old })
      .where(and(eq(inboxRoutes.kind, "email"), eq(inboxRoutes.key, address)));
    const owner = await emailInbox(tokenA, { address });
    expect(owner.status).toBe(201);
    const [route] = await server.rt.core.db
      .select()
      .from(inboxRoutes)
      .where(and(eq(inboxRoutes.kind, "email"), eq(inboxRoutes.key, address)));
    expect(route!.inboxId).toBe(owner.body.id);
  });

  it("refuses to mail a code without an outgoing server, naming the setting", async () => {
    const created = await emailInbox(tokenA, { address: `nosmtp-${tag}@acme.test` });
    const sent = await api(`${server.url}/api/v1/inboxes/${created.body.id}/email/verification`, {
      token: tokenA,
      method: "POST",
    });
    expect(sent.status).toBe(409);
    expect(sent.body.error.field).toBe("email.smtp");
  });
});

describe("phone numbers", () => {
  const number = `+1555${String(Date.now()).slice(-7)}`;
  const sidA = `AC${"a".repeat(24)}${tag}`;
  const sidB = `AC${"b".repeat(24)}${tag}`;
  const line = (token: string, accountSid: string, phoneNumber = number) =>
    api(`${server.url}/api/v1/inboxes/voice`, {
      token,
      body: { name: "Line", phoneNumber, accountSid, authToken: "t".repeat(32) },
    });

  it("are claimed only when Twilio lists the number in the inbox's account, and only once in the installation", async () => {
    holdings.set(sidA, [number]);
    holdings.set(sidB, [number]);
    const notHeld = await line(tokenA, sidA, "+15550000001");
    expect(notHeld.status).toBe(400);
    expect(notHeld.body.error.field).toBe("phoneNumber");
    const asked = twilioRequests.at(-1)!;
    expect(asked).toMatchObject({
      path: `/2010-04-01/Accounts/${sidA}/IncomingPhoneNumbers.json`,
      number: "+15550000001",
    });
    expect(asked.auth).toBe(`Basic ${btoa(`${sidA}:${"t".repeat(32)}`)}`);
    const wrongToken = await api(`${server.url}/api/v1/inboxes/voice`, {
      token: tokenA,
      body: { name: "Line", phoneNumber: number, accountSid: sidA, authToken: "w".repeat(32) },
    });
    expect(wrongToken.status).toBe(400);
    expect(wrongToken.body.error.field).toBe("authToken");

    const mine = await line(tokenA, sidA);
    expect(mine.status).toBe(200);
    // Another workspace, even with a Twilio account that (wrongly) lists it too: the key is taken.
    const theirs = await line(tokenB, sidB);
    expect(theirs.status).toBe(409);
    expect(theirs.body.error).toMatchObject({ code: "conflict", field: "phoneNumber" });
    // Twilio's incoming call for the number reaches the inbox that holds it.
    const found = await server.rt.calls.inboxByNumber(number);
    expect(found?.row.id).toBe(mine.body.id);
  });

  it("let one of two concurrent claims of a number win", async () => {
    const racing = `+1556${String(Date.now()).slice(-7)}`;
    holdings.set(sidA, [racing]);
    holdings.set(sidB, [racing]);
    const results = await Promise.all([line(tokenA, sidA, racing), line(tokenB, sidB, racing)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const rows = await until(
      () =>
        server.rt.core.db
          .select()
          .from(inboxRoutes)
          .where(and(eq(inboxRoutes.kind, "voice"), eq(inboxRoutes.key, racing))),
      (r) => r.length === 1,
    );
    expect(rows).toHaveLength(1);
  });
});
