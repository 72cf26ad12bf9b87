import { expect, it } from "bun:test";
import { NewPassword } from "./password.ts";

it("accepts eight or more characters that are not all whitespace and contain no NUL", () => {
  for (const ok of ["correct horse", "12345678", "pass word", "密码密码密码密码"])
    expect(NewPassword.safeParse(ok).success).toBe(true);
  for (const bad of ["        ", "\t\t\t\t\n\n\n\n", "short", "abcd\u0000efgh", "x".repeat(201)])
    expect(NewPassword.safeParse(bad).success).toBe(false);
});
