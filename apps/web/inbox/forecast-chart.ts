import { BarChart, LineChart } from "echarts/charts";
import { DataZoomComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

// Only what the forecast chart draws, loaded with the screen so the inbox's first chunk stays small.
echarts.use([LineChart, BarChart, GridComponent, LegendComponent, TooltipComponent, DataZoomComponent, SVGRenderer]);

export type ForecastInterval = {
  start: string;
  arrivals: number;
  ahtS: number | null;
  agents: number;
  actual?: number;
};

export type ReplayInterval = { start: string; offered: number; serviceLevel: number | null; agents: number };

/** A what-if per half-hour: service level before and after as lines, agents on duty before and after as bars. */
export function drawWhatIf(
  el: HTMLElement,
  before: ReplayInterval[],
  after: ReplayInterval[],
  labels: { levelBefore: string; levelAfter: string; agentsBefore: string; agentsAfter: string },
  locale: string,
) {
  const chart = echarts.init(el, undefined, { renderer: "svg", locale: locale.startsWith("zh") ? "ZH" : "EN" });
  const when = new Intl.DateTimeFormat(locale, {
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  const level = (i: ReplayInterval) => (i.serviceLevel === null ? null : Math.round(i.serviceLevel * 1000) / 10);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 40, top: 32, bottom: 28 },
    xAxis: { type: "category", data: before.map((i) => when.format(new Date(i.start))) },
    yAxis: [
      { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      { type: "value", minInterval: 1, splitLine: { show: false } },
    ],
    series: [
      {
        name: labels.agentsBefore,
        type: "bar",
        yAxisIndex: 1,
        data: before.map((i) => i.agents),
        itemStyle: { opacity: 0.3 },
      },
      {
        name: labels.agentsAfter,
        type: "bar",
        yAxisIndex: 1,
        data: after.map((i) => i.agents),
        itemStyle: { opacity: 0.3 },
      },
      { name: labels.levelBefore, type: "line", connectNulls: true, data: before.map(level) },
      { name: labels.levelAfter, type: "line", connectNulls: true, data: after.map(level) },
    ],
  });
  return chart;
}

/** Forecast arrivals and actual arrivals as lines, agents needed as bars on a second axis. */
export function drawForecast(
  el: HTMLElement,
  intervals: ForecastInterval[],
  labels: { arrivals: string; actual: string; agents: string },
  locale: string,
) {
  const chart = echarts.init(el, undefined, { renderer: "svg", locale: locale.startsWith("zh") ? "ZH" : "EN" });
  const when = new Intl.DateTimeFormat(locale, {
    weekday: "short",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  const hasActual = intervals.some((i) => i.actual !== undefined);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 40, top: 32, bottom: 56 },
    dataZoom: [{ type: "slider", bottom: 8, height: 18 }],
    xAxis: { type: "category", data: intervals.map((i) => when.format(new Date(i.start))) },
    yAxis: [
      { type: "value", name: labels.arrivals, nameTextStyle: { align: "left" } },
      { type: "value", name: labels.agents, minInterval: 1, splitLine: { show: false } },
    ],
    series: [
      {
        name: labels.agents,
        type: "bar",
        yAxisIndex: 1,
        data: intervals.map((i) => i.agents),
        itemStyle: { opacity: 0.35 },
      },
      { name: labels.arrivals, type: "line", showSymbol: false, data: intervals.map((i) => i.arrivals) },
      ...(hasActual
        ? [{ name: labels.actual, type: "line", showSymbol: false, data: intervals.map((i) => i.actual ?? null) }]
        : []),
    ],
  });
  return chart;
}
