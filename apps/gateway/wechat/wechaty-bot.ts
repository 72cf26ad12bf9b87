import { FileBox } from "file-box";
import { WechatyBuilder, type Message, type Wechaty } from "wechaty";
import type { WechatyMessageFacts, WechatyTarget } from "../../../channels/wechat/wechaty-inbound.ts";
import { scanStatusName, type WechatySession } from "../../../channels/wechat/wechaty-session.ts";

/** What a Wechaty inbox runs with: its puppet (a module name) and the puppet's token. */
export type WechatyBotSetup = { inboxId: string; workspaceId: string; puppet: string; token?: string };

/** Builds the Wechaty of an inbox; tests give one that runs wechaty-puppet-mock. */
export type WechatyFactory = (setup: WechatyBotSetup) => Wechaty;

/**
 * No `name`: a named Wechaty keeps a memory card as a file in the working directory, which a server
 * must not litter; the puppet's login lives with the puppet service.
 */
export const buildWechaty: WechatyFactory = (setup) =>
  WechatyBuilder.build({ puppet: setup.puppet as never, puppetOptions: setup.token ? { token: setup.token } : {} });

export type RoomMember = { id: string; name: string };

/** A media message's file, fetched from the puppet only when the message is stored. */
export type WechatyFile = { name: string; contentType: string; bytes: Uint8Array };

/** wechaty-puppet's message types whose file the timeline shows: attachment, audio, image, video. */
const DOWNLOADED_TYPES = new Set([1, 2, 6, 15]);

export type WechatyBotEvents = {
  /** The session changed (scan, login, logout); the runner stores it for every node. */
  session(patch: Partial<WechatySession>): void;
  /** A message reached the bot; a room's message comes with the room's members (the bot excluded). */
  message(
    facts: WechatyMessageFacts,
    members: RoomMember[] | undefined,
    file: (() => Promise<WechatyFile>) | undefined,
  ): Promise<void>;
  /** The puppet failed or logged out: the runner restarts the bot after a while. */
  failed(err: unknown, status: "error" | "logged_out"): void;
  loggedIn(): void;
};

/** How long a room's member list is trusted before it is read again. */
const MEMBERS_TTL_MS = 5 * 60_000;
/** A puppet that does not stop (puppet-service waiting on its gRPC peer) is left behind after this. */
const STOP_TIMEOUT_MS = 5000;

/** One inbox's Wechaty bot: the puppet's events in, `say` out. */
export class WechatyBot {
  private bot: Wechaty | undefined;
  private readonly members = new Map<string, { at: number; list: RoomMember[] }>();

  constructor(
    readonly setup: WechatyBotSetup,
    private readonly build: WechatyFactory,
    private readonly events: WechatyBotEvents,
  ) {}

  get loggedIn() {
    return !!this.bot?.isLoggedIn;
  }

  async start() {
    const bot = this.build(this.setup);
    this.bot = bot;
    const live = () => this.bot === bot;
    bot.on("scan", (qrcode, status) => {
      if (live()) this.events.session({ status: "scan", qrcode, scanStatus: scanStatusName(status) });
    });
    bot.on("login", (user) => {
      if (!live()) return;
      this.events.session({
        status: "logged_in",
        user: { id: user.id, name: user.name() || user.id },
        qrcode: null,
        scanStatus: null,
        lastError: null,
      });
      this.events.loggedIn();
    });
    bot.on("logout", () => {
      if (live()) this.events.failed(new Error("The WeChat account logged out"), "logged_out");
    });
    bot.on("error", (err) => {
      // Errors after login are often passing (a failed download); before it the puppet cannot work.
      if (live() && !bot.isLoggedIn) this.events.failed(err, "error");
    });
    bot.on("message", (message) => {
      if (live()) void this.received(message).catch((err) => this.events.failed(err, "error"));
    });
    bot.on("room-join", (room) => {
      this.members.delete(room.id);
    });
    bot.on("room-leave", (room) => {
      this.members.delete(room.id);
    });
    await bot.start();
  }

  async stop() {
    const bot = this.bot;
    this.bot = undefined;
    if (!bot) return;
    await Promise.race([bot.stop().catch(() => {}), Bun.sleep(STOP_TIMEOUT_MS)]);
  }

  private async received(message: Message) {
    const talker = message.talker();
    const room = message.room();
    const facts: WechatyMessageFacts = {
      id: message.id,
      type: message.type(),
      text: message.text(),
      self: message.self(),
      talker: { id: talker.id, name: talker.name() },
      room: room ? { id: room.id, topic: await room.topic() } : undefined,
      sentAt: message.date(),
    };
    if (facts.self) return;
    const file = DOWNLOADED_TYPES.has(facts.type)
      ? async () => {
          const box = await message.toFileBox();
          return { name: box.name, contentType: box.mediaType, bytes: await box.toBuffer() };
        }
      : undefined;
    await this.events.message(facts, room ? await this.membersOf(room) : undefined, file);
  }

  private async membersOf(room: NonNullable<ReturnType<Message["room"]>>): Promise<RoomMember[]> {
    const known = this.members.get(room.id);
    if (known && Date.now() - known.at < MEMBERS_TTL_MS) return known.list;
    const self = this.bot?.isLoggedIn ? this.bot.currentUser.id : undefined;
    const list = (await room.memberAll())
      .filter((c) => c.id !== self)
      .map((c) => ({ id: c.id, name: c.name() || c.id }));
    this.members.set(room.id, { at: Date.now(), list });
    return list;
  }

  /**
   * Says `text`, then sends each file, in the target chat; the first message's id when the puppet tells
   * it. Files go as base64 FileBoxes: puppets serialize what they send, and a buffer FileBox cannot be.
   */
  async say(
    target: WechatyTarget,
    text: string | null,
    files: { name: string; bytes: Uint8Array }[] = [],
  ): Promise<string | undefined> {
    const bot = this.bot;
    if (!bot) throw new Error("The WeChat bot is not running");
    const chat =
      target.kind === "room" ? await bot.Room.find({ id: target.id }) : await bot.Contact.find({ id: target.id });
    if (!chat) throw new Error(`The bot cannot find this WeChat ${target.kind === "room" ? "group" : "contact"}`);
    const ids: (string | undefined)[] = [];
    if (text) ids.push((await chat.say(text))?.id);
    for (const file of files)
      ids.push((await chat.say(FileBox.fromBase64(Buffer.from(file.bytes).toString("base64"), file.name)))?.id);
    return ids.find(Boolean);
  }
}
