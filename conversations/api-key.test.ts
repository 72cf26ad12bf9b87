import { expect, it } from "bun:test";
import type { Actor } from "./actor.ts";
import { isApiKey, requireScope } from "./api-key.ts";

const actor = (scopes?: Actor["scopes"]): Actor => ({
  userId: "u",
  workspaceId: "w",
  role: "admin",
  name: "K",
  teamIds: [],
  scopes,
});
const allowed = (a: Actor, method: string, permission: Parameters<typeof requireScope>[2]) => {
  try {
    requireScope(a, method, permission);
    return true;
  } catch {
    return false;
  }
};

it("lets read keys read, write keys write, and only admin keys reach admin-only permissions", () => {
  expect(allowed(actor(["read"]), "GET", "conversations.read")).toBe(true);
  expect(allowed(actor(["read"]), "HEAD", "conversations.read")).toBe(true);
  expect(allowed(actor(["read"]), "POST", "conversations.reply")).toBe(false);
  expect(allowed(actor(["write"]), "GET", "conversations.read")).toBe(true);
  expect(allowed(actor(["write"]), "POST", "conversations.reply")).toBe(true);
  expect(allowed(actor(["write"]), "PUT", "queues.manage")).toBe(true);
  for (const method of ["GET", "POST"]) {
    expect(allowed(actor(["read", "write"]), method, "users.manage")).toBe(false);
    expect(allowed(actor(["read", "write"]), method, "inboxes.manage")).toBe(false);
    expect(allowed(actor(["admin"]), method, "users.manage")).toBe(true);
  }
  // No key takes work; a session (no scopes) is not limited here.
  expect(allowed(actor(["admin"]), "PUT", "presence.take_work")).toBe(false);
  expect(allowed(actor(["admin"]), "POST", "offers.accept")).toBe(false);
  expect(allowed(actor(), "PUT", "presence.take_work")).toBe(true);
  expect(isApiKey("sbk_abc")).toBe(true);
  expect(isApiKey("abc")).toBe(false);
});
