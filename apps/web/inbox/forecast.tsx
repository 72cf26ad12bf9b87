import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, request } from "./client.ts";
import { Field, useSubmit } from "./admin/form.tsx";
import type { ForecastInterval } from "./forecast-chart.ts";
import { useI18n } from "./i18n.ts";
import { href } from "./route.ts";
import { WhatIfPage } from "./what-if.tsx";
import { useWorkspace } from "./workspace.tsx";

type Forecast = {
  queue: { id: string; name: string };
  timeZone: string;
  from: string;
  to: string;
  method: { name: string; alpha: number; historyWeeks: number };
  staffing: {
    model: "erlang_c" | "erlang_a";
    serviceLevel: number;
    targetSeconds: number;
    patienceS: number | null;
    shrinkage: number;
  };
  error: { weeks: number; wape: number | null; mape: number | null; mae: number | null; naiveWape: number | null };
  intervals: ForecastInterval[];
};

/** The Forecast page: the forecast of a queue (tab "forecast") or the what-if replay (tab "what-if"). */
export function ForecastPage({ tab }: { tab: string }) {
  const { t } = useI18n();
  return (
    <div className="admin forecast" data-testid="forecast-page">
      <nav className="tabs" aria-label={t("forecast.tabs")}>
        <a href={href({ page: "forecast", tab: "forecast" })} aria-current={tab !== "what-if" ? "page" : undefined}>
          {t("forecast.title")}
        </a>
        <a href={href({ page: "forecast", tab: "what-if" })} aria-current={tab === "what-if" ? "page" : undefined}>
          {t("whatif.title")}
        </a>
      </nav>
      {tab === "what-if" ? <WhatIfPage /> : <ForecastView />}
    </div>
  );
}

function ForecastView() {
  const { t, locale, percent, number } = useI18n();
  const { queues } = useWorkspace();
  const [forecast, setForecast] = useState<Forecast | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const { submit, error } = useSubmit();
  const box = useRef<HTMLDivElement>(null);

  const show = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    const q = new URLSearchParams({
      queueId: String(d.get("queueId")),
      weeks: String(d.get("weeks")),
      serviceLevel: String(Number(d.get("serviceLevel")) / 100),
      shrinkage: String(Number(d.get("shrinkage")) / 100),
    });
    // A date is the start of that day in the browser's zone; the server counts intervals in the workspace's.
    if (d.get("from")) q.set("from", new Date(`${d.get("from")}T00:00:00`).toISOString());
    await submit(async () => {
      try {
        setForecast(await request<Forecast>(`/forecast?${q}`));
      } catch (err) {
        if (err instanceof ApiError && err.status === 403) setForbidden(true);
        else throw err;
      }
    });
  };

  useEffect(() => {
    if (!forecast || !box.current) return;
    let disposed = false;
    let chart: { dispose(): void; resize(): void } | undefined;
    const onResize = () => chart?.resize();
    void import("./forecast-chart.ts").then(({ drawForecast }) => {
      if (disposed || !box.current) return;
      chart = drawForecast(
        box.current,
        forecast.intervals,
        { arrivals: t("forecast.arrivals"), actual: t("forecast.actual"), agents: t("forecast.agents") },
        locale,
      );
      addEventListener("resize", onResize);
    });
    return () => {
      disposed = true;
      removeEventListener("resize", onResize);
      chart?.dispose();
    };
  }, [forecast, locale]);

  if (forbidden) return <p className="notice">{t("forecast.forbidden")}</p>;
  if (!queues.length) return <p className="empty">{t("forecast.noQueues")}</p>;
  const fraction = (x: number | null) => (x === null ? "—" : percent(x));
  const total = forecast ? forecast.intervals.reduce((s, i) => s + i.arrivals, 0) : 0;
  const peak = forecast ? Math.max(0, ...forecast.intervals.map((i) => i.agents)) : 0;
  return (
    <>
      <h2>{t("forecast.title")}</h2>
      <form className="row-form" onSubmit={show} data-testid="forecast-form">
        <Field label={t("forecast.queue")}>
          <select name="queueId" data-testid="forecast-queue">
            {queues.map((q) => (
              <option key={q.id} value={q.id}>
                {q.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("forecast.weeks")}>
          <select name="weeks" defaultValue="1" data-testid="forecast-weeks">
            {[1, 2, 3, 4].map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
        </Field>
        <Field label={t("forecast.from")}>
          <input type="date" name="from" data-testid="forecast-from" />
        </Field>
        <Field label={`${t("forecast.serviceLevel")} (%)`}>
          <input type="number" name="serviceLevel" min={5} max={99} defaultValue={80} />
        </Field>
        <Field label={`${t("forecast.shrinkage")} (%)`}>
          <input type="number" name="shrinkage" min={0} max={90} defaultValue={0} />
        </Field>
        <button type="submit" data-testid="forecast-show">
          {t("forecast.show")}
        </button>
      </form>
      {error}
      {forecast && (
        <>
          <section aria-labelledby="forecast-chart">
            <h3 id="forecast-chart">{t("forecast.chart")}</h3>
            <div ref={box} className="chart" role="img" aria-label={t("forecast.chart")} data-testid="forecast-chart" />
            <p data-testid="forecast-totals">
              {t("forecast.totals", { arrivals: number(Math.round(total)), agents: peak })}
            </p>
          </section>
          <section aria-labelledby="forecast-error">
            <h3 id="forecast-error">{t("forecast.error")}</h3>
            {forecast.error.weeks === 0 ? (
              <p className="empty">{t("forecast.noError")}</p>
            ) : (
              <table className="table" data-testid="forecast-error">
                <tbody>
                  <tr>
                    <th>{t("forecast.heldOut")}</th>
                    <td>{forecast.error.weeks}</td>
                  </tr>
                  <tr>
                    <th>{t("forecast.wape")}</th>
                    <td data-testid="forecast-wape">{fraction(forecast.error.wape)}</td>
                  </tr>
                  <tr>
                    <th>{t("forecast.mape")}</th>
                    <td>{fraction(forecast.error.mape)}</td>
                  </tr>
                  <tr>
                    <th>{t("forecast.mae")}</th>
                    <td>{forecast.error.mae === null ? "—" : number(Number(forecast.error.mae.toPrecision(2)))}</td>
                  </tr>
                  <tr>
                    <th>{t("forecast.naive")}</th>
                    <td>{fraction(forecast.error.naiveWape)}</td>
                  </tr>
                </tbody>
              </table>
            )}
            <p>
              <strong>{t("forecast.method")}:</strong>{" "}
              {t("forecast.methodText", { weeks: forecast.method.historyWeeks, alpha: forecast.method.alpha })}
            </p>
            <p data-testid="forecast-staffing">
              <strong>{t("forecast.staffing")}:</strong>{" "}
              {t(`forecast.${forecast.staffing.model}`, {
                level: percent(forecast.staffing.serviceLevel),
                seconds: forecast.staffing.targetSeconds,
                patience: forecast.staffing.patienceS ?? 0,
              })}
            </p>
          </section>
        </>
      )}
    </>
  );
}
