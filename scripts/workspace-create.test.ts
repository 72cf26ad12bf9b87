import { describe, expect, it } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { users, workspaces } from "../db/schema/index.ts";
import { Keyring } from "../platform/crypto.ts";
import { testDatabase } from "../test/db.ts";
import { TEST_SECRET } from "../test/server.ts";
import { acceptInvite, login } from "../apps/inbox/auth.ts";
import { createFirstAdmin } from "./workspace-create.ts";

describe("the first workspace of a production start (bun run workspace:create)", () => {
  it("makes a workspace and an admin who can sign in only after choosing a password through the link", async () => {
    const { database } = await testDatabase();
    const keyring = new Keyring(TEST_SECRET);
    const email = `ops-${crypto.randomUUID()}@acme.test`;
    const made = await createFirstAdmin(database, keyring, {
      workspace: "Acme Support",
      email,
      name: "Ops",
      publicUrl: "https://support.acme.test",
    });
    expect(made.admin.role).toBe("admin");
    const [ws] = await database.db.select().from(workspaces).where(eq(workspaces.id, made.workspace.id));
    expect(ws?.name).toBe("Acme Support");
    expect(made.inviteUrl.startsWith("https://support.acme.test/app/#/invite/")).toBe(true);
    // No password was set: nothing the operator typed can sign in before the invitation is used.
    await expect(login(database.db, email, "")).rejects.toThrow();
    const token = made.inviteUrl.split("/invite/")[1]!;
    const accepted = await acceptInvite(database.db, keyring, token, "a long chosen passphrase");
    expect(accepted.user.id).toBe(made.admin.id);
    expect((await login(database.db, email, "a long chosen passphrase")).user.workspaceId).toBe(made.workspace.id);
  }, 120_000);

  it("refuses an email that already has an account and leaves no half-made workspace behind", async () => {
    const { database } = await testDatabase();
    const keyring = new Keyring(TEST_SECRET);
    const email = `taken-${crypto.randomUUID()}@acme.test`;
    await createFirstAdmin(database, keyring, { workspace: "First", email, name: "A", publicUrl: "http://x" });
    const name = `Second ${crypto.randomUUID()}`;
    await expect(
      createFirstAdmin(database, keyring, { workspace: name, email, name: "B", publicUrl: "http://x" }),
    ).rejects.toThrow(/exists/);
    expect(await database.db.select().from(workspaces).where(eq(workspaces.name, name))).toEqual([]);
    expect((await database.db.select().from(users).where(eq(users.email, email))).length).toBe(1);
  });

  it("runs as a command on the embedded database and prints the invitation link", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchboard-setup-"));
    // On the embedded database whatever driver this test run uses: the command's own PGlite in DATA_DIR.
    const { DATABASE_URL: _unused, ...env } = process.env;
    const run = (args: string[]) =>
      Bun.spawnSync(["bun", join(import.meta.dir, "workspace-create.ts"), ...args], {
        env: {
          ...env,
          DATA_DIR: dataDir,
          SECRET_KEY: TEST_SECRET,
          PUBLIC_URL: "https://help.acme.test",
          LOG_LEVEL: "silent",
        },
      });
    const bad = run(["--name", "Acme"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toContain("--admin-email");
    const ok = run(["--name", "Acme", "--admin-email", "ops@acme.test"]);
    expect(ok.stderr.toString()).toBe("");
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout.toString()).toMatch(
      /Admin ops@acme\.test: choose a password within 7 days at\n {2}https:\/\/help\.acme\.test\/app\/#\/invite\/\S+/,
    );
  }, 120_000);
});
