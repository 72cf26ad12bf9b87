import type { App, Receiver } from "@slack/bolt";

/**
 * Bolt's Receiver for an app whose HTTP is Hono's: no server of its own (start/stop do nothing), the
 * gateway route verifies the request and hands its body here. Like Bolt's AwsLambdaReceiver, the
 * answer is settled once the app has processed the event, so the route commits before Slack hears 200
 * and a failure answers 500, which Slack retries.
 */
export class HonoReceiver implements Receiver {
  private app: App | undefined;

  init(app: App) {
    this.app = app;
  }

  async start() {}

  async stop() {}

  /** Processes one verified request; resolves with what Bolt acknowledged (nothing, for events). */
  async dispatch(body: Record<string, unknown>, retry: { num?: number; reason?: string }): Promise<unknown> {
    if (!this.app) throw new Error("The Slack app is not initialised");
    let acked: unknown;
    await this.app.processEvent({
      body,
      retryNum: retry.num,
      retryReason: retry.reason,
      ack: async (response?: unknown) => {
        acked = response;
      },
    });
    return acked;
  }
}
