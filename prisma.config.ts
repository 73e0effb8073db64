import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI only (`npm run prisma:generate`). The application never reads it: the server
// connects through driver adapters chosen in src/db, and applies prisma/migrations itself.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
