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
  // 32+ characters of entropy; derives the keys for credentials at rest and visitor tokens. Required
  // on PostgreSQL: every node and every new container must open what the others sealed.
  SECRET_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  // The key SECRET_KEY replaced: values sealed and tokens signed with it still open (and are re-sealed
  // with SECRET_KEY when read), so a rotation takes nothing down.
  SECRET_KEY_PREVIOUS: z.string().min(32, "must be at least 32 characters").optional(),
  PUBLIC_URL: z.url({ message: "must be a URL such as https://support.example.com" }).optional(),
  LOG_LEVEL: LogLevel.default("info"),
  // Demo data on an empty database: by default only on the embedded database (PGlite), never with
  // known credentials on a PostgreSQL (production) start unless asked for with 1.
  SWITCHBOARD_DEMO: z.enum(["0", "1"]).optional(),
  // Public widget API requests per second per client IP (bursts of 5 s worth are allowed). Raise it
  // when many visitors share one address (a corporate NAT, a reverse proxy without X-Forwarded-For).
  WIDGET_IP_RATE: z.coerce.number().positive().default(20),
  // Web chat sockets open at once on a node per visitor and per client IP (over either: 429), and the
  // events one socket's replay may hold before the widget is told to reload by HTTP instead (resync).
  WIDGET_SOCKETS_PER_VISITOR: z.coerce.number().int().positive().default(5),
  WIDGET_SOCKETS_PER_IP: z.coerce.number().int().positive().default(50),
  WIDGET_REPLAY_LIMIT: z.coerce.number().int().positive().default(500),
  // Channel classes whose offers are accepted for the agent at once (comma list: voice,chat,email,messaging).
  ROUTING_AUTO_ACCEPT: z
    .string()
    .regex(
      /^((voice|chat|email|messaging)(,(voice|chat|email|messaging))*)?$/,
      "must be a comma list of voice, chat, email, messaging",
    )
    .default(""),
  // Twilio auth token for voice inboxes that keep none of their own (the demo's +15005550006 inbox).
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  // Twilio's REST API for checking that an account holds a number a new voice inbox claims: a
  // regional edge, or a local stand-in in tests. Default https://api.twilio.com.
  TWILIO_API_BASE_URL: z.url({ message: "must be a URL such as https://api.twilio.com" }).optional(),
  // The same for every Twilio call of SMS and WhatsApp inboxes without an API base of their own, and
  // for the number check (the issue's public name; TWILIO_API_BASE_URL is the older one, still read).
  TWILIO_API_BASE: z.url({ message: "must be a URL such as https://api.twilio.com" }).optional(),
  // Slack's Web API (chat.postMessage, files) and Telegram's Bot API, or local stand-ins with the same
  // paths: tests and local trials need no account. Defaults https://slack.com and https://api.telegram.org.
  SLACK_API_BASE: z.url({ message: "must be a URL such as https://slack.com" }).optional(),
  TELEGRAM_API_BASE: z.url({ message: "must be a URL such as https://api.telegram.org" }).optional(),
  // WeChat's Official Account API (access tokens, customer-service messages), or a local stand-in with
  // the same paths in tests. Default https://api.weixin.qq.com.
  WECHAT_API_BASE: z.url({ message: "must be a URL such as https://api.weixin.qq.com" }).optional(),
  WECOM_API_BASE: z.url({ message: "must be a URL such as https://qyapi.weixin.qq.com" }).optional(),
  // Behind N reverse proxies (TRUST_PROXY=1 for one): the client address is the X-Forwarded-For entry
  // the outermost trusted proxy appended, the Nth from the right. 0: the socket's peer address.
  TRUST_PROXY: z.coerce.number().int("must be 0, 1 or a number of proxy hops").min(0).max(10).default(0),
  // Anonymous uploads (web chat visitors): megabytes per 24 hours per visitor, per client IP and per
  // workspace; files no message took are deleted after UPLOAD_ORPHAN_HOURS.
  UPLOAD_VISITOR_MB: z.coerce.number().positive().default(100),
  UPLOAD_IP_MB: z.coerce.number().positive().default(300),
  UPLOAD_WORKSPACE_MB: z.coerce.number().positive().default(5000),
  UPLOAD_ORPHAN_HOURS: z.coerce.number().positive().default(24),
  // Sign-in: attempts per minute per client IP (any account), failed attempts per hour per account
  // from one IP and from everywhere (the last high, so nobody can lock a user out cheaply), and how
  // many password hashes one node verifies at once (argon2id costs a core for most of a second).
  LOGIN_IP_PER_MINUTE: z.coerce.number().positive().default(20),
  LOGIN_ACCOUNT_IP_FAILURES_PER_HOUR: z.coerce.number().positive().default(20),
  LOGIN_ACCOUNT_FAILURES_PER_HOUR: z.coerce.number().positive().default(500),
  LOGIN_CONCURRENT_HASHES: z.coerce.number().int().min(1).default(2),
  // Help center: knowledge-gap entries (searches with no result) per minute per client IP, and the
  // window within which one reader's views of an article count once.
  HELP_GAPS_PER_MINUTE: z.coerce.number().positive().default(5),
  HELP_VIEW_WINDOW_MINUTES: z.coerce.number().positive().default(60),
  // Web chat visitor tokens expire after this many days (a returning visitor gets a new session).
  VISITOR_TOKEN_DAYS: z.coerce.number().positive().default(30),
  // /metrics: with a token only `Authorization: Bearer <METRICS_TOKEN>`; without, loopback clients only.
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  // Server-side fetches (IVR lookups…) refuse private, loopback and link-local addresses except these
  // hosts or IP literals (comma list), e.g. an internal CRM: OUTBOUND_ALLOW_HOSTS=crm.internal,10.0.0.5
  OUTBOUND_ALLOW_HOSTS: z
    .string()
    .regex(/^[^\s,]+(,[^\s,]+)*$/, "must be a comma list of host names or IP addresses")
    .optional(),
  // STUN/TURN servers for browser calls (chat → voice): a comma list of stun:/turn: URLs, or a JSON
  // array of RTCIceServer objects when a TURN server needs a username and credential. Empty: host
  // candidates only, enough on one network.
  WEBRTC_ICE_SERVERS: z.string().optional(),
  // SMTP-in (mail forwarded to Switchboard): runs in demo mode, or wherever SMTP_IN_PORT is set.
  SMTP_IN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  SMTP_IN_HOST: z.string().min(1).default("127.0.0.1"),
  // IMAP import of email inboxes' mailboxes ("0" turns it off on a node, e.g. all but one of a cluster).
  IMAP_IMPORT: z.enum(["0", "1"]).default("1"),
  // How often each node looks for satisfaction surveys due to be sent (csat/survey.ts).
  CSAT_SWEEP_MS: z.coerce.number().int().min(100).default(10_000),
  // How often each node looks for time-based automation rules' idle subjects (automation/listeners.ts).
  AUTOMATION_SWEEP_MS: z.coerce.number().int().min(50).default(30_000),
  // How often each node marks SLA clocks that reached their warning share or their due time (sla/sweep.ts).
  SLA_SWEEP_MS: z.coerce.number().int().min(50).default(5_000),
  // How often each node re-derives the report facts of recently changed conversations (reports/listeners.ts).
  REPORTS_SWEEP_MS: z.coerce.number().int().min(50).default(10_000),
  // How often each node scores conversations a lost bus message left unscored, and transcribes recorded
  // calls (quality/listeners.ts).
  QA_SWEEP_MS: z.coerce.number().int().min(50).default(60_000),
  // The speech-to-text provider for recorded calls without Twilio's transcript (quality/transcription.ts);
  // unset: nothing is transcribed.
  TRANSCRIPTION_PROVIDER: z.string().min(1).optional(),
  // How often each node looks for scheduled report e-mails that are due (reports/schedule-sweep.ts).
  REPORT_SCHEDULE_SWEEP_MS: z.coerce.number().int().min(50).default(60_000),
  // How often each node finishes erasures a crash left pending and deletes conversations past their
  // workspace's retention period (privacy/sweep.ts).
  ERASURE_SWEEP_MS: z.coerce.number().int().min(50).default(30_000),
});

const IceUrl = z
  .string()
  .regex(/^(stun|stuns|turn|turns):\S+$/, "each URL must start with stun:, stuns:, turn: or turns:");
const IceServers = z.array(
  z
    .object({
      urls: z.union([IceUrl, z.array(IceUrl).min(1)]),
      username: z.string().optional(),
      credential: z.string().optional(),
    })
    .strict(),
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
  secretKeyPrevious: string | undefined;
  publicUrl: string | undefined;
  logLevel: z.infer<typeof LogLevel>;
  demo: boolean;
  widgetIpRate: number;
  /** Open widget sockets per visitor and per client IP on one node; events one widget replay may hold. */
  widgetSockets: { perVisitor: number; perIp: number; replayLimit: number };
  /** Trusted reverse-proxy hops in front of this node (0: none); see apps/server/client-ip.ts. */
  trustProxy: number;
  /** Anonymous upload quotas in bytes per 24 hours, and the age at which unattached uploads go. */
  uploads: { visitorBytes: number; ipBytes: number; workspaceBytes: number; orphanAfterMs: number };
  login: {
    ipPerMinute: number;
    accountIpFailuresPerHour: number;
    accountFailuresPerHour: number;
    concurrentHashes: number;
  };
  help: { gapsPerMinute: number; viewWindowMs: number };
  visitorTokenDays: number;
  metricsToken: string | undefined;
  /** Hosts (names or IP literals, lower case) server-side fetches may reach although private. */
  outboundAllowHosts: string[];
  autoAccept: ("voice" | "chat" | "email" | "messaging")[];
  iceServers: IceServer[];
  /** Twilio auth token for voice inboxes without their own; "demo-twilio-token" in demo mode. */
  twilioAuthToken: string | undefined;
  /** TWILIO_API_BASE (else TWILIO_API_BASE_URL) without a trailing slash; unset: Twilio's own host. */
  twilioApiBaseUrl: string | undefined;
  /** SLACK_API_BASE without a trailing slash; unset: https://slack.com (paths `/api/<method>`). */
  slackApiBase: string | undefined;
  /** TELEGRAM_API_BASE without a trailing slash; unset: https://api.telegram.org (`/bot<token>/<method>`). */
  telegramApiBase: string | undefined;
  /** WECHAT_API_BASE without a trailing slash; unset: WeChat's own host. */
  wechatApiBase: string | undefined;
  /** WECOM_API_BASE without a trailing slash; unset: WeCom's own host (customer service, `/cgi-bin/kf/...`). */
  wecomApiBase: string | undefined;
  /** SMTP-in listener, when it runs: SMTP_IN_PORT (default 2525) on SMTP_IN_HOST (default loopback). */
  smtpIn: { port: number; host: string } | undefined;
  imapImport: boolean;
  /** CSAT_SWEEP_MS: the pause between passes of the survey sweep. */
  csatSweepMs: number;
  /** AUTOMATION_SWEEP_MS: the pause between passes of the time-based rules' sweep. */
  automationSweepMs: number;
  /** SLA_SWEEP_MS: the pause between passes of the SLA sweep (warnings and breaches). */
  slaSweepMs: number;
  /** REPORTS_SWEEP_MS: the pause between passes of the report facts' reconciling sweep. */
  reportsSweepMs: number;
  /** QA_SWEEP_MS: the pause between passes of the QA sweep (stale scores, transcriptions). */
  qaSweepMs: number;
  /** TRANSCRIPTION_PROVIDER: the registered speech-to-text provider's name, if any. */
  transcriptionProvider: string | undefined;
  /** REPORT_SCHEDULE_SWEEP_MS: the pause between passes of the scheduled report e-mails' sweep. */
  reportScheduleSweepMs: number;
  /** ERASURE_SWEEP_MS: the pause between passes of the privacy sweep (unfinished erasures, retention). */
  erasureSweepMs: number;
};

const MB = 1024 * 1024;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid environment variable ${variable}: ${detail}`);
  }
}

function providerHosts(bases: (string | undefined)[]) {
  return bases.filter((b): b is string => !!b).map((b) => new URL(b).hostname.toLowerCase().replace(/^\[|\]$/g, ""));
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
  if (e.DATABASE_URL && !e.SECRET_KEY)
    throw new ConfigError(
      "SECRET_KEY",
      "must be set on PostgreSQL (DATABASE_URL is set): every node and every restart needs the same key",
    );
  const demo = e.SWITCHBOARD_DEMO ? e.SWITCHBOARD_DEMO === "1" : !e.DATABASE_URL;
  const twilioApiBase = (e.TWILIO_API_BASE ?? e.TWILIO_API_BASE_URL)?.replace(/\/$/, "");
  const iceServers = parseIceServers(e.WEBRTC_ICE_SERVERS);
  if (typeof iceServers === "string") throw new ConfigError("WEBRTC_ICE_SERVERS", iceServers);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    meili: e.MEILI_HOST ? { host: e.MEILI_HOST, key: e.MEILI_KEY } : undefined,
    secretKey: e.SECRET_KEY,
    secretKeyPrevious: e.SECRET_KEY_PREVIOUS,
    publicUrl: e.PUBLIC_URL?.replace(/\/$/, ""),
    logLevel: e.LOG_LEVEL,
    demo,
    widgetIpRate: e.WIDGET_IP_RATE,
    widgetSockets: {
      perVisitor: e.WIDGET_SOCKETS_PER_VISITOR,
      perIp: e.WIDGET_SOCKETS_PER_IP,
      replayLimit: e.WIDGET_REPLAY_LIMIT,
    },
    trustProxy: e.TRUST_PROXY,
    uploads: {
      visitorBytes: e.UPLOAD_VISITOR_MB * MB,
      ipBytes: e.UPLOAD_IP_MB * MB,
      workspaceBytes: e.UPLOAD_WORKSPACE_MB * MB,
      orphanAfterMs: e.UPLOAD_ORPHAN_HOURS * 3_600_000,
    },
    login: {
      ipPerMinute: e.LOGIN_IP_PER_MINUTE,
      accountIpFailuresPerHour: e.LOGIN_ACCOUNT_IP_FAILURES_PER_HOUR,
      accountFailuresPerHour: e.LOGIN_ACCOUNT_FAILURES_PER_HOUR,
      concurrentHashes: e.LOGIN_CONCURRENT_HASHES,
    },
    help: { gapsPerMinute: e.HELP_GAPS_PER_MINUTE, viewWindowMs: e.HELP_VIEW_WINDOW_MINUTES * 60_000 },
    visitorTokenDays: e.VISITOR_TOKEN_DAYS,
    metricsToken: e.METRICS_TOKEN,
    outboundAllowHosts: [
      ...(e.OUTBOUND_ALLOW_HOSTS ? e.OUTBOUND_ALLOW_HOSTS.toLowerCase().split(",") : []),
      // A provider's API base is where its files are fetched from (a Twilio MediaUrl, a Slack file's
      // url_private): an operator who points it at a private host means that host.
      ...providerHosts([twilioApiBase, e.SLACK_API_BASE, e.TELEGRAM_API_BASE]),
    ],
    twilioAuthToken: e.TWILIO_AUTH_TOKEN ?? (demo ? "demo-twilio-token" : undefined),
    twilioApiBaseUrl: twilioApiBase,
    slackApiBase: e.SLACK_API_BASE?.replace(/\/$/, ""),
    telegramApiBase: e.TELEGRAM_API_BASE?.replace(/\/$/, ""),
    wechatApiBase: e.WECHAT_API_BASE?.replace(/\/$/, ""),
    wecomApiBase: e.WECOM_API_BASE?.replace(/\/$/, ""),
    autoAccept: e.ROUTING_AUTO_ACCEPT ? (e.ROUTING_AUTO_ACCEPT.split(",") as Config["autoAccept"]) : [],
    iceServers,
    smtpIn: e.SMTP_IN_PORT !== undefined || demo ? { port: e.SMTP_IN_PORT ?? 2525, host: e.SMTP_IN_HOST } : undefined,
    imapImport: e.IMAP_IMPORT === "1",
    csatSweepMs: e.CSAT_SWEEP_MS,
    automationSweepMs: e.AUTOMATION_SWEEP_MS,
    slaSweepMs: e.SLA_SWEEP_MS,
    reportsSweepMs: e.REPORTS_SWEEP_MS,
    qaSweepMs: e.QA_SWEEP_MS,
    transcriptionProvider: e.TRANSCRIPTION_PROVIDER,
    reportScheduleSweepMs: e.REPORT_SCHEDULE_SWEEP_MS,
    erasureSweepMs: e.ERASURE_SWEEP_MS,
  };
}
