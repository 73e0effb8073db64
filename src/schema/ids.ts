import { decodeGlobalID } from '@pothos/plugin-relay';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The database id behind a VideoGeneration ID argument, or null when it cannot name one (so a malformed or
 * foreign id behaves exactly like an unknown one). Accepts the Relay global id and, for convenience, the
 * raw UUID.
 */
export function generationIdFromArg(id: string): string | null {
  if (UUID.test(id)) return id.toLowerCase();
  try {
    const { typename, id: raw } = decodeGlobalID(id);
    return typename === 'VideoGeneration' && UUID.test(raw) ? raw.toLowerCase() : null;
  } catch {
    return null;
  }
}
