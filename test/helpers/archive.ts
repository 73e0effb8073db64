import type { ArchiveAttempt } from '../../src/archive/archiver.ts';
import type { TestServer } from './app.ts';

/**
 * Resolves with the first archive attempt of `generationId` (a database id) that leaves its row in `status`,
 * or at once when the row is already there. Listens before it reads, so no attempt slips between the two.
 */
export async function archiveReaches(server: TestServer, generationId: string, status: ArchiveAttempt['status']): Promise<ArchiveAttempt> {
  const { events } = server.running.archiver;
  let listener: ((attempt: ArchiveAttempt) => void) | null = null;
  const attempt = new Promise<ArchiveAttempt>((resolve) => {
    listener = (a) => {
      if (a.generationId === generationId && a.status === status) resolve(a);
    };
    events.on('attempt', listener);
  });
  try {
    const row = await server.running.database.prisma.videoOutput.findUnique({ where: { generationId } });
    if (row?.archiveStatus === status) return { generationId, status, attempts: row.archiveAttempts, error: row.archiveError };
    return await attempt;
  } finally {
    if (listener) events.off('attempt', listener);
  }
}
