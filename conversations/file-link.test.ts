import { describe, expect, it } from "bun:test";
import { isVisitorClaims } from "../channels/webchat/index.ts";
import { Keyring } from "../platform/crypto.ts";
import { FILE_LINK_HOURS, fileLinkToken, verifyFileLink } from "./file-link.ts";

const keyring = new Keyring("a-secret-key-that-is-long-enough-for-tests-0123");
const file = { id: crypto.randomUUID(), workspaceId: crypto.randomUUID() };

describe("signed file links", () => {
  it("open their one file, in its workspace, until they expire", () => {
    const now = Date.now();
    const token = fileLinkToken(keyring, file, now);
    expect(verifyFileLink(keyring, token, file.id, now)).toBe(file.workspaceId);
    expect(verifyFileLink(keyring, token, crypto.randomUUID(), now)).toBeUndefined();
    expect(verifyFileLink(keyring, token, file.id, now + FILE_LINK_HOURS * 3_600_000 + 1)).toBeUndefined();
  });

  it("are refused when signed with another key or altered, and are no visitor token", () => {
    const token = fileLinkToken(keyring, file);
    const other = new Keyring("another-secret-key-that-is-long-enough-0123456");
    expect(verifyFileLink(other, token, file.id)).toBeUndefined();
    const [body, sig, kid] = token.split(".");
    const forged = `${Buffer.from(JSON.stringify({ p: "file-link", f: file.id, w: crypto.randomUUID(), e: Date.now() + 1e9 })).toString("base64url")}.${sig}.${kid}`;
    expect(body).toBeDefined();
    expect(verifyFileLink(keyring, forged, file.id)).toBeUndefined();
    expect(isVisitorClaims(keyring.verifyToken(token))).toBe(false);
    // A visitor's token is no file link either.
    const visitor = keyring.signToken({ w: file.workspaceId, i: "x", c: "y", v: "z", iat: 1, exp: Date.now() + 1e6 });
    expect(verifyFileLink(keyring, visitor, file.id)).toBeUndefined();
  });
});
