import { describe, expect, it } from "bun:test";
import { DomainError } from "../platform/errors.ts";
import { templateReply, templatesOf } from "./reply-template.ts";
import { fillTemplate, templatePlaceholders } from "./template-placeholders.ts";

const ORDER = {
  name: "order_update",
  contentSid: "HX0123456789abcdef0123456789abcdef",
  language: "en",
  body: "Hi {{1}}, your order {{2}} has shipped. Reply here if {{1}} needs help.",
};
const HELLO = {
  name: "hello",
  contentSid: "HXffffffffffffffffffffffffffffffff",
  language: "zh_CN",
  body: "您好，有什么可以帮您？",
};

/** The field and code of the error `fn` throws. */
function refusal(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return { status: e.status, field: e.field, message: e.message };
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("template placeholders", () => {
  it("lists each {{n}} once, in numeric order, tolerating spaces inside the braces", () => {
    expect(templatePlaceholders(ORDER.body)).toEqual(["1", "2"]);
    expect(templatePlaceholders("{{10}} {{ 2 }} {{1}}")).toEqual(["1", "2", "10"]);
    expect(templatePlaceholders(HELLO.body)).toEqual([]);
  });

  it("fills every occurrence and leaves a placeholder without a value as it is", () => {
    expect(fillTemplate(ORDER.body, { "1": "Wang", "2": "#4411" })).toBe(
      "Hi Wang, your order #4411 has shipped. Reply here if Wang needs help.",
    );
    expect(fillTemplate("{{1}} and {{2}}", { "1": "a" })).toBe("a and {{2}}");
  });
});

describe("a template reply", () => {
  it("gives the text the customer reads and what the item keeps for the sender", () => {
    expect(
      templateReply([HELLO, ORDER], { contentSid: ORDER.contentSid, variables: { "1": " Wang ", "2": "#4411" } }),
    ).toEqual({
      text: "Hi Wang, your order #4411 has shipped. Reply here if Wang needs help.",
      template: { name: "order_update", contentSid: ORDER.contentSid, variables: { "1": "Wang", "2": "#4411" } },
    });
    expect(templateReply([HELLO], { contentSid: HELLO.contentSid })).toEqual({
      text: "您好，有什么可以帮您？",
      template: { name: "hello", contentSid: HELLO.contentSid, variables: {} },
    });
  });

  it("refuses a Content SID that is not one of the inbox's templates", () => {
    expect(refusal(() => templateReply([HELLO], { contentSid: ORDER.contentSid }))).toMatchObject({
      status: 400,
      field: "template.contentSid",
    });
  });

  it("names the first placeholder without a value, or with a blank one", () => {
    expect(
      refusal(() => templateReply([ORDER], { contentSid: ORDER.contentSid, variables: { "1": "Wang" } })),
    ).toMatchObject({ status: 400, field: "template.variables.2" });
    const blank = refusal(() =>
      templateReply([ORDER], { contentSid: ORDER.contentSid, variables: { "1": "  ", "2": "#1" } }),
    );
    expect(blank).toMatchObject({ field: "template.variables.1" });
    expect(blank.message).toContain("needs a value for {{1}}");
  });

  it("refuses a variable the body has no placeholder for", () => {
    expect(
      refusal(() =>
        templateReply([ORDER], { contentSid: ORDER.contentSid, variables: { "1": "a", "2": "b", "3": "c" } }),
      ),
    ).toMatchObject({ field: "template.variables.3" });
  });

  it("refuses what WhatsApp refuses in a variable: line breaks, tabs, five spaces in a row", () => {
    for (const bad of ["two\nlines", "a\ttab", "wide     gap"])
      expect(
        refusal(() => templateReply([ORDER], { contentSid: ORDER.contentSid, variables: { "1": "ok", "2": bad } })),
      ).toMatchObject({ field: "template.variables.2" });
  });
});

describe("an inbox's templates", () => {
  it("reads the settings' list, skipping anything that is not a template, with English as the default language", () => {
    const { language: _, ...noLanguage } = ORDER;
    expect(templatesOf({ templates: [noLanguage, { name: "broken" }, null, HELLO] })).toEqual([ORDER, HELLO]);
    expect(templatesOf({})).toEqual([]);
    expect(templatesOf({ templates: "nope" })).toEqual([]);
  });
});
