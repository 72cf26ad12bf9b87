import { permissions, rolePermissions, roles, type Permission } from "../platform/permission.ts";
import { routePermissions, type RouteAccess } from "../apps/inbox/route-permission.ts";

/**
 * docs/permissions.md, rendered from the two tables in code (roles → permissions, routes →
 * permission). apps/inbox/permission.e2e.test.ts fails when the page and the code differ; rewrite the page
 * with `bun scripts/permissions-doc.ts`.
 */
export function permissionsDoc() {
  const mark = (role: (typeof roles)[number], p: Permission) => (rolePermissions[role].includes(p) ? "yes" : "—");
  const routesOf = (p: RouteAccess) =>
    Object.entries(routePermissions)
      .filter(([, needed]) => needed === p)
      .map(([route]) => `\`${route}\``);
  const lines = [
    "# Roles and permissions",
    "",
    "<!-- Generated from platform/permission.ts and apps/inbox/route-permission.ts by",
    "     `bun scripts/permissions-doc.ts`; apps/inbox/permission.e2e.test.ts fails when they differ. -->",
    "",
    "Every route of the agent API (`/api/v1`) names the one permission it needs; a route without one is",
    "refused to everyone. Roles hold permissions by the table below. On top of the permission, one",
    "visibility rule decides which conversations a user sees (lists, search, timelines, a contact's",
    "history, files, sockets): `conversations.read_all` sees every conversation of the workspace,",
    "`conversations.read` alone sees the user's own, unassigned ones and their teams', and without either",
    "a user sees none. Another workspace's objects are never found (404). See docs/security.md,",
    '"Roles and visibility".',
    "",
    "## Roles × permissions",
    "",
    `| Permission | ${roles.join(" | ")} | What it allows |`,
    `|---|${roles.map(() => "---").join("|")}|---|`,
    ...(Object.keys(permissions) as Permission[]).map(
      (p) => `| \`${p}\` | ${roles.map((r) => mark(r, p)).join(" | ")} | ${permissions[p]} |`,
    ),
    "",
    "## Routes by permission",
    "",
    "| Permission | Routes |",
    "|---|---|",
    `| public (no sign-in) | ${routesOf("public").join(", ")} |`,
    `| an API inbox's own token (no user; sessions and API keys get 401) | ${routesOf("inbox_token").join(", ")} |`,
    ...(Object.keys(permissions) as Permission[])
      .filter((p) => routesOf(p).length)
      .map((p) => `| \`${p}\` | ${routesOf(p).join(", ")} |`),
    "",
  ];
  return lines.join("\n");
}

if (import.meta.main) await Bun.write(new URL("../docs/permissions.md", import.meta.url), permissionsDoc());
