/** The inbox's texts for tickets screens, in English and Simplified Chinese (merged into ../catalog.ts). */
export const ticketsEn = {} as const;

export const ticketsZh: Record<keyof typeof ticketsEn, string> = {};
