import type { Core } from "../conversations/transaction.ts";
import { listenForSlaEvents } from "./listeners.ts";
import { slaSweep } from "./sweep.ts";

/**
 * What a node runs for SLAs: the listener that keeps clocks in step with conversations and tickets,
 * and the sweep that fires `sla.warning` / `sla.breached` (SLA_SWEEP_MS).
 */
export class SlaTracking {
  readonly sweep;
  private stopListening: (() => Promise<void>) | undefined;

  constructor(
    private readonly core: Core,
    sweepMs: number,
  ) {
    this.sweep = slaSweep(core, sweepMs);
  }

  start() {
    this.stopListening ??= listenForSlaEvents(this.core.db, this.core.bus);
    this.sweep.start();
  }

  async stop() {
    await this.stopListening?.();
    this.stopListening = undefined;
    await this.sweep.stop();
  }
}
