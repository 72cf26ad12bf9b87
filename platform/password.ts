import { z } from "zod";

/**
 * A password someone chooses (a new agent, an accepted invitation): at least eight characters, not
 * all whitespace ("        " passed a plain length check), and no NUL (argon2 implementations and C
 * strings stop there, so everything after it would not count).
 */
export const NewPassword = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(200, "must be at most 200 characters")
  .refine((p) => !p.includes("\u0000"), "must not contain NUL characters")
  .refine((p) => /\S/.test(p), "must not be only spaces");
