import { defineConfig } from 'prisma/config';

// Read by the Prisma CLI only: `npm run prisma:generate` here, and `prisma migrate status|deploy|diff` on a
// machine that can download the schema engine (those need DATABASE_URL; generate does not). The server never
// reads this file: it connects through the driver adapters in src/db and applies prisma/migrations itself.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  ...(process.env.DATABASE_URL ? { datasource: { url: process.env.DATABASE_URL } } : {}),
});
