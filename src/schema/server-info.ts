import type { ServerInfo } from './context.ts';
import { builder } from './builder.ts';
import { FalBackendEnum } from './video-generation.ts';

// Answered without an API key too (src/auth/public-operations.ts): nothing here may be tenant-specific or secret.
const ServerInfoRef = builder.objectRef<ServerInfo>('ServerInfo').implement({
  description:
    'What this server talks to. falBackend SIMULATOR means no real video is generated. Public: answered to a GET without an API key, so nothing here is tenant-specific or secret.',
  fields: (t) => ({
    falBackend: t.field({ type: FalBackendEnum, description: 'Where new generations are sent.', resolve: (info) => info.falBackend }),
    simulated: t.boolean({
      description: 'True when falBackend is SIMULATOR (no real videos, nothing charged).',
      resolve: (info) => info.falBackend === 'SIMULATOR',
    }),
    endpointId: t.exposeString('endpointId', { description: 'The fal model endpoint new generations use.' }),
    version: t.exposeString('version', { description: "This server's version (package.json)." }),
    authRequired: t.boolean({
      description: 'True when operations need an API key (Authorization: Bearer); false while the server runs open on loopback.',
      resolve: (info) => info.authRequired(),
    }),
  }),
});

builder.queryField('serverInfo', (t) =>
  t.field({ type: ServerInfoRef, description: 'What this server talks to, and its version.', resolve: (_root, _args, ctx) => ctx.server }),
);
