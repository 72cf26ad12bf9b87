import { z } from "zod";

/**
 * The environment, parsed and validated once at start. Everything else reads `Config`, never
 * `process.env`, so a bad value stops start-up with one message naming the variable.
 */
const LogLevel = z.enum(["debug", "info", "warn", "error", "silent"]);

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  MEILI_HOST: z.url({ message: "must be a URL such as http://127.0.0.1:7700" }).optional(),
  MEILI_KEY: z.string().optional(),
  // 32+ characters of entropy; derives the keys for credentials at rest and visitor tokens.
  SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  PUBLIC_URL: z.url({ message: "must be a URL such as https://support.example.com" }).optional(),
  LOG_LEVEL: LogLevel.default("info"),
  SWITCHBOARD_DEMO: z.enum(["0", "1"]).default("1"),
  // Public widget API requests per second per client IP (bursts of 5 s worth are allowed). Raise it
  // when many visitors share one address (a corporate NAT, a reverse proxy without X-Forwarded-For).
  WIDGET_IP_RATE: z.coerce.number().positive().default(20),
  // Channel classes whose offers are accepted for the agent at once (comma list: voice,chat,email,messaging).
  ROUTING_AUTO_ACCEPT: z
    .string()
    .regex(/^((voice|chat|email|messaging)(,(voice|chat|email|messaging))*)?$/, "must be a comma list of voice, chat, email, messaging")
    .default(""),
  // Twilio auth token for voice inboxes that keep none of their own (the demo's +15005550006 inbox).
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  // Behind a reverse proxy: take the client address from X-Forwarded-For (otherwise it is spoofable).
  TRUST_PROXY: z.enum(["0", "1"]).default("0"),
  // STUN/TURN servers for browser calls (chat → voice): a comma list of stun:/turn: URLs, or a JSON
  // array of RTCIceServer objects when a TURN server needs a username and credential. Empty: host
  // candidates only, enough on one network.
  WEBRTC_ICE_SERVERS: z.string().optional(),
  // SMTP-in (mail forwarded to Switchboard): runs in demo mode, or wherever SMTP_IN_PORT is set.
  SMTP_IN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SMTP_IN_HOST: z.string().min(1).default("127.0.0.1"),
  // IMAP import of email inboxes' mailboxes ("0" turns it off on a node, e.g. all but one of a cluster).
  IMAP_IMPORT: z.enum(["0", "1"]).default("1"),
});

const IceUrl = z.string().regex(/^(stun|stuns|turn|turns):\S+$/, "each URL must start with stun:, stuns:, turn: or turns:");
const IceServers = z.array(
  z.object({ urls: z.union([IceUrl, z.array(IceUrl).min(1)]), username: z.string().optional(), credential: z.string().optional() }).strict(),
);
export type IceServer = z.infer<typeof IceServers>[number];

/** `stun:a,turn:b` or `[{"urls":"turn:b","username":"u","credential":"p"}]`. */
function parseIceServers(raw: string | undefined): IceServer[] | string {
  if (!raw?.trim()) return [];
  let value: unknown;
  if (raw.trim().startsWith("[")) {
    try {
      value = JSON.parse(raw);
    } catch {
      return "is not valid JSON";
    }
  } else {
    value = raw.split(",").map((u) => ({ urls: u.trim() }));
  }
  const parsed = IceServers.safeParse(value);
  return parsed.success ? parsed.data : parsed.error.issues[0]!.message;
}

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  meili: { host: string; key: string | undefined } | undefined;
  secretKey: string | undefined;
  publicUrl: string | undefined;
  logLevel: z.infer<typeof LogLevel>;
  demo: boolean;
  widgetIpRate: number;
  trustProxy: boolean;
  autoAccept: ("voice" | "chat" | "email" | "messaging")[];
  iceServers: IceServer[];
  /** Twilio auth token for voice inboxes without their own; "demo-twilio-token" in demo mode. */
  twilioAuthToken: string | undefined;
  /** SMTP-in listener, when it runs: SMTP_IN_PORT (default 2525) on SMTP_IN_HOST (default loopback). */
  smtpIn: { port: number; host: string } | undefined;
  imapImport: boolean;
};

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`Invalid environment variable ${variable}: ${detail}`);
  }
}

/** Empty strings count as unset: `FOO= bun run start` should not fail a URL check. */
function withoutEmpty(env: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
}

export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? "environment"), issue.message);
  }
  const e = parsed.data;
  const iceServers = parseIceServers(e.WEBRTC_ICE_SERVERS);
  if (typeof iceServers === "string") throw new ConfigError("WEBRTC_ICE_SERVERS", iceServers);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    meili: e.MEILI_HOST ? { host: e.MEILI_HOST, key: e.MEILI_KEY } : undefined,
    secretKey: e.SECRET_KEY,
    publicUrl: e.PUBLIC_URL?.replace(/\/$/, ""),
    logLevel: e.LOG_LEVEL,
    demo: e.SWITCHBOARD_DEMO === "1",
    widgetIpRate: e.WIDGET_IP_RATE,
    trustProxy: e.TRUST_PROXY === "1",
    twilioAuthToken: e.TWILIO_AUTH_TOKEN ?? (e.SWITCHBOARD_DEMO === "1" ? "demo-twilio-token" : undefined),
    autoAccept: e.ROUTING_AUTO_ACCEPT ? (e.ROUTING_AUTO_ACCEPT.split(",") as Config["autoAccept"]) : [],
    iceServers,
    smtpIn: e.SMTP_IN_PORT !== undefined || e.SWITCHBOARD_DEMO === "1" ? { port: e.SMTP_IN_PORT ?? 2525, host: e.SMTP_IN_HOST } : undefined,
    imapImport: e.IMAP_IMPORT === "1",
  };
}
