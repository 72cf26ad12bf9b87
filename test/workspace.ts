import { InProcessBus } from "../conversations/bus.ts";
import type { DomainEvent } from "../conversations/event.ts";
import { createInbox } from "../conversations/inbox.ts";
import type { Core } from "../conversations/transaction.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import type { Channel } from "../db/schema/index.ts";
import { Keyring } from "../platform/crypto.ts";
import { createAgent, teamIdsOf } from "../routing/agent.ts";
import type { Actor } from "../conversations/actor.ts";
import type { Role } from "../db/schema/index.ts";
import { testDatabase } from "./db.ts";
import { TEST_SECRET } from "./server.ts";

/** A fresh workspace on the shared test database, with a bus that records what it publishes. */
export async function testWorkspace() {
  const { database } = await testDatabase();
  const bus = new InProcessBus();
  const published: DomainEvent[] = [];
  bus.subscribe((m) => {
    if ("type" in m) published.push(m);
  });
  const core: Core = { db: database.db, bus };
  const keyring = new Keyring(TEST_SECRET);
  const ws = await createWorkspace(core.db, "W " + crypto.randomUUID().slice(0, 6));
  return {
    core,
    keyring,
    published,
    workspaceId: ws.id,
    inbox: (channel: Channel = "webchat") =>
      createInbox(core.db, keyring, { workspaceId: ws.id, channel, name: `${channel} inbox` }),
    async actor(role: Role = "admin", name = "Agent"): Promise<Actor> {
      const user = await createAgent(core.db, {
        workspaceId: ws.id,
        email: `${role}-${crypto.randomUUID()}@example.test`,
        name,
        role,
        password: "pw",
      });
      return { userId: user.id, workspaceId: ws.id, role, name, teamIds: await teamIdsOf(core.db, user.id) };
    },
  };
}
