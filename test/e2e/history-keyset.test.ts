import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlSession } from '../../src/db/index.ts';
import { listGenerations, type HistoryPosition } from '../../src/generations/list-generations.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createTestPostgres } from '../helpers/db.ts';
import { bearer, gql } from '../helpers/graphql.ts';
import { createTenants, type Tenants } from '../helpers/tenants.ts';

// Keyset paging of videoGenerations (issue 15, M6) over a history large enough that depth matters: every page
// is the slice of a full ordered scan at its place, page 100 included; cursors hold their place under filters and
// search; the cursor format from before (the id alone) still works; no tenant sees another's rows, and a
// foreign id in an old cursor positions nothing. Rows are seeded in SQL, three to a millisecond, so the id
// tie-break is on every page.

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $last: Int, $before: String, $filter: VideoGenerationFilter) {
    videoGenerations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      edges { cursor node { id } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

const ROWS = 2_400;
/** Tenant of seeded row i: acme nine rows in ten, globex the tenth. */
const seed = (rows: number) => `
  INSERT INTO "Generation" (id, "tenantId", status, backend, "endpointId", "imageUrl", prompt, duration, "generateAudio",
                            "shotType", "falInput", "lastSequence", "createdAt", "updatedAt")
  SELECT gen_random_uuid(), CASE WHEN i % 10 = 0 THEN 'globex' ELSE 'acme' END,
         (CASE WHEN i % 2 = 0 THEN 'COMPLETED' ELSE 'FAILED' END)::"GenerationStatus", 'FAL',
         'fal-ai/kling-video/o3/standard/image-to-video', 'https://example.com/a.png',
         'clip ' || i || CASE WHEN i % 7 = 0 THEN ' with a fox' ELSE '' END, 5, false, 'customize', '{}'::jsonb, 0,
         timestamp '2026-06-01 12:00:00' - (i / 3) * interval '1 second', now()
    FROM generate_series(1, ${rows}) AS i;
  ANALYZE "Generation";`;

const oldCursor = (id: string) => Buffer.from(`GPC:S:${id}`).toString('base64');
const globalId = (id: string) => Buffer.from(`VideoGeneration:${id}`).toString('base64');

interface Page {
  edges: Array<{ cursor: string; node: { id: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

describe('history keyset paging over a large history', () => {
  let server: TestServer;
  let keys: Tenants;
  /** Global ids of acme's rows in history order, from one full ordered scan. */
  let acme: string[];
  let globexRaw: string[];

  async function page(variables: Record<string, unknown>, key = keys.acme): Promise<Page> {
    const result = await gql(server.url, PAGE, variables, bearer(key));
    expect(result.errors).toBeUndefined();
    return result.data.videoGenerations as Page;
  }
  const ids = (p: Page) => p.edges.map((e) => e.node.id);
  const scan = async (where: string) =>
    (
      await server.running.database.query<{ id: string }>(
        `SELECT id::text AS id FROM "Generation" WHERE ${where} ORDER BY "createdAt" DESC, id DESC`,
      )
    ).map((r) => r.id);

  beforeAll(async () => {
    server = await startTestServer({ env: { AUTH: 'required' } });
    keys = await createTenants(server);
    await server.running.database.exec(seed(ROWS));
    acme = (await scan(`"tenantId" = 'acme'`)).map(globalId);
    globexRaw = await scan(`"tenantId" = 'globex'`);
    expect(acme).toHaveLength(ROWS - ROWS / 10);
  });
  afterAll(() => server?.dispose());

  it('walks every page forwards: page 1 and page 100 are the slices of a full scan, every row once, in order', async () => {
    const seen: string[] = [];
    const pages: Page[] = [];
    let after: string | null = null;
    do {
      const p = await page({ first: 20, after });
      pages.push(p);
      seen.push(...ids(p));
      after = p.pageInfo.hasNextPage ? p.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual(acme);
    expect(pages).toHaveLength(Math.ceil(acme.length / 20));
    expect(ids(pages[0])).toEqual(acme.slice(0, 20));
    expect(ids(pages[99])).toEqual(acme.slice(1980, 2000));
    expect(pages[0].pageInfo.hasPreviousPage).toBe(false);
    expect(pages[99].pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(pages.at(-1)!.pageInfo.hasNextPage).toBe(false);
  });

  it('walks backwards with last/before from the oldest row to the newest, the same rows', async () => {
    const seen: string[] = [];
    let p = await page({ last: 50 });
    expect(ids(p)).toEqual(acme.slice(-50));
    expect(p.pageInfo.hasNextPage).toBe(false);
    for (;;) {
      seen.unshift(...ids(p));
      if (!p.pageInfo.hasPreviousPage) break;
      expect(p.pageInfo.hasNextPage).toBe(seen.length > 50);
      p = await page({ last: 50, before: p.pageInfo.startCursor });
    }
    expect(seen).toEqual(acme);
  });

  it('accepts the cursor format from before keyset cursors (the id alone), both ways', async () => {
    const id = (n: number) => Buffer.from(acme[n], 'base64').toString().split(':')[1];
    expect(ids(await page({ first: 20, after: oldCursor(id(1000)) }))).toEqual(acme.slice(1001, 1021));
    expect(ids(await page({ last: 20, before: oldCursor(id(1000)) }))).toEqual(acme.slice(980, 1000));
    // The new format is the same place: the edge cursor of row 1000 continues where the old one does.
    const at1000 = (await page({ first: 1, after: oldCursor(id(999)) })).edges[0];
    expect(at1000.node.id).toBe(acme[1000]);
    expect(at1000.cursor).not.toBe(oldCursor(id(1000)));
    expect(ids(await page({ first: 20, after: at1000.cursor }))).toEqual(acme.slice(1001, 1021));
  });

  it('needs no row at the cursor: a page after a deleted row is the same page', async () => {
    const before = await page({ first: 10, after: (await page({ first: 500 })).pageInfo.endCursor });
    const cursor = (await page({ first: 500 })).pageInfo.endCursor;
    const lastOfFirst = acme[499];
    await server.running.database.query(`DELETE FROM "Generation" WHERE id = $1::uuid`, [
      Buffer.from(lastOfFirst, 'base64').toString().split(':')[1],
    ]);
    acme.splice(499, 1);
    expect(ids(await page({ first: 10, after: cursor }))).toEqual(ids(before));
  });

  it('keeps cursors valid under a filter and a search, with cursors taken from the unfiltered list', async () => {
    const foxes = (await scan(`"tenantId" = 'acme' AND status = 'COMPLETED' AND prompt LIKE '%fox%'`)).map(globalId);
    expect(foxes.length).toBeGreaterThan(100);
    const filter = { search: 'fox', status: ['COMPLETED'] };
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const p = await page({ first: 7, after, filter });
      seen.push(...ids(p));
      after = p.pageInfo.hasNextPage ? p.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual(foxes);

    // An unfiltered cursor (new and old format) means "after this row" under the filter too.
    const unfiltered = await page({ first: 100, after: (await page({ first: 900 })).pageInfo.endCursor });
    const pivot = acme.indexOf(unfiltered.edges[0].node.id);
    const expected = foxes.filter((g) => acme.indexOf(g) > pivot).slice(0, 10);
    expect(ids(await page({ first: 10, after: unfiltered.edges[0].cursor, filter }))).toEqual(expected);
    const pivotId = Buffer.from(unfiltered.edges[0].node.id, 'base64').toString().split(':')[1];
    expect(ids(await page({ first: 10, after: oldCursor(pivotId), filter }))).toEqual(expected);
    // Status alone (no search) pages through the same keyset.
    const completed = (await scan(`"tenantId" = 'acme' AND status = 'COMPLETED'`)).map(globalId);
    const c1 = await page({ first: 30, filter: { status: ['COMPLETED'] } });
    const c2 = await page({ first: 30, after: c1.pageInfo.endCursor, filter: { status: ['COMPLETED'] } });
    expect([...ids(c1), ...ids(c2)]).toEqual(completed.slice(0, 60));
  });

  it('shows each tenant only its own rows; a cursor on a foreign row positions nothing and reveals nothing', async () => {
    const globex = globexRaw.map(globalId);
    const g1 = await page({ first: 50 }, keys.globex);
    expect(ids(g1)).toEqual(globex.slice(0, 50));
    const g2 = await page({ first: 50, after: g1.pageInfo.endCursor }, keys.globex);
    expect(ids(g2)).toEqual(globex.slice(50, 100));
    // acme with globex's new-format cursor: a position only, so acme's own rows older than it.
    const mine = await page({ first: 50, after: g1.pageInfo.endCursor });
    expect(ids(mine).every((g) => acme.includes(g))).toBe(true);
    // acme with an old-format cursor naming a globex row: as if the id did not exist (an empty page).
    const foreign = await page({ first: 50, after: oldCursor(globexRaw[10]) });
    expect(foreign.edges).toEqual([]);
    // The admin sees both tenants, in one order.
    const all = await page({ first: 100 }, keys.admin);
    expect(ids(all)).toEqual((await scan('true')).slice(0, 100).map(globalId));
  });

  it('refuses a malformed cursor', async () => {
    const result = await gql(server.url, PAGE, { first: 5, after: 'not a cursor' }, bearer(keys.acme));
    expect(result.errors).toHaveLength(1);
    expect(result.data?.videoGenerations ?? null).toBeNull();
    // A bad filter is refused even when the (old) cursor names no row the caller may see, so nothing is read.
    const bad = await gql(server.url, PAGE, { first: 5, after: oldCursor(globexRaw[0]), filter: { search: ' ' } }, bearer(keys.acme));
    expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('the page query on PostgreSQL', () => {
  let pgdb: Awaited<ReturnType<typeof createTestPostgres>>;
  /** The page's driver, reporting every statement it is sent, so the test can EXPLAIN exactly those. */
  const statements: Array<{ text: string; params: unknown[] }> = [];
  let sql: SqlSession;

  beforeAll(async () => {
    // Always PostgreSQL (every machine here has one): the plan is what this test is about.
    pgdb = await createTestPostgres();
    await pgdb.db.exec(seed(60_000));
    sql = {
      exec: (text) => pgdb.db.exec(text),
      query: (text, params = []) => {
        statements.push({ text, params });
        return pgdb.db.query(text, params);
      },
    };
  });
  afterAll(async () => {
    await pgdb?.dispose();
  });

  interface PlanNode {
    'Node Type': string;
    'Index Name'?: string;
    'Actual Rows': number;
    'Rows Removed by Filter'?: number;
    Plans?: PlanNode[];
  }
  const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

  /** The statement listGenerations sends for this page, run under EXPLAIN ANALYZE with its own parameters. */
  async function planOf(tenantId: string, from: HistoryPosition | null) {
    statements.length = 0;
    const rows = await listGenerations(sql, { tenantId }, null, { from, backwards: false, limit: 51 }, ['id', 'prompt', 'createdAt']);
    expect(rows).toHaveLength(51);
    expect(statements).toHaveLength(1);
    const { text, params } = statements[0];
    const [{ 'QUERY PLAN': plan }] = await pgdb.db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
      params,
    );
    return nodes(plan[0].Plan);
  }
  async function positionAt(tenantId: string, offset: number): Promise<HistoryPosition> {
    const [row] = await pgdb.db.query<{ createdAt: string; id: string }>(
      `SELECT to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt", id::text AS id FROM "Generation"
        WHERE "tenantId" = $1 ORDER BY "createdAt" DESC, id DESC OFFSET $2 LIMIT 1`,
      [tenantId, offset],
    );
    expect(row).toBeDefined();
    return { createdAt: new Date(row.createdAt), id: row.id };
  }

  it.each(['acme', 'globex'])(
    'pages %s from an index in history order, reading as many rows at page 100 as at page 1',
    async (tenantId) => {
      const read = (plan: PlanNode[]) => {
        expect(plan.map((n) => n['Node Type'])).not.toContain('Sort');
        const scans = plan.filter((n) => n['Node Type'] === 'Index Scan' || n['Node Type'] === 'Index Only Scan');
        expect(scans).toHaveLength(1);
        expect(['Generation_tenantId_createdAt_id_idx', 'Generation_createdAt_id_idx']).toContain(scans[0]['Index Name']);
        return scans[0]['Actual Rows'] + (scans[0]['Rows Removed by Filter'] ?? 0);
      };
      const first = read(await planOf(tenantId, null));
      const deepAt = await positionAt(tenantId, 100 * 50);
      const deep = read(await planOf(tenantId, deepAt));
      // Prisma's cursor read every row before the cursor here (thousands); the keyset reads about one page.
      expect(deep).toBeLessThanOrEqual(first + 10);
      // ...and it is the page that follows that row.
      const next = await pgdb.db.query<{ id: string }>(
        `SELECT id::text AS id FROM "Generation" WHERE "tenantId" = $1 ORDER BY "createdAt" DESC, id DESC OFFSET $2 LIMIT 51`,
        [tenantId, 100 * 50 + 1],
      );
      const page = await listGenerations(sql, { tenantId }, null, { from: deepAt, backwards: false, limit: 51 }, ['id']);
      expect(page.map((r) => r.id)).toEqual(next.map((r) => r.id));
    },
  );
});
