/**
 * The Switchboard web chat widget. Embedded with
 * `<script src="https://HOST/widget.js" data-inbox="PUBLIC_KEY" async></script>`, it renders a chat
 * bubble and panel in a shadow root and exposes `window.Switchboard` to the host page.
 */
import { Widget, type Config, type EventName, type Listener, type User } from "./chat.ts";

const globals = window as Window & { Switchboard?: unknown };

/** The embedding script tag; `document.currentScript` is only set while this file first runs. */
function findScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.inbox) return current;
  return document.querySelector<HTMLScriptElement>("script[data-inbox]");
}

function readConfig(script: HTMLScriptElement | null): Config | null {
  const inboxKey = script?.dataset.inbox;
  if (!script || !inboxKey) return null;
  const apiBase = script.dataset.api || new URL(script.src || location.href).origin;
  return { inboxKey, apiBase: apiBase.replace(/\/+$/, ""), locale: script.dataset.locale };
}

function publicApi(widget: Widget) {
  return {
    open: () => widget.open(),
    close: () => widget.close(),
    toggle: () => widget.toggle(),
    setUser: (user: User) => widget.setUser(user),
    setLocale: (locale: string) => widget.setLocale(locale),
    on: (event: EventName, fn: Listener) => widget.on(event, fn),
    off: (event: EventName, fn: Listener) => widget.off(event, fn),
  };
}

/** Replays calls the host page queued before this script loaded: `[[method, ...args], ...]`. */
function replay(queue: unknown, api: ReturnType<typeof publicApi>) {
  if (!queue || typeof queue !== "object" || typeof (queue as ArrayLike<unknown>).length !== "number") return;
  for (const call of Array.from(queue as ArrayLike<unknown>)) {
    // Loader snippets often queue their `arguments` object rather than an array.
    if (!call || typeof call !== "object") continue;
    const [method, ...args] = Array.from(call as ArrayLike<unknown>);
    if (typeof method === "string" && Object.hasOwn(api, method)) {
      (api[method as keyof typeof api] as (...a: unknown[]) => unknown)(...args);
    }
  }
}

function boot(config: Config) {
  const widget = new Widget(config);
  const api = publicApi(widget);
  const queue = globals.Switchboard;
  globals.Switchboard = api;
  replay(queue, api);
  void widget.start();
}

const config = readConfig(findScript());
const installed = typeof (globals.Switchboard as { open?: unknown } | undefined)?.open === "function";
if (!config) {
  console.error("[switchboard] the widget script tag needs a data-inbox attribute");
} else if (!installed) {
  // An async script can run before <body> exists; the widget is appended to it.
  if (document.body) boot(config);
  else document.addEventListener("DOMContentLoaded", () => boot(config));
}
