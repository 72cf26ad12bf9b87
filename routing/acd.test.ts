import { channels } from "../db/schema/inbox.ts";
import { describe, expect, it } from "bun:test";
import {
  canTake,
  channelClass,
  DEFAULT_CAPACITY,
  effectivePriority,
  orderQueue,
  pickAgent,
  route,
  skillScore,
  type Agent,
  type ChannelClass,
  type Match,
  type Presence,
  type RoutingOptions,
  type WorkItem,
} from "./acd.ts";
import { mulberry32 } from "./planner.ts";

const MINUTE = 60_000;
const NOW = 1_700_000_000_000;
const AGING: RoutingOptions = { agingPerMinute: 1 };
const CLASSES: ChannelClass[] = ["voice", "chat", "email", "messaging"];

function item(id: string, over: Partial<WorkItem> = {}): WorkItem {
  return { id, queueId: "support", channel: "webchat", priority: 0, enqueuedAt: NOW, requiredSkills: [], ...over };
}

function agent(id: string, over: Partial<Agent> = {}): Agent {
  return {
    id,
    presence: "available",
    skills: {},
    capacity: { ...DEFAULT_CAPACITY },
    load: { voice: 0, chat: 0, email: 0, messaging: 0 },
    idleSince: NOW - 10 * MINUTE,
    ...over,
  };
}

const withLoad = (a: Agent, load: Partial<Agent["load"]>): Agent => ({ ...a, load: { ...a.load, ...load } });

describe("channel classes", () => {
  it("counts each product channel against the capacity of its class", () => {
    expect(
      ["voice", "webchat", "email", "wechat", "slack", "sms", "whatsapp", "telegram", "api"].map(channelClass),
    ).toEqual(["voice", "chat", "email", "messaging", "messaging", "messaging", "messaging", "messaging", "messaging"]);
    // Every channel an inbox can have is routable.
    for (const channel of channels) expect(() => channelClass(channel)).not.toThrow();
  });

  it("refuses a channel it does not know rather than guessing its class", () => {
    expect(() => channelClass("fax")).toThrow(/Unknown channel "fax"/);
    expect(() => channelClass("toString")).toThrow();
  });
});

describe("queue order", () => {
  it("offers new VIP work before older normal work while the normal work is within the aging horizon", () => {
    const normal = item("normal", { priority: 0, enqueuedAt: NOW - 5 * MINUTE });
    const vip = item("vip", { priority: 10, enqueuedAt: NOW });
    expect(orderQueue([normal, vip], NOW, AGING).map((i) => i.id)).toEqual(["vip", "normal"]);
  });

  it("never starves normal work: after enough minutes it outranks a VIP who just arrived", () => {
    const normal = item("normal", { priority: 0, enqueuedAt: NOW - 11 * MINUTE });
    const vip = item("vip", { priority: 10, enqueuedAt: NOW });
    expect(effectivePriority(normal, NOW, AGING)).toBe(11);
    expect(effectivePriority(vip, NOW, AGING)).toBe(10);
    expect(orderQueue([vip, normal], NOW, AGING).map((i) => i.id)).toEqual(["normal", "vip"]);
  });

  it("ages at the configured rate", () => {
    expect(
      effectivePriority(item("a", { priority: 2, enqueuedAt: NOW - 3 * MINUTE }), NOW, { agingPerMinute: 0.5 }),
    ).toBe(3.5);
  });

  it("breaks ties by time waited, then by id, whatever order the items came in", () => {
    const items = [
      item("b", { enqueuedAt: NOW - MINUTE }),
      item("c", { priority: 1, enqueuedAt: NOW }),
      item("a", { enqueuedAt: NOW - MINUTE }),
    ];
    // c (1 + 0) ties with a and b (0 + 1) on effective priority; a and b waited longer.
    expect(orderQueue(items, NOW, AGING).map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(orderQueue([...items].reverse(), NOW, AGING).map((i) => i.id)).toEqual(["a", "b", "c"]);
  });

  it("does not reorder the caller's array", () => {
    const items = [item("late", { enqueuedAt: NOW }), item("early", { enqueuedAt: NOW - MINUTE })];
    orderQueue(items, NOW, AGING);
    expect(items.map((i) => i.id)).toEqual(["late", "early"]);
  });
});

describe("eligibility", () => {
  it("routes to available agents and to busy agents with room left in that channel", () => {
    const chat = item("chat");
    expect(canTake(agent("free"), chat)).toBe(true);
    expect(canTake(withLoad(agent("busy", { presence: "busy" }), { chat: 2 }), chat)).toBe(true);
  });

  it("never picks an agent who is away, in wrap-up or offline", () => {
    const chat = item("chat");
    for (const presence of ["away", "wrap_up", "offline"] as Presence[]) {
      const a = agent(presence, { presence });
      expect(canTake(a, chat)).toBe(false);
      expect(pickAgent(chat, [a], NOW)).toBeUndefined();
      expect(route([chat], [a], NOW)).toEqual([]);
    }
  });

  it("respects each required skill's minimum level", () => {
    const billing = item("billing", { requiredSkills: [{ skill: "billing", minLevel: 3 }] });
    expect(canTake(agent("junior", { skills: { billing: 2 } }), billing)).toBe(false);
    expect(canTake(agent("exact", { skills: { billing: 3 } }), billing)).toBe(true);
    expect(canTake(agent("none"), billing)).toBe(false);
    expect(canTake(agent("plain"), item("odd", { requiredSkills: [{ skill: "constructor", minLevel: 1 }] }))).toBe(
      false,
    );
    const both = item("both", {
      requiredSkills: [
        { skill: "billing", minLevel: 1 },
        { skill: "中文", minLevel: 2 },
      ],
    });
    expect(canTake(agent("one of two", { skills: { billing: 5 } }), both)).toBe(false);
    expect(canTake(agent("both", { skills: { billing: 1, 中文: 2 } }), both)).toBe(true);
  });

  it("lets an agent hold three chats but not a fourth", () => {
    const a = agent("a");
    expect(canTake(withLoad(a, { chat: 2 }), item("third"))).toBe(true);
    expect(canTake(withLoad(a, { chat: 3 }), item("fourth"))).toBe(false);
    // Capacity is per class: a full chat load leaves room for email.
    expect(canTake(withLoad(a, { chat: 3 }), item("mail", { channel: "email" }))).toBe(true);
  });

  it("counts every messaging channel against one capacity", () => {
    const a = withLoad(agent("a"), { messaging: 4 });
    for (const channel of ["wechat", "slack", "sms", "whatsapp"])
      expect(canTake(a, item(channel, { channel }))).toBe(false);
  });

  it("keeps voice exclusive: no call for an agent holding anything, nothing else for an agent on a call", () => {
    const call = item("call", { channel: "voice" });
    expect(canTake(agent("idle"), call)).toBe(true);
    expect(canTake(withLoad(agent("one email"), { email: 1 }), call)).toBe(false);
    const onCall = withLoad(agent("on call", { presence: "busy" }), { voice: 1 });
    expect(canTake(onCall, call)).toBe(false);
    for (const channel of ["webchat", "email", "sms"]) expect(canTake(onCall, item(channel, { channel }))).toBe(false);
  });

  it("treats a channel class missing from stored capacity as no capacity", () => {
    const a = agent("a", { capacity: { voice: 1, chat: 3, email: 5 } as Agent["capacity"] });
    expect(canTake(a, item("sms", { channel: "sms" }))).toBe(false);
  });
});

describe("choosing the agent", () => {
  it("scores how far an agent exceeds the minimum levels, and 0 when no skill is required", () => {
    const a = agent("a", { skills: { billing: 5, 中文: 3 } });
    expect(
      skillScore(
        a,
        item("x", {
          requiredSkills: [
            { skill: "billing", minLevel: 3 },
            { skill: "中文", minLevel: 1 },
          ],
        }),
      ),
    ).toBe(4);
    expect(skillScore(a, item("y"))).toBe(0);
  });

  it("prefers the higher skill level over the longer idle agent", () => {
    const billing = item("billing", { requiredSkills: [{ skill: "billing", minLevel: 2 }] });
    const senior = agent("senior", { skills: { billing: 5 }, idleSince: NOW - MINUTE });
    const junior = agent("junior", { skills: { billing: 2 }, idleSince: NOW - 60 * MINUTE });
    expect(pickAgent(billing, [junior, senior], NOW)?.id).toBe("senior");
  });

  it("among equals, offers the work to the agent idle the longest, then to the least occupied", () => {
    const chat = item("chat");
    const recent = agent("recent", { idleSince: NOW - MINUTE });
    const longest = agent("longest", { idleSince: NOW - 30 * MINUTE });
    expect(pickAgent(chat, [recent, longest], NOW)?.id).toBe("longest");
    const heavier = withLoad(agent("heavier", { presence: "busy" }), { chat: 2 });
    const lighter = withLoad(agent("lighter", { presence: "busy" }), { chat: 1 });
    expect(pickAgent(chat, [heavier, lighter], NOW)?.id).toBe("lighter");
    expect(pickAgent(chat, [agent("b"), agent("a")], NOW)?.id).toBe("a");
  });

  it("prefers the sticky agent while the window is open, and ranks normally after it closes", () => {
    const returning = item("returning", { stickyAgentId: "usual", stickyUntil: NOW + MINUTE });
    const usual = agent("usual", { idleSince: NOW });
    const other = agent("other", { idleSince: NOW - 60 * MINUTE });
    expect(pickAgent(returning, [other, usual], NOW)?.id).toBe("usual");
    expect(route([returning], [other, usual], NOW)).toEqual([{ itemId: "returning", agentId: "usual" }]);
    const later = NOW + MINUTE;
    expect(pickAgent(returning, [other, usual], later)?.id).toBe("other");
    expect(route([returning], [other, usual], later)).toEqual([{ itemId: "returning", agentId: "other" }]);
  });

  it("holds work for a sticky agent who is busy or wrapping up while the window is open, then lets it go", () => {
    const returning = item("returning", { stickyAgentId: "usual", stickyUntil: NOW + MINUTE });
    const full = agent("usual", { presence: "busy", load: { voice: 0, chat: 3, email: 0, messaging: 0 } });
    const wrapping = agent("usual", { presence: "wrap_up" });
    for (const usual of [full, wrapping]) {
      expect(pickAgent(returning, [usual, agent("other")], NOW)).toBeUndefined();
      expect(route([returning], [usual, agent("other")], NOW)).toEqual([]);
      expect(route([returning], [usual, agent("other")], NOW + MINUTE)).toEqual([
        { itemId: "returning", agentId: "other" },
      ]);
    }
    // Work the sticky agent could never do does not wait for them.
    const skilled = item("skilled", {
      stickyAgentId: "usual",
      stickyUntil: NOW + MINUTE,
      requiredSkills: [{ skill: "billing", minLevel: 5 }],
    });
    expect(route([skilled], [full, agent("other", { skills: { billing: 5 } })], NOW)).toEqual([
      { itemId: "skilled", agentId: "other" },
    ]);
  });

  it("skips a sticky agent who cannot take the item now", () => {
    const returning = item("returning", { stickyAgentId: "usual", stickyUntil: NOW + MINUTE });
    const usual = agent("usual", { presence: "away" });
    expect(pickAgent(returning, [usual, agent("other")], NOW)?.id).toBe("other");
    expect(route([returning], [usual, agent("other")], NOW)).toEqual([{ itemId: "returning", agentId: "other" }]);
  });
});

describe("route", () => {
  it("offers a VIP call to the senior agent before older normal calls", () => {
    const items = [
      item("normal", { channel: "voice", enqueuedAt: NOW - 2 * MINUTE }),
      item("vip", { channel: "voice", priority: 10, requiredSkills: [{ skill: "billing", minLevel: 1 }] }),
    ];
    // One senior agent free: whoever is first in the queue gets them.
    expect(route(items, [agent("senior", { skills: { billing: 5 } })], NOW, AGING)).toEqual([
      { itemId: "vip", agentId: "senior" },
    ]);
  });

  it("routes a chat waiting behind a call nobody can take", () => {
    const items = [item("call", { channel: "voice", priority: 5 }), item("chat")];
    const agents = [withLoad(agent("chatting", { presence: "busy" }), { chat: 1 })];
    expect(route(items, agents, NOW)).toEqual([{ itemId: "chat", agentId: "chatting" }]);
  });

  it("fills an agent up to capacity and no further within one pass", () => {
    const chats = ["1", "2", "3", "4"].map((id) => item(id, { enqueuedAt: NOW - Number(id) }));
    const matches = route(chats, [agent("a")], NOW);
    expect(matches.map((m) => m.agentId)).toEqual(["a", "a", "a"]);
    expect(matches.map((m) => m.itemId)).toEqual(["4", "3", "2"]);
  });

  it("gives one agent a call or chats, never both, in one pass", () => {
    const matches = route([item("call", { channel: "voice", priority: 1 }), item("chat")], [agent("a")], NOW);
    expect(matches).toEqual([{ itemId: "call", agentId: "a" }]);
  });

  it("offers an item listed twice only once", () => {
    const chat = item("chat");
    expect(route([chat, chat], [agent("a"), agent("b")], NOW)).toHaveLength(1);
  });

  it("leaves its inputs untouched", () => {
    const items = [item("call", { channel: "voice" }), item("chat")];
    const agents = [agent("a"), agent("b", { presence: "busy" })];
    const before = structuredClone({ items, agents });
    route(items, agents, NOW);
    expect({ items, agents }).toEqual(before);
  });

  describe("over random inputs", () => {
    const SKILLS = ["billing", "tech", "中文", "vip"];
    const CHANNELS = ["voice", "webchat", "email", "wechat", "slack", "sms", "whatsapp"];
    const PRESENCES: Presence[] = ["available", "busy", "away", "wrap_up", "offline"];

    function randomCase(seed: number) {
      const random = mulberry32(seed);
      const int = (n: number) => Math.floor(random() * n);
      const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
      const agents: Agent[] = [];
      for (let i = 0, n = 1 + int(12); i < n; i++) {
        const skills: Record<string, number> = {};
        for (const s of SKILLS) if (random() < 0.5) skills[s] = 1 + int(5);
        const capacity = { voice: int(2), chat: int(4), email: int(6), messaging: int(5) };
        const load = { voice: 0, chat: 0, email: 0, messaging: 0 };
        if (capacity.voice && random() < 0.2) load.voice = 1;
        else for (const c of ["chat", "email", "messaging"] as const) load[c] = int(capacity[c] + 1);
        agents.push({
          // Few distinct idle times and ids out of order, so the tie-breaks are exercised.
          id: `agent-${int(1000)}-${i}`,
          presence: pick(PRESENCES),
          skills,
          capacity,
          load,
          idleSince: NOW - int(4) * MINUTE,
        });
      }
      const items: WorkItem[] = [];
      for (let i = 0, n = int(40); i < n; i++) {
        const requiredSkills = SKILLS.filter(() => random() < 0.25).map((skill) => ({ skill, minLevel: 1 + int(4) }));
        const sticky = random() < 0.3 ? pick(agents).id : null;
        items.push({
          id: `item-${i}`,
          queueId: "q",
          channel: pick(CHANNELS),
          priority: int(3) * 5,
          enqueuedAt: NOW - int(20) * MINUTE,
          requiredSkills,
          stickyAgentId: sticky,
          stickyUntil: sticky ? NOW + (random() < 0.5 ? MINUTE : -MINUTE) : null,
        });
      }
      return { agents, items };
    }

    /** The definition route() must agree with: pickAgent for each item in queue order, loads updated as it goes. */
    function routeOneByOne(items: WorkItem[], agents: Agent[]): Match[] {
      const current = agents.map((a) => structuredClone(a));
      const matches: Match[] = [];
      for (const it of orderQueue(items, NOW, AGING)) {
        const chosen = pickAgent(it, current, NOW);
        if (!chosen) continue;
        chosen.load[channelClass(it.channel)] += 1;
        chosen.presence = "busy";
        matches.push({ itemId: it.id, agentId: chosen.id });
      }
      return matches;
    }

    const CASES = 2000;

    it("never gives an agent more than its capacity, never breaks voice exclusivity, never assigns an item twice", () => {
      for (let seed = 1; seed <= CASES; seed++) {
        const { agents, items } = randomCase(seed);
        const matches = route(items, agents, NOW, AGING);
        const itemIds = matches.map((m) => m.itemId);
        expect(new Set(itemIds).size).toBe(itemIds.length);
        const byId = new Map(agents.map((a) => [a.id, structuredClone(a)]));
        const itemsById = new Map(items.map((i) => [i.id, i]));
        for (const m of matches) {
          const a = byId.get(m.agentId)!;
          const it = itemsById.get(m.itemId)!;
          // Each offer was one the agent could take given the offers made before it.
          expect(canTake(a, it)).toBe(true);
          a.load[channelClass(it.channel)] += 1;
        }
        for (const a of byId.values()) {
          for (const c of CLASSES) expect(a.load[c]).toBeLessThanOrEqual(a.capacity[c]);
          if (a.load.voice) expect(a.load.chat + a.load.email + a.load.messaging).toBe(0);
        }
        // Greedy leaves nothing on the table: whatever stayed unrouted no one can take now — except
        // work held for its sticky agent, who is signed in and able but has no room yet.
        const routed = new Set(itemIds);
        const heldForSticky = (it: WorkItem) => {
          const sticky =
            it.stickyAgentId && it.stickyUntil && NOW < it.stickyUntil ? byId.get(it.stickyAgentId) : undefined;
          return (
            !!sticky &&
            ["available", "busy", "wrap_up"].includes(sticky.presence) &&
            it.requiredSkills.every((r) => (sticky.skills[r.skill] ?? 0) >= r.minLevel)
          );
        };
        for (const it of items)
          if (!routed.has(it.id) && !heldForSticky(it))
            expect([...byId.values()].some((a) => canTake(a, it))).toBe(false);
      }
    });

    it("decides exactly as pickAgent would, item by item in queue order", () => {
      for (let seed = 1; seed <= CASES; seed++) {
        const { agents, items } = randomCase(seed);
        expect(route(items, agents, NOW, AGING)).toEqual(routeOneByOne(items, agents));
      }
    });
  });

  it("routes 10,000 items over 2,000 agents in milliseconds", () => {
    const random = mulberry32(42);
    const int = (n: number) => Math.floor(random() * n);
    const SKILLS = Array.from({ length: 20 }, (_, i) => `skill-${i}`);
    const CHANNELS = ["voice", "webchat", "email", "whatsapp"];
    const agents: Agent[] = Array.from({ length: 2000 }, (_, i) => {
      const skills: Record<string, number> = {};
      for (let k = 0; k < 4; k++) skills[SKILLS[int(SKILLS.length)]!] = 1 + int(5);
      return agent(`agent-${i}`, {
        skills,
        presence: random() < 0.8 ? "available" : "away",
        idleSince: NOW - int(3_600_000),
      });
    });
    const items: WorkItem[] = Array.from({ length: 10_000 }, (_, i) =>
      item(`item-${i}`, {
        channel: CHANNELS[int(CHANNELS.length)]!,
        priority: int(3) * 5,
        enqueuedAt: NOW - int(3_600_000),
        requiredSkills: random() < 0.2 ? [] : [{ skill: SKILLS[int(SKILLS.length)]!, minLevel: 1 + int(3) }],
        // Some work nobody can do: the ACD must skip it cheaply.
        ...(random() < 0.1 ? { requiredSkills: [{ skill: "klingon", minLevel: 1 }] } : {}),
      }),
    );
    route(items, agents, NOW); // warm-up
    const started = performance.now();
    const matches = route(items, agents, NOW);
    const ms = performance.now() - started;
    console.log(
      `route: ${items.length} items × ${agents.length} agents → ${matches.length} offers in ${ms.toFixed(1)} ms`,
    );
    expect(matches.length).toBeGreaterThan(0);
  });
});
