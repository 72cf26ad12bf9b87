import { describe, expect, it } from "bun:test";
import { endStatus } from "./browser-call.ts";

describe("how a browser call ends", () => {
  it("records a visitor giving up on their own ringing call as abandoned", () => {
    expect(endStatus({ status: "ringing", direction: "in" }, "visitor", "hangup")).toBe("abandoned");
  });

  it("records a declined or cancelled invitation as no answer", () => {
    expect(endStatus({ status: "ringing", direction: "out" }, "visitor", "hangup")).toBe("no_answer");
    expect(endStatus({ status: "ringing", direction: "out" }, "agent", "hangup")).toBe("no_answer");
    expect(endStatus({ status: "ringing", direction: "in" }, "agent", "hangup")).toBe("no_answer");
  });

  it("completes a call hung up once answered, by either side, and fails one whose media broke", () => {
    for (const by of ["visitor", "agent"] as const) {
      expect(endStatus({ status: "connected", direction: "in" }, by, "hangup")).toBe("completed");
      expect(endStatus({ status: "connecting", direction: "out" }, by, "failed")).toBe("failed");
    }
  });
});
