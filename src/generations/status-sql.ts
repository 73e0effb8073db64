import { Prisma } from '../db/index.ts';
import { ACTIVE_STATUSES } from './status.ts';

/**
 * ACTIVE_STATUSES as a SQL list for raw queries (`status IN (${ACTIVE_STATUS_SQL})`), so the set is written once.
 * Built from the string literals of our own enum, never from input, so Prisma.raw is safe here.
 */
export const ACTIVE_STATUS_SQL = Prisma.raw(ACTIVE_STATUSES.map((status) => `'${status}'`).join(', '));
