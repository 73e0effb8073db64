import type { PrismaClient } from '../../src/db/index.ts';

export const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';

/**
 * A generation row exactly as a crash during submission leaves it: PENDING, its first event written, and no
 * fal request id. `ageSeconds` backdates it (an orphan from before the crash).
 */
export async function insertOrphan(prisma: PrismaClient, options: { ageSeconds?: number; tenantId?: string; prompt?: string } = {}) {
  const prompt = options.prompt ?? 'lost in the crash';
  const createdAt = new Date(Date.now() - (options.ageSeconds ?? 0) * 1000);
  return prisma.generation.create({
    data: {
      tenantId: options.tenantId ?? 'default',
      backend: 'SIMULATOR',
      endpointId: ENDPOINT,
      imageUrl: 'https://example.com/a.png',
      prompt,
      duration: 5,
      generateAudio: false,
      shotType: 'customize',
      falInput: { image_url: 'https://example.com/a.png', prompt, duration: '5' },
      estimatedCostMicros: 420_000,
      lastSequence: 1,
      createdAt,
      updatedAt: createdAt,
      events: { create: { sequence: 1, kind: 'STATUS', status: 'PENDING', createdAt } },
    },
  });
}

/** The global (Relay) id of a generation row. */
export const globalId = (id: string) => Buffer.from(`VideoGeneration:${id}`).toString('base64');
