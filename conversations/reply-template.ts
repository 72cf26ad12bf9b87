import { Invalid } from "../platform/errors.ts";
import { fillTemplate, templatePlaceholders } from "./template-placeholders.ts";

/**
 * WhatsApp templates on the reply side: outside the 24-hour window only a template Meta approved may be
 * sent, named by its Twilio Content SID with values for its `{{1}}`, `{{2}}`… placeholders. The inbox
 * keeps its templates in `settings.templates` (channels/twilio-messaging/setup.ts validates them; the
 * core reads the same shape without importing channel code). Pure functions over plain data.
 */

export type WhatsappTemplate = { name: string; contentSid: string; language?: string; body: string };
export type TemplateInput = { contentSid: string; variables?: Record<string, string> };
/** What a template reply stores on its item (`data.template`); the sender turns it into ContentVariables. */
export type TemplateData = { name: string; contentSid: string; variables: Record<string, string> };

/** Meta refuses parameters with a line break, a tab or more than four spaces in a row (error 132018). */
const REFUSED_BY_WHATSAPP = /[\n\r\t]| {5,}/;
export const MAX_TEMPLATE_VARIABLE = 1024;

/** The templates of an inbox's settings; anything that is not a template is skipped, not trusted. */
export function templatesOf(settings: Record<string, unknown>): WhatsappTemplate[] {
  const list = Array.isArray(settings.templates) ? (settings.templates as Partial<WhatsappTemplate>[]) : [];
  return list
    .filter((t) => !!t && typeof t.name === "string" && typeof t.contentSid === "string" && typeof t.body === "string")
    .map((t) => ({
      name: t.name!,
      contentSid: t.contentSid!,
      language: typeof t.language === "string" ? t.language : "en",
      body: t.body!,
    }));
}

/**
 * A template reply checked against the inbox's templates: the Content SID must be one of them and every
 * placeholder of its body needs a value WhatsApp accepts (400 naming `template.contentSid` or
 * `template.variables.N` otherwise). Returns the text the customer reads and what the item keeps.
 */
export function templateReply(
  templates: WhatsappTemplate[],
  input: TemplateInput,
): { text: string; template: TemplateData } {
  const chosen = templates.find((t) => t.contentSid === input.contentSid);
  if (!chosen)
    throw new Invalid(`${input.contentSid} is not one of this inbox's WhatsApp templates`, "template.contentSid");
  const given = input.variables ?? {};
  const wanted = templatePlaceholders(chosen.body);
  for (const key of Object.keys(given))
    if (!wanted.includes(key))
      throw new Invalid(`Template "${chosen.name}" has no {{${key}}}`, `template.variables.${key}`);
  const variables: Record<string, string> = {};
  for (const n of wanted) {
    const value = given[n]?.trim();
    const field = `template.variables.${n}`;
    if (!value) throw new Invalid(`Template "${chosen.name}" needs a value for {{${n}}}`, field);
    if (value.length > MAX_TEMPLATE_VARIABLE)
      throw new Invalid(`{{${n}}} is longer than ${MAX_TEMPLATE_VARIABLE} characters`, field);
    if (REFUSED_BY_WHATSAPP.test(value))
      throw new Invalid(`WhatsApp refuses {{${n}}} with a line break, a tab or more than four spaces in a row`, field);
    variables[n] = value;
  }
  return {
    text: fillTemplate(chosen.body, variables),
    template: { name: chosen.name, contentSid: chosen.contentSid, variables },
  };
}
