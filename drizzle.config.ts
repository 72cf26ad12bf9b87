import { defineConfig } from "drizzle-kit";

// One schema and one set of migrations serve both drivers: PGlite speaks the same SQL as Postgres.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
});
