/** The inbox's texts for automation screens, in English and Simplified Chinese (merged into ../catalog.ts). */
export const automationEn = {} as const;

export const automationZh: Record<keyof typeof automationEn, string> = {};
