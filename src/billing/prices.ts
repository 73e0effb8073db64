/**
 * The one price table: what a generation is expected to cost at fal, in US dollars per second of video.
 * fal's page for Kling Video O3 Standard image-to-video (shared/seed): $0.084/s without audio, $0.112/s
 * with native audio. PRICE_PER_SECOND_USD / PRICE_PER_SECOND_AUDIO_USD override it (config.ts).
 */
export interface PriceTable {
  perSecondUsd: number;
  perSecondWithAudioUsd: number;
}

export const KLING_O3_STANDARD_PRICES: PriceTable = { perSecondUsd: 0.084, perSecondWithAudioUsd: 0.112 };

/** Costs are kept in integer micro-dollars so that sums never drift (0.084 * 3 is not 0.252 in floats). */
export function estimateCostMicros(prices: PriceTable, request: { duration: number; generateAudio: boolean }): number {
  const perSecond = request.generateAudio ? prices.perSecondWithAudioUsd : prices.perSecondUsd;
  return Math.round(perSecond * 1_000_000) * request.duration;
}

export function microsToUsd(micros: number): number {
  return micros / 1_000_000;
}

export function usdToMicros(usd: number): number {
  return Math.round(usd * 1_000_000);
}
