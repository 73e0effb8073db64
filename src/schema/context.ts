import type { PrismaClient } from '../db/index.ts';
import type { Caller, FalBackendName, GenerationService } from '../generations/service.ts';

/** Per-request context: runtime instances come from here, never from module scope. */
export interface GraphQLContext {
  db: PrismaClient;
  generations: GenerationService;
  caller: Caller;
  server: ServerInfo;
  /** Origin our own URLs (archived videos) are built on: PUBLIC_URL, or the origin the client used. */
  publicOrigin: string;
}

export interface ServerInfo {
  falBackend: FalBackendName;
  endpointId: string;
  version: string;
}
