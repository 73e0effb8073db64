import type { Prisma, PrismaClient } from '../../src/db/index.ts';

/**
 * Inserts a bare generation row straight into the database (no fal, no service), for tests of the store, the hub
 * and the bus that only need a row to write events against. Returns its id.
 */
export async function insertGeneration(db: PrismaClient, overrides: Partial<Prisma.GenerationUncheckedCreateInput> = {}): Promise<string> {
  const row = await db.generation.create({
    data: {
      backend: 'SIMULATOR',
      endpointId: 'fal-ai/kling-video/o3/standard/image-to-video',
      imageUrl: 'https://example.com/a.png',
      duration: 5,
      generateAudio: false,
      shotType: 'customize',
      falInput: {},
      ...overrides,
    },
    select: { id: true },
  });
  return row.id;
}
