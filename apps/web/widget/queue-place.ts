import { sleep, type Api } from "./api.ts";
import type { View } from "./view.ts";

/** How soon after sending the widget first asks where it stands in the queue, and how often after. */
const QUEUE_FIRST_LOOK_MS = 1000;
const QUEUE_REFRESH_MS = 15_000;

/**
 * While the chat waits for an agent, tells the visitor where they stand and roughly how long it
 * will be ("you are number 3 in line, about 2 min"), refreshed until an agent answers.
 */
export class QueuePlace {
  private watching = false;
  private answered = false;

  constructor(
    private readonly api: Api,
    private readonly view: View,
  ) {}

  agentAnswered() {
    this.answered = true;
    if (this.watching) this.view.showNotice(null);
  }

  async watch() {
    if (this.watching || this.answered) return;
    this.watching = true;
    try {
      // The server queues a new chat just after storing its first message: look again shortly.
      for (let round = 0; round < 120 && !this.answered; round++) {
        const place = await this.api.queue().catch(() => undefined);
        if (this.answered) break;
        if (place?.queued && place.position !== null) {
          if (place.position === 0) this.view.showNotice("queueNext", undefined, true);
          else if (place.estimatedWaitS === null) this.view.showNotice("queuedUnknown", { n: place.position }, true);
          else
            this.view.showNotice(
              "queued",
              { n: place.position, min: Math.max(1, Math.round(place.estimatedWaitS / 60)) },
              true,
            );
        } else if (round > 0) break;
        await sleep(round === 0 ? QUEUE_FIRST_LOOK_MS : QUEUE_REFRESH_MS);
      }
    } finally {
      this.watching = false;
    }
    if (this.answered) this.view.showNotice(null);
  }
}
