import { decodeGlobalID } from '@pothos/plugin-relay';
import { isUuid } from '../lib/uuid.ts';

/**
 * The database id behind an ID argument naming a `typename` node, or null when it cannot name one (so a
 * malformed or foreign id behaves like an unknown one). Accepts the Relay global id and the raw UUID.
 */
export function nodeIdFromArg(typename: string, id: string): string | null {
  if (isUuid(id)) return id.toLowerCase();
  try {
    const decoded = decodeGlobalID(id);
    return decoded.typename === typename && isUuid(decoded.id) ? decoded.id.toLowerCase() : null;
  } catch {
    return null;
  }
}
