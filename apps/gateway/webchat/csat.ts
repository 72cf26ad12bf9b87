import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import type { VisitorClaims } from "../../../channels/webchat/index.ts";
import { recordResponse } from "../../../csat/response.ts";
import { surveyRequest } from "../../../csat/survey.ts";
import { conversations, inboxes } from "../../../db/schema/index.ts";
import { csatSurveys } from "../../../db/schema/service.ts";
import { Conflict } from "../../../platform/errors.ts";
import { body, created, ok, router } from "../../server/http.ts";
import type { Runtime } from "../../server/runtime.ts";

const SurveyRequestView = z.object({
  conversationId: z.string(),
  scale: z.enum(["stars", "thumbs"]),
  question: z.string(),
});

type WidgetEnv = { Variables: { visitor: VisitorClaims } };

// The rating is checked by the domain (csat/response.ts) so a 2.5 or a 6 is a 400 naming "rating".
const CsatBody = z.object({ rating: z.unknown(), comment: z.string().max(10_000).nullish() }).openapi("WidgetCsat");

/**
 * The visitor's satisfaction survey, mounted inside the widget API (/widget/v1) behind its token check
 * and throttles: the survey waiting for the visitor's latest conversation, and their answer to it.
 */
export function widgetCsatApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<WidgetEnv>();

  const latestConversation = async (v: VisitorClaims) =>
    (
      await db
        .select({ id: conversations.id, status: conversations.status })
        .from(conversations)
        .where(and(eq(conversations.workspaceId, v.w), eq(conversations.contactId, v.c)))
        .orderBy(desc(conversations.createdAt))
        .limit(1)
    )[0];

  app.openapi(
    createRoute({
      method: "get",
      path: "/csat",
      responses: {
        ...ok("{conversationId, scale, question} while a survey of the latest conversation waits, else null"),
        200: {
          description: "{conversationId, scale, question} while a survey of the latest conversation waits, else null",
          content: { "application/json": { schema: SurveyRequestView.nullable() } },
        },
      },
      tags: ["widget"],
    }),
    async (c) => {
      const latest = await latestConversation(c.get("visitor"));
      const none = () => c.json(null, 200);
      if (!latest || latest.status !== "resolved") return none();
      const [row] = await db
        .select({ survey: csatSurveys, settings: inboxes.settings })
        .from(csatSurveys)
        .innerJoin(inboxes, eq(inboxes.id, csatSurveys.inboxId))
        .where(and(eq(csatSurveys.conversationId, latest.id), eq(csatSurveys.status, "sent")));
      if (!row || row.survey.expiresAt <= new Date()) return none();
      return c.json(surveyRequest(row.survey, row.settings), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/csat",
      request: body(CsatBody),
      responses: created(
        "The rating of the visitor's latest conversation; 409 while it is open or once it is rated; 400 naming rating",
      ),
      tags: ["widget"],
    }),
    async (c) => {
      const visitor = c.get("visitor");
      const input = c.req.valid("json");
      const latest = await latestConversation(visitor);
      if (!latest) throw new Conflict("There is no conversation to rate", "conversation");
      const response = await recordResponse(
        rt.core,
        { conversationId: latest.id, rating: input.rating, comment: input.comment, via: "widget" },
        visitor.w,
      );
      return c.json(
        { conversationId: response.conversationId, rating: response.rating, comment: response.comment },
        201,
      );
    },
  );

  return app;
}
