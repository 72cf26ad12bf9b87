import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api, type TestServer } from "../../test/server.ts";
import { startTwoWorkspaces, type TwoWorkspaces } from "../../test/two-workspaces.ts";

let workspaces: TwoWorkspaces;
let s: TestServer;
let other: TestServer;
let admin: string;
let agent: string;

beforeAll(async () => {
  workspaces = await startTwoWorkspaces();
  ({ s, other, admin, agent } = workspaces);
});
afterAll(() => workspaces.stop());

describe("inboxes", () => {
  const readmeSnippet = (base: string, key: string) => {
    // The snippet as docs/widget.md documents it, with its example host and key replaced.
    const readme = readFileSync(join(import.meta.dir, "../..", "docs/widget.md"), "utf8");
    const line = readme.split("\n").find((l) => l.includes("/widget.js") && l.includes("data-inbox="))!;
    return line.trim().replace("https://support.example.com", base).replace("wc_XXXX", key);
  };

  it("lists inboxes with the public key to all and the embed snippet, as docs/widget.md has it, to admins", async () => {
    const asAgent = await api(`${s.url}/api/v1/inboxes`, { token: agent });
    expect(asAgent.status).toBe(200);
    expect(asAgent.body.items[0]).toEqual({
      id: s.inbox.id,
      name: "Site chat",
      channel: "webchat",
      createdAt: expect.any(String),
      publicKey: s.inbox.publicKey,
    });
    const asAdmin = await api(`${s.url}/api/v1/inboxes`, { token: admin });
    expect(asAdmin.body.items[0].embedSnippet).toBe(readmeSnippet(s.url, s.inbox.publicKey));
    expect(asAdmin.body.items[0].embedSnippet).toBe(
      `<script src="${s.url}/widget.js" data-inbox="${s.inbox.publicKey}" async></script>`,
    );
    expect(asAdmin.body.items.map((i: { id: string }) => i.id)).not.toContain(other.inbox.id);
    expect(JSON.stringify(asAdmin.body)).not.toContain("credentials");
  });

  it("uses PUBLIC_URL in the snippet when it is set", async () => {
    s.rt.config.publicUrl = "https://support.example.com";
    try {
      const asAdmin = await api(`${s.url}/api/v1/inboxes`, { token: admin });
      expect(asAdmin.body.items[0].embedSnippet).toBe(readmeSnippet("https://support.example.com", s.inbox.publicKey));
    } finally {
      s.rt.config.publicUrl = undefined;
    }
  });

  it("creates a web chat inbox whose key the widget accepts at once", async () => {
    const made = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name: "  Help centre  ", channel: "webchat" },
    });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.any(String),
      name: "Help centre",
      channel: "webchat",
      publicKey: expect.stringMatching(/^wc_/),
      embedSnippet: readmeSnippet(s.url, made.body.publicKey),
      createdAt: expect.any(String),
    });
    const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: made.body.publicKey } });
    expect(session.status).toBe(200);
    expect(
      (await api(`${s.url}/api/v1/inboxes`, { token: agent })).body.items.map((i: { id: string }) => i.id),
    ).toContain(made.body.id);
  });

  it("refuses other channels, bad names, and non-admins", async () => {
    const voice = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name: "Phone", channel: "voice" } });
    expect(voice.status).toBe(400);
    expect(voice.body.error.field).toBe("channel");
    expect(voice.body.error.message).toMatch(/webchat/);
    // An email inbox needs its settings (apps/gateway/email/inbox-rules.e2e.test.ts covers them).
    const email = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name: "Mail", channel: "email" } });
    expect(email.status).toBe(400);
    expect(email.body.error.field).toBe("email");
    const fax = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name: "Fax", channel: "fax" } });
    expect(fax.status).toBe(400);
    expect(fax.body.error.field).toBe("channel");
    for (const name of ["", "   ", "x".repeat(101)]) {
      const bad = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name, channel: "webchat" } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe("name");
    }
    expect(
      (await api(`${s.url}/api/v1/inboxes`, { token: agent, body: { name: "Mine", channel: "webchat" } })).status,
    ).toBe(403);
  });

  it("renames an inbox of the workspace only, for admins only", async () => {
    const renamed = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Website chat" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      id: s.inbox.id,
      name: "Website chat",
      channel: "webchat",
      publicKey: s.inbox.publicKey,
    });
    const empty = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "" },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.error.field).toBe("name");
    expect(
      (await api(`${s.url}/api/v1/inboxes/${s.inbox.id}`, { method: "PATCH", token: agent, body: { name: "Mine" } }))
        .status,
    ).toBe(403);
    const foreign = await api(`${s.url}/api/v1/inboxes/${other.inbox.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Taken over" },
    });
    expect(foreign.status).toBe(404);
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    expect((await api(`${other.url}/api/v1/inboxes`, { token: otherAdmin })).body.items[0].name).toBe("Site chat");
  });
});
