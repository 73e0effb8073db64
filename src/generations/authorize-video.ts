import type { PrismaClient } from '../db/index.ts';
import { visibleTo, type Caller } from './caller.ts';

/**
 * May this caller read the generation's archived video? Only when the generation is visible to it (its own
 * tenant, or any for an admin); a foreign id answers exactly like an unknown one. (A signed URL is checked by
 * the HTTP route before it gets here.)
 */
export async function authorizeVideo(db: PrismaClient, caller: Caller, generationId: string): Promise<boolean> {
  const row = await db.generation.findFirst({ where: { id: generationId, ...visibleTo(caller) }, select: { id: true } });
  return row !== null;
}
