import { HeatmapChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

// Only what the reports screen draws, loaded with the screen, so the inbox's own chunk stays small.
echarts.use([
  LineChart,
  HeatmapChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  SVGRenderer,
]);

type Chart = { dispose(): void; resize(): void };
const init = (el: HTMLElement, locale: string) =>
  echarts.init(el, undefined, { renderer: "svg", locale: locale.startsWith("zh") ? "ZH" : "EN" });

export type Series = { name: string; data: (number | null)[]; axis?: 0 | 1 };

/**
 * Lines over the period's buckets; a null is a gap (no data), never a zero. A second y axis on the
 * right (`axis: 1`) carries rates, formatted by `right`; the left one by `left`.
 */
export function drawLines(
  el: HTMLElement,
  labels: string[],
  series: Series[],
  locale: string,
  format: { left: (v: number) => string; right?: (v: number) => string },
): Chart {
  const chart = init(el, locale);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 56, right: format.right ? 56 : 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: labels },
    yAxis: [
      { type: "value", minInterval: 1, axisLabel: { formatter: format.left } },
      ...(format.right ? [{ type: "value", min: 0, max: 1, axisLabel: { formatter: format.right } }] : []),
    ],
    series: series.map((s) => ({
      name: s.name,
      type: "line",
      yAxisIndex: s.axis ?? 0,
      connectNulls: false,
      showSymbol: labels.length < 40,
      data: s.data,
      tooltip: { valueFormatter: (v: number | null) => (v == null ? "—" : (s.axis ? format.right! : format.left)(v)) },
    })),
  });
  return chart;
}

/** Offered per weekday (rows, Monday first) × hour (columns): the peak hours at a glance. */
export function drawHeatmap(el: HTMLElement, weekdays: string[], cells: [number, number, number][], locale: string) {
  const chart = init(el, locale);
  const max = Math.max(1, ...cells.map((c) => c[2]));
  chart.setOption({
    animation: false,
    tooltip: { position: "top" },
    grid: { left: 56, right: 72, top: 8, bottom: 28 },
    xAxis: {
      type: "category",
      data: Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0")),
      splitArea: { show: true },
    },
    yAxis: { type: "category", data: weekdays, inverse: true, splitArea: { show: true } },
    visualMap: { min: 0, max, calculable: true, orient: "vertical", right: 0, top: "middle", itemHeight: 140 },
    series: [{ type: "heatmap", data: cells, label: { show: false } }],
  });
  return chart;
}
