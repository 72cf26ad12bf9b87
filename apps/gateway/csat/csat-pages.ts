import { eq } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { answerByToken, linkStateOf, NotResolved, surveyByToken, SurveyExpired } from "../../../csat/response.ts";
import { csatLangOf, csatSettingsOf, questionText, type CsatLang } from "../../../csat/settings.ts";
import { inboxes } from "../../../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../../../platform/errors.ts";
import { RateLimiter } from "../../../platform/rate-limit.ts";
import { clientIp } from "../../server/client-ip.ts";
import { errorResponse } from "../../server/http.ts";
import type { Runtime } from "../../server/runtime.ts";
import { outcomePage, surveyPage } from "./survey-page.ts";

/** Anonymous: a few tries a minute per address are plenty for one customer answering one survey. */
const PER_IP_BURST = 20;
const PER_IP_PER_SECOND = 0.5;

const browserLang = (c: Context): CsatLang => csatLangOf(c.req.header("accept-language")?.split(",")[0]);

/**
 * The survey link sent on email, SMS, WhatsApp, WeChat, Telegram, Slack and API conversations:
 * `GET /csat/<token>` asks the question, `POST /csat/<token>` (a plain form) records the answer once.
 * Pages in the inbox's language (else the browser's), no script.
 */
export function csatPages(rt: Runtime) {
  const db = rt.core.db;
  const perIp = new RateLimiter(PER_IP_BURST, PER_IP_PER_SECOND);
  const app = new Hono();

  async function surveyOf(c: Context, token: string) {
    const survey = await surveyByToken(db, token);
    const [inbox] = survey.inboxId
      ? await db.select({ settings: inboxes.settings }).from(inboxes).where(eq(inboxes.id, survey.inboxId))
      : [];
    const settings = inbox?.settings ?? {};
    const lang = settings.locale ? csatLangOf(settings.locale) : browserLang(c);
    return { survey, lang, question: questionText(csatSettingsOf(settings), lang) };
  }

  app.use("/csat/*", async (c, next) => {
    const wait = perIp.take(clientIp(rt.config.trustProxy, c));
    if (wait) {
      c.header("retry-after", String(wait));
      return c.text("Too many requests", 429);
    }
    await next();
  });
  app.onError((err, c) => {
    if (err instanceof NotFound) return outcomePage(c, browserLang(c), "notFound");
    return errorResponse(err, c);
  });

  app.get("/csat/:token", async (c) => {
    const token = c.req.param("token");
    const { survey, lang, question } = await surveyOf(c, token);
    const state = linkStateOf(survey);
    if (state !== "open") return outcomePage(c, lang, state);
    return surveyPage(c, { lang, token, question, scale: survey.scale });
  });

  app.post("/csat/:token", async (c) => {
    const token = c.req.param("token");
    const { survey, lang, question } = await surveyOf(c, token);
    const form = await c.req.parseBody();
    const raw = typeof form.rating === "string" ? form.rating.trim() : "";
    const rating = /^\d+$/.test(raw) ? Number(raw) : raw === "" ? undefined : Number.NaN;
    const comment = typeof form.comment === "string" ? form.comment : undefined;
    try {
      await answerByToken(rt.core, token, rating, comment);
      return outcomePage(c, lang, "thanks");
    } catch (err) {
      if (err instanceof SurveyExpired) return outcomePage(c, lang, "expired");
      if (err instanceof NotResolved) return outcomePage(c, lang, "reopened");
      if (err instanceof Conflict) return outcomePage(c, lang, "answered");
      if (err instanceof Invalid) return surveyPage(c, { lang, token, question, scale: survey.scale, error: true });
      throw err;
    }
  });

  return app;
}
