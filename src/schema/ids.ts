import { decodeGlobalID } from '@pothos/plugin-relay';
import { isUuid } from '../lib/uuid.ts';

/**
 * The database id behind a VideoGeneration ID argument, or null when it cannot name one (so a malformed or
 * foreign id behaves exactly like an unknown one). Accepts the Relay global id and, for convenience, the
 * raw UUID.
 */
export function generationIdFromArg(id: string): string | null {
  if (isUuid(id)) return id.toLowerCase();
  try {
    const { typename, id: raw } = decodeGlobalID(id);
    return typename === 'VideoGeneration' && isUuid(raw) ? raw.toLowerCase() : null;
  } catch {
    return null;
  }
}
