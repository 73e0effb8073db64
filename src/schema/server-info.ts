import type { ServerInfo } from './context.ts';
import { builder } from './builder.ts';
import { FalBackendEnum } from './video-generation.ts';

const ServerInfoRef = builder.objectRef<ServerInfo>('ServerInfo').implement({
  description: 'What this server talks to. falBackend SIMULATOR means no real video is generated.',
  fields: (t) => ({
    falBackend: t.field({ type: FalBackendEnum, description: 'Where new generations are sent.', resolve: (info) => info.falBackend }),
    simulated: t.boolean({
      description: 'True when falBackend is SIMULATOR (no real videos, nothing charged).',
      resolve: (info) => info.falBackend === 'SIMULATOR',
    }),
    endpointId: t.exposeString('endpointId', { description: 'The fal model endpoint new generations use.' }),
    version: t.exposeString('version', { description: "This server's version (package.json)." }),
  }),
});

builder.queryField('serverInfo', (t) =>
  t.field({ type: ServerInfoRef, description: 'What this server talks to, and its version.', resolve: (_root, _args, ctx) => ctx.server }),
);
