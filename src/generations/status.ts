/** Kept in step with the GenerationStatus enum in prisma/schema.prisma (the database is the truth). */
export type GenerationStatus = 'PENDING' | 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export const TERMINAL_STATUSES: readonly GenerationStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
export const ACTIVE_STATUSES: readonly GenerationStatus[] = ['PENDING', 'IN_QUEUE', 'IN_PROGRESS'];

export const isTerminal = (status: GenerationStatus): boolean => TERMINAL_STATUSES.includes(status);

/**
 * Which states may move to which: the guard of every transition write. Status only ever moves forward,
 * so a late or repeated report (stream, poll and webhook can all say the same thing) changes nothing.
 */
export const ALLOWED_FROM: Record<GenerationStatus, readonly GenerationStatus[]> = {
  PENDING: [],
  IN_QUEUE: ['PENDING', 'IN_QUEUE'],
  IN_PROGRESS: ['PENDING', 'IN_QUEUE'],
  COMPLETED: ['PENDING', 'IN_QUEUE', 'IN_PROGRESS'],
  FAILED: ['PENDING', 'IN_QUEUE', 'IN_PROGRESS'],
  CANCELLED: ['PENDING', 'IN_QUEUE', 'IN_PROGRESS'],
};
