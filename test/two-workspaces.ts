import { expect } from "bun:test";
import { api, startTestServer } from "./server.ts";

export type TwoWorkspaces = Awaited<ReturnType<typeof startTwoWorkspaces>>;

/**
 * Two test servers, each with a workspace of its own (`other` is the one whose data must never show),
 * and sign-in tokens of the first one's admin and agent.
 */
export async function startTwoWorkspaces() {
  const s = await startTestServer();
  const other = await startTestServer();
  const admin = await s.login(s.admin.email, s.admin.password);
  const agent = await s.login(s.agent.email, s.agent.password);
  const tag = () => crypto.randomUUID().slice(0, 8);

  /** A user of the first workspace made through the API with a password, signed in. */
  async function member(role: "admin" | "supervisor" | "agent" | "knowledge_editor", name = `User ${tag()}`) {
    const email = `${role}-${tag()}@example.test`;
    const made = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email, name, role, password: "long enough pw" },
    });
    expect(made.status).toBe(201);
    return { id: made.body.id as string, email, name, token: await s.login(email, "long enough pw") };
  }

  return {
    s,
    other,
    admin,
    agent,
    member,
    async stop() {
      await s.stop();
      await other.stop();
    },
  };
}
