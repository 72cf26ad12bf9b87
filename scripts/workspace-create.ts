import { parseArgs } from "node:util";
import { createWorkspace } from "../conversations/workspace.ts";
import { connect, type Database } from "../db/connect.ts";
import { ConfigError, parseConfig, type Config } from "../platform/config.ts";
import { Keyring } from "../platform/crypto.ts";
import { DomainError } from "../platform/errors.ts";
import { createAgent } from "../routing/agent.ts";
import { inviteToken, inviteUrl } from "../apps/inbox/auth.ts";
import { secretKey } from "../apps/server/runtime.ts";

/**
 * A workspace and its first admin, on the database the server would use. A production start has no
 * demo data and so no account to sign in with: this is how the first one is made. The admin gets no
 * password, only a one-time invitation link (7 days) to choose one, so no credential ever passes
 * through a shell history or a log.
 */
export async function createFirstAdmin(
  database: Database,
  keyring: Keyring,
  input: { workspace: string; email: string; name: string; publicUrl: string },
) {
  return database.db.transaction(async (tx) => {
    const ws = await createWorkspace(tx, input.workspace);
    const admin = await createAgent(tx, { workspaceId: ws.id, email: input.email, name: input.name, role: "admin" });
    return { workspace: ws, admin, inviteUrl: inviteUrl(input.publicUrl, inviteToken(keyring, admin)) };
  });
}

const USAGE = "usage: bun run workspace:create --name <workspace> --admin-email <email> [--admin-name <name>]";

async function main() {
  const { values } = parseArgs({
    options: { name: { type: "string" }, "admin-email": { type: "string" }, "admin-name": { type: "string" } },
  });
  const email = values["admin-email"]?.trim();
  if (!values.name?.trim() || !email || !email.includes("@")) {
    console.error(USAGE);
    process.exit(2);
  }
  let config: Config;
  try {
    config = parseConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  const database = await connect(
    config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir },
  );
  try {
    const keyring = new Keyring(secretKey(config, database.driver), [config.secretKeyPrevious]);
    const made = await createFirstAdmin(database, keyring, {
      workspace: values.name.trim(),
      email,
      name: values["admin-name"]?.trim() || email.split("@")[0]!,
      publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
    });
    console.log(`Workspace "${made.workspace.name}" created (slug ${made.workspace.slug}).`);
    console.log(`Admin ${made.admin.email}: choose a password within 7 days at\n  ${made.inviteUrl}`);
  } catch (err) {
    if (!(err instanceof DomainError || err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exitCode = 1;
  } finally {
    await database.close();
  }
}

if (import.meta.main) await main();
