import { LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

// Only the pieces the wallboard draws, so the chunk stays small.
echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

type History = { points: { at: string; waiting: Record<string, number> }[] };

export function drawWaiting(el: HTMLElement, history: History, queues: { id: string; name: string }[], locale: string) {
  const chart = echarts.init(el, undefined, { renderer: "svg", locale: locale.startsWith("zh") ? "ZH" : "EN" });
  const time = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 32, bottom: 28 },
    xAxis: { type: "category", data: history.points.map((p) => time.format(new Date(p.at))) },
    yAxis: { type: "value", minInterval: 1 },
    series: queues.map((q) => ({
      name: q.name,
      type: "line",
      smooth: true,
      showSymbol: false,
      data: history.points.map((p) => p.waiting[q.id] ?? 0),
    })),
  });
  return chart;
}
