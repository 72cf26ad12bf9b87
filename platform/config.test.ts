import { describe, expect, it } from "bun:test";
import { ConfigError, parseConfig } from "./config.ts";

const KEY = "a-secret-key-of-at-least-32-characters-0123";

describe("config", () => {
  it("defaults to embedded PGlite under ./data on port 3000", () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      dataDir: "./data",
      logLevel: "info",
      demo: true,
      meili: undefined,
    });
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
    const c = parseConfig({
      DATABASE_URL: "postgres://u@h/db",
      SECRET_KEY: KEY,
      MEILI_HOST: "http://127.0.0.1:7700",
      MEILI_KEY: "k",
      PUBLIC_URL: "https://x.test/",
      SWITCHBOARD_DEMO: "0",
    });
    expect(c.databaseUrl).toBe("postgres://u@h/db");
    expect(c.meili).toEqual({ host: "http://127.0.0.1:7700", key: "k" });
    expect(c.publicUrl).toBe("https://x.test");
    expect(c.demo).toBe(false);
    expect(parseConfig({ ROUTING_AUTO_ACCEPT: "chat,email" }).autoAccept).toEqual(["chat", "email"]);
    expect(parseConfig({}).autoAccept).toEqual([]);
  });

  it("makes demo data by default only on the embedded database; SWITCHBOARD_DEMO=1 asks for it on PostgreSQL", () => {
    const pg = { DATABASE_URL: "postgres://u@h/db", SECRET_KEY: KEY };
    expect(parseConfig({}).demo).toBe(true);
    expect(parseConfig({ SWITCHBOARD_DEMO: "0" }).demo).toBe(false);
    expect(parseConfig(pg)).toMatchObject({ demo: false, twilioAuthToken: undefined, smtpIn: undefined });
    expect(parseConfig({ ...pg, SWITCHBOARD_DEMO: "1" })).toMatchObject({
      demo: true,
      twilioAuthToken: "demo-twilio-token",
    });
    expect(parseConfig({ ...pg, SWITCHBOARD_DEMO: "0" }).demo).toBe(false);
  });

  it("reads the Twilio API base a voice inbox's number is checked against", () => {
    expect(parseConfig({}).twilioApiBaseUrl).toBeUndefined();
    expect(parseConfig({ TWILIO_API_BASE_URL: "http://127.0.0.1:9" }).twilioApiBaseUrl).toBe("http://127.0.0.1:9");
    expect(() => parseConfig({ TWILIO_API_BASE_URL: "api.twilio.com" })).toThrow(/TWILIO_API_BASE_URL/);
  });

  it("reads the messaging providers' API bases (TWILIO_API_BASE first) and lets server-side fetches reach them", () => {
    const c = parseConfig({
      TWILIO_API_BASE_URL: "http://127.0.0.1:9",
      TWILIO_API_BASE: "http://localhost:7001/",
      SLACK_API_BASE: "http://10.0.0.7:7002",
      TELEGRAM_API_BASE: "http://[::1]:7003",
      OUTBOUND_ALLOW_HOSTS: "CRM.internal",
    });
    expect(c.twilioApiBaseUrl).toBe("http://localhost:7001");
    expect(c.slackApiBase).toBe("http://10.0.0.7:7002");
    expect(c.telegramApiBase).toBe("http://[::1]:7003");
    expect(c.outboundAllowHosts).toEqual(["crm.internal", "localhost", "10.0.0.7", "::1"]);
    expect(parseConfig({}).outboundAllowHosts).toEqual([]);
    expect(() => parseConfig({ SLACK_API_BASE: "slack.com" })).toThrow(/SLACK_API_BASE/);
  });

  it("refuses PostgreSQL without SECRET_KEY, naming the variable, and reads the previous key", () => {
    expect(() => parseConfig({ DATABASE_URL: "postgres://u@h/db" })).toThrow(/SECRET_KEY.*PostgreSQL/);
    expect(parseConfig({}).secretKey).toBeUndefined();
    const rotated = parseConfig({
      DATABASE_URL: "postgres://u@h/db",
      SECRET_KEY: KEY,
      SECRET_KEY_PREVIOUS: KEY.replace("a", "b"),
    });
    expect(rotated.secretKeyPrevious).toBe(KEY.replace("a", "b"));
    expect(() => parseConfig({ SECRET_KEY_PREVIOUS: "short" })).toThrow(/SECRET_KEY_PREVIOUS/);
  });

  it("reads STUN/TURN servers for browser calls as a URL list or JSON, empty by default", () => {
    expect(parseConfig({}).iceServers).toEqual([]);
    expect(parseConfig({ WEBRTC_ICE_SERVERS: "stun:stun.example.org:3478, turn:turn.example.org" }).iceServers).toEqual(
      [{ urls: "stun:stun.example.org:3478" }, { urls: "turn:turn.example.org" }],
    );
    const json = '[{"urls":["turn:turn.example.org:3478"],"username":"u","credential":"p"}]';
    expect(parseConfig({ WEBRTC_ICE_SERVERS: json }).iceServers).toEqual([
      { urls: ["turn:turn.example.org:3478"], username: "u", credential: "p" },
    ]);
    expect(() => parseConfig({ WEBRTC_ICE_SERVERS: "http://example.org" })).toThrow(/WEBRTC_ICE_SERVERS/);
    expect(() => parseConfig({ WEBRTC_ICE_SERVERS: "[{" })).toThrow(/WEBRTC_ICE_SERVERS/);
  });

  it("bounds web chat sockets per visitor and per IP and the events of one widget replay", () => {
    expect(parseConfig({}).widgetSockets).toEqual({ perVisitor: 5, perIp: 50, replayLimit: 500 });
    const raised = parseConfig({
      WIDGET_SOCKETS_PER_VISITOR: "100",
      WIDGET_SOCKETS_PER_IP: "1000",
      WIDGET_REPLAY_LIMIT: "50",
    });
    expect(raised.widgetSockets).toEqual({ perVisitor: 100, perIp: 1000, replayLimit: 50 });
    expect(() => parseConfig({ WIDGET_SOCKETS_PER_VISITOR: "0" })).toThrow(/WIDGET_SOCKETS_PER_VISITOR/);
    expect(() => parseConfig({ WIDGET_SOCKETS_PER_IP: "many" })).toThrow(/WIDGET_SOCKETS_PER_IP/);
    expect(() => parseConfig({ WIDGET_REPLAY_LIMIT: "-1" })).toThrow(/WIDGET_REPLAY_LIMIT/);
  });

  it("reads the anonymous limits: proxy hops, upload quotas, sign-in, help center, tokens, metrics, outbound hosts", () => {
    const d = parseConfig({});
    expect(d).toMatchObject({ trustProxy: 0, visitorTokenDays: 30, metricsToken: undefined, outboundAllowHosts: [] });
    expect(d.uploads).toEqual({
      visitorBytes: 100 * 1024 * 1024,
      ipBytes: 300 * 1024 * 1024,
      workspaceBytes: 5000 * 1024 * 1024,
      orphanAfterMs: 24 * 3_600_000,
    });
    expect(d.login).toEqual({
      ipPerMinute: 20,
      accountIpFailuresPerHour: 20,
      accountFailuresPerHour: 500,
      concurrentHashes: 2,
    });
    expect(d.help).toEqual({ gapsPerMinute: 5, viewWindowMs: 3_600_000 });
    const c = parseConfig({
      TRUST_PROXY: "2",
      UPLOAD_VISITOR_MB: "1",
      UPLOAD_ORPHAN_HOURS: "0.5",
      LOGIN_CONCURRENT_HASHES: "4",
      HELP_GAPS_PER_MINUTE: "1",
      VISITOR_TOKEN_DAYS: "7",
      METRICS_TOKEN: "a-long-metrics-token",
      OUTBOUND_ALLOW_HOSTS: "CRM.internal,10.0.0.5",
    });
    expect(c).toMatchObject({
      trustProxy: 2,
      visitorTokenDays: 7,
      metricsToken: "a-long-metrics-token",
      outboundAllowHosts: ["crm.internal", "10.0.0.5"],
    });
    expect(c.uploads).toMatchObject({ visitorBytes: 1024 * 1024, orphanAfterMs: 1_800_000 });
    expect(c.login.concurrentHashes).toBe(4);
    for (const [name, value] of [
      ["TRUST_PROXY", "yes"],
      ["UPLOAD_IP_MB", "0"],
      ["LOGIN_CONCURRENT_HASHES", "0"],
      ["VISITOR_TOKEN_DAYS", "-1"],
      ["METRICS_TOKEN", "short"],
      ["OUTBOUND_ALLOW_HOSTS", "a, b"],
      ["HELP_VIEW_WINDOW_MINUTES", "x"],
    ] as const)
      expect(() => parseConfig({ [name]: value })).toThrow(name);
  });
});
