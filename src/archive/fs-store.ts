import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArchiveStore } from './store.ts';

/**
 * Archived videos in a local directory (`ARCHIVE_DIR`): written to a temporary file beside the final one and
 * renamed into place once the body ended cleanly, so a file under its final name is always complete (rename
 * is atomic within a directory). Locations are file paths, as rows written before the S3 store hold.
 */
export function createFilesystemStore(dir: string): ArchiveStore {
  const root = resolve(dir);
  // Any path (rows archived under an earlier ARCHIVE_DIR keep working), but not another store's URL.
  const mine = (location: string) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(location);

  return {
    kind: 'filesystem',
    description: `directory ${root}`,
    async put(name, body) {
      await mkdir(root, { recursive: true });
      const finalPath = join(root, name);
      const tempPath = join(root, `.${name}.${randomUUID()}.part`);
      try {
        await pipeline(body, createWriteStream(tempPath));
        await rename(tempPath, finalPath);
        return finalPath;
      } catch (error) {
        body.destroy();
        await rm(tempPath, { force: true }).catch(() => undefined);
        throw error;
      }
    },
    async head(location) {
      if (!mine(location)) return null;
      try {
        return { size: (await stat(resolve(location))).size };
      } catch {
        // Archived by an instance whose ARCHIVE_DIR this one cannot see.
        return null;
      }
    },
    read(location, { start, end }) {
      return Promise.resolve(mine(location) ? createReadStream(resolve(location), { start, end }) : null);
    },
    presign() {
      return Promise.resolve(null);
    },
  };
}
