/** The inbox's texts for sla screens, in English and Simplified Chinese (merged into ../catalog.ts). */
export const slaEn = {} as const;

export const slaZh: Record<keyof typeof slaEn, string> = {};
