/** The inbox's texts for sla screens, in English and Simplified Chinese (merged into ../catalog.ts). */
export const slaEn = {
  "sla.clock.title": "Time left to the nearest SLA target",
  "sla.clock.left": "SLA {t}",
  "sla.clock.overdue": "overdue {t}",
  "sla.clock.breachedEarlier": "SLA breached",
  "sla.metric.first_response": "First response",
  "sla.metric.next_response": "Next response",
  "sla.metric.resolution": "Resolution",
} as const;

export const slaZh: Record<keyof typeof slaEn, string> = {
  "sla.clock.title": "距最近 SLA 目标的剩余时间",
  "sla.clock.left": "SLA {t}",
  "sla.clock.overdue": "已超时 {t}",
  "sla.clock.breachedEarlier": "SLA 已违约",
  "sla.metric.first_response": "首次响应",
  "sla.metric.next_response": "下次响应",
  "sla.metric.resolution": "解决",
};
