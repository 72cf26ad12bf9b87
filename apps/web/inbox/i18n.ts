import { createContext, useContext } from "react";
import { catalog, type MessageKey } from "./catalog.ts";

export type Locale = keyof typeof catalog;
export const locales = Object.keys(catalog) as Locale[];
const LOCALE_KEY = "sb.locale";

export function initialLocale(): Locale {
  const saved = localStorage.getItem(LOCALE_KEY);
  if (saved && saved in catalog) return saved as Locale;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function saveLocale(locale: Locale) {
  localStorage.setItem(LOCALE_KEY, locale);
  document.documentElement.lang = locale;
}

/** `{name}` placeholders are filled from vars; a missing key shows the English text. */
export function translate(locale: Locale, key: MessageKey, vars: Record<string, string | number> = {}) {
  const text: string = catalog[locale][key] ?? catalog.en[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? ""));
}

/** Seconds as "1:05", "12:30" or "1:02:03": the clocks agents read at a glance. */
export function clock(seconds: number) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function makeFormatters(locale: Locale) {
  const time = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "narrow" });
  return {
    t: (key: MessageKey, vars?: Record<string, string | number>) => translate(locale, key, vars),
    /** Today's times as "14:05", older ones with their date. */
    when(iso: string) {
      const d = new Date(iso);
      return d.toDateString() === new Date().toDateString() ? time.format(d) : dateTime.format(d);
    },
    ago(iso: string, now = Date.now()) {
      const s = Math.round((new Date(iso).getTime() - now) / 1000);
      const abs = Math.abs(s);
      if (abs < 60) return relative.format(s, "second");
      if (abs < 3600) return relative.format(Math.round(s / 60), "minute");
      if (abs < 86_400) return relative.format(Math.round(s / 3600), "hour");
      return relative.format(Math.round(s / 86_400), "day");
    },
    /** A duration in words for reports: "3 min 5 s" / "3分5秒". */
    duration(seconds: number) {
      const s = Math.max(0, Math.round(seconds));
      const unit = (value: number, u: "hour" | "minute" | "second") =>
        new Intl.NumberFormat(locale, { style: "unit", unit: u, unitDisplay: "narrow" }).format(value);
      if (s < 60) return unit(s, "second");
      if (s < 3600) return `${unit(Math.floor(s / 60), "minute")} ${unit(s % 60, "second")}`;
      return `${unit(Math.floor(s / 3600), "hour")} ${unit(Math.floor((s % 3600) / 60), "minute")}`;
    },
    number: (n: number) => new Intl.NumberFormat(locale).format(n),
    percent: (n: number) => new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 }).format(n),
  };
}

export type I18n = ReturnType<typeof makeFormatters> & { locale: Locale; setLocale(l: Locale): void };
export const I18nContext = createContext<I18n | null>(null);

export function useI18n() {
  const ctx = useContext(I18nContext);
  if (!ctx) throw new Error("useI18n outside I18nContext");
  return ctx;
}
