import type { Api, SurveyRequest } from "./api.ts";
import { h } from "./dom.ts";
import type { View } from "./view.ts";

/**
 * The satisfaction survey, inline under the chat once the conversation is resolved: five stars or
 * thumbs up/down per the inbox, an optional comment, then thanks. Shown when the server asks
 * (`csat.requested`) or, on load, when a survey of the visitor's latest conversation still waits.
 */
export class Survey {
  private shownFor: string | null = null;

  constructor(
    private readonly api: Api,
    private readonly view: View,
  ) {}

  /** On load: a survey may have been sent while the visitor was away. */
  async check() {
    const pending = await this.api.csat().catch(() => null);
    if (pending) this.show(pending);
  }

  show(request: SurveyRequest) {
    if (this.shownFor === request.conversationId) return;
    this.shownFor = request.conversationId;
    const box = this.view.survey;
    const t = (key: Parameters<View["t"]>[0], vars?: Record<string, string | number>) => this.view.t(key, vars);
    let rating = 0;
    const choices: HTMLButtonElement[] = [];
    const send = h("button", { type: "submit", class: "survey-send", disabled: true }, t("csatSend"));
    const pick = (value: number) => {
      rating = value;
      send.disabled = false;
      for (const c of choices) {
        const n = Number(c.dataset.rating);
        c.setAttribute("aria-pressed", String(request.scale === "stars" ? n <= value : n === value));
      }
    };
    const choice = (value: number, label: string, text: string) => {
      const b = h(
        "button",
        { type: "button", class: "survey-choice", "data-rating": String(value), "aria-label": label, title: label },
        text,
      );
      b.addEventListener("click", () => pick(value));
      choices.push(b);
      return b;
    };
    const scale =
      request.scale === "stars"
        ? [1, 2, 3, 4, 5].map((n) => choice(n, t("csatStars", { n }), "★"))
        : [choice(5, t("csatUp"), "👍"), choice(1, t("csatDown"), "👎")];
    const comment = h("textarea", { class: "survey-comment", maxlength: "2000", rows: "2" });
    comment.placeholder = t("csatComment");
    const error = h("p", { class: "survey-error", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: `survey-form ${request.scale}` },
      h("p", { class: "survey-question" }, request.question),
      h("div", { class: "survey-scale", role: "group" }, ...scale),
      comment,
      send,
      error,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!rating) return;
      send.disabled = true;
      try {
        await this.api.rate({ rating, comment: comment.value.trim() || undefined });
        box.replaceChildren(h("p", { class: "survey-thanks" }, t("csatThanks")));
      } catch (err) {
        // Already answered (elsewhere, or a double click): thanks all the same.
        if ((err as { status?: number }).status === 409)
          return box.replaceChildren(h("p", { class: "survey-thanks" }, t("csatThanks")));
        error.textContent = t("error");
        error.hidden = false;
        send.disabled = false;
      }
    });
    box.replaceChildren(form);
    box.hidden = false;
  }

  /** A new conversation began: the old survey goes. */
  reset() {
    this.shownFor = null;
    this.view.survey.hidden = true;
    this.view.survey.replaceChildren();
  }
}
