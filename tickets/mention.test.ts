import { describe, expect, it } from "bun:test";
import { mentionedUsers } from "./mention.ts";

const users = [
  { id: "anna", name: "Anna", email: "anna@acme.test" },
  { id: "annali", name: "Anna Li", email: "ali@acme.test" },
  { id: "wang", name: "王芳", email: "fang.wang@acme.test" },
  { id: "bob", name: "Bob Stone", email: "bob@acme.test" },
];

describe("@mentions in ticket comments", () => {
  it("finds users by name and by the part of their email before the @", () => {
    expect(mentionedUsers("@Bob Stone please look, and @fang.wang too", users).sort()).toEqual(["bob", "wang"]);
  });

  it("takes the longest name that fits", () => {
    expect(mentionedUsers("cc @Anna Li", users)).toEqual(["annali"]);
    expect(mentionedUsers("cc @anna, thanks", users)).toEqual(["anna"]);
  });

  it("finds a Chinese name with text running on after it", () => {
    expect(mentionedUsers("@王芳请看一下这个工单", users)).toEqual(["wang"]);
  });

  it("does not take a longer word or an email address for a mention", () => {
    expect(mentionedUsers("@annabel said so", users)).toEqual([]);
    expect(mentionedUsers("write to support@bob.test", users)).toEqual([]);
    expect(mentionedUsers("no mention here", users)).toEqual([]);
  });

  it("mentions each user once however often they are named", () => {
    expect(mentionedUsers("@bob @Bob Stone @bob.", users)).toEqual(["bob"]);
  });
});
