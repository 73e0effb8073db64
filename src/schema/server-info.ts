import type { ServerInfo } from './context.ts';
import { builder } from './builder.ts';
import { FalBackendEnum } from './video-generation.ts';

const ServerInfoRef = builder.objectRef<ServerInfo>('ServerInfo').implement({
  description: 'What this server talks to. falBackend SIMULATOR means no real video is generated.',
  fields: (t) => ({
    falBackend: t.field({ type: FalBackendEnum, resolve: (info) => info.falBackend }),
    simulated: t.boolean({ resolve: (info) => info.falBackend === 'SIMULATOR' }),
    endpointId: t.exposeString('endpointId'),
    version: t.exposeString('version'),
  }),
});

builder.queryField('serverInfo', (t) => t.field({ type: ServerInfoRef, resolve: (_root, _args, ctx) => ctx.server }));
