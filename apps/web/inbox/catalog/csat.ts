/** The inbox's texts for csat screens, in English and Simplified Chinese (merged into ../catalog.ts). */
export const csatEn = {} as const;

export const csatZh: Record<keyof typeof csatEn, string> = {};
