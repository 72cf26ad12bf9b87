import { describe, expect, it } from "bun:test";
import { ConfigError, parseConfig } from "./config.ts";

describe("config", () => {
  it("defaults to embedded PGlite under ./data on port 3000", () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ port: 3000, databaseUrl: undefined, dataDir: "./data", logLevel: "info", demo: true, meili: undefined });
  });

  it("stops on a bad value and names the variable", () => {
    expect(() => parseConfig({ PORT: "eighty" })).toThrow(ConfigError);
    expect(() => parseConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => parseConfig({ DATABASE_URL: "mysql://x" })).toThrow(/DATABASE_URL/);
    expect(() => parseConfig({ SECRET_KEY: "short" })).toThrow(/SECRET_KEY/);
    expect(() => parseConfig({ MEILI_HOST: "not a url" })).toThrow(/MEILI_HOST/);
    expect(() => parseConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
    expect(() => parseConfig({ ROUTING_AUTO_ACCEPT: "chat,fax" })).toThrow(/ROUTING_AUTO_ACCEPT/);
  });

  it("reads Postgres, Meilisearch and public URL settings", () => {
    const c = parseConfig({ DATABASE_URL: "postgres://u@h/db", MEILI_HOST: "http://127.0.0.1:7700", MEILI_KEY: "k", PUBLIC_URL: "https://x.test/", SWITCHBOARD_DEMO: "0" });
    expect(c.databaseUrl).toBe("postgres://u@h/db");
    expect(c.meili).toEqual({ host: "http://127.0.0.1:7700", key: "k" });
    expect(c.publicUrl).toBe("https://x.test");
    expect(c.demo).toBe(false);
    expect(parseConfig({ ROUTING_AUTO_ACCEPT: "chat,email" }).autoAccept).toEqual(["chat", "email"]);
    expect(parseConfig({}).autoAccept).toEqual([]);
  });

  it("reads STUN/TURN servers for browser calls as a URL list or JSON, empty by default", () => {
    expect(parseConfig({}).iceServers).toEqual([]);
    expect(parseConfig({ WEBRTC_ICE_SERVERS: "stun:stun.example.org:3478, turn:turn.example.org" }).iceServers).toEqual([
      { urls: "stun:stun.example.org:3478" },
      { urls: "turn:turn.example.org" },
    ]);
    const json = '[{"urls":["turn:turn.example.org:3478"],"username":"u","credential":"p"}]';
    expect(parseConfig({ WEBRTC_ICE_SERVERS: json }).iceServers).toEqual([{ urls: ["turn:turn.example.org:3478"], username: "u", credential: "p" }]);
    expect(() => parseConfig({ WEBRTC_ICE_SERVERS: "http://example.org" })).toThrow(/WEBRTC_ICE_SERVERS/);
    expect(() => parseConfig({ WEBRTC_ICE_SERVERS: "[{" })).toThrow(/WEBRTC_ICE_SERVERS/);
  });
});
