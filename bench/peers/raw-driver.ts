/**
 * M4's floor: the `generateVideo` mutation's database work on the raw driver, without Prisma or GraphQL
 * execution. Same tables (migrated by the app's own migrator), same statements in the same order as the
 * generations service: insert the row with its PENDING event, submit to fal (the simulator), then in one
 * statement record fal's request id and move to IN_QUEUE with its event (QUEUE_SUBMITTED_SQL, the very text
 * reelgraph sends; the row is not read back, as reelgraph no longer does); then what reelgraph's tracker does
 * for a new generation: take its tracking lease (ACQUIRE_LEASE_SQL, reelgraph's text), read its log lines so far
 * unless the lease statement shows no event after the IN_QUEUE one (reelgraph skips that read then too), open
 * fal's status stream and, on the stream's first event, poll the status once and apply the guarded IN_QUEUE
 * transition (a no-op while the position holds). The stream stays open, as reelgraph's does. `RAW_TRACKER=0`
 * leaves the tracker out.
 *
 *   RAW_DB=pglite (DATA_DIR) | postgres (DATABASE_URL)
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Agent, Client, fetch } from 'undici';
import type { AddressInfo } from 'node:net';
import { createDb, migrate } from '../../src/db/index.ts';
import { ACQUIRE_LEASE_SQL } from '../../src/generations/leases.ts';
import { QUEUE_SUBMITTED_SQL } from '../../src/generations/submit-sql.ts';
import { FAL_KEY, printListening, SIM_URL } from './common.ts';

const db = await createDb(
  process.env.RAW_DB === 'postgres'
    ? { kind: 'postgres', url: process.env.DATABASE_URL!, poolSize: Number(process.env.DATABASE_POOL_SIZE ?? 10) }
    : { kind: 'pglite', dataDir: process.env.DATA_DIR ?? null },
);
await migrate(db);
const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';
const TRACK = process.env.RAW_TRACKER !== '0';
const INSTANCE = `raw-driver-${process.pid}`;
const falHeaders = { authorization: `Key ${FAL_KEY}` };
// The same connection layout as reelgraph's (src/fal/connections.ts), so neither pays for the other's pool: short
// requests share one keep-alive pool, each status stream has a connection of its own.
const shared = new Agent();

/** The guarded IN_QUEUE transition of store.transition: a change only when the position falls. */
async function queued(id: string, queuePosition: number | null) {
  await db.query(
    `WITH g AS (
       UPDATE "Generation" SET status = 'IN_QUEUE', "queuePosition" = $2, "lastSequence" = "lastSequence" + 1, "updatedAt" = $3
        WHERE id = $1::uuid AND status IN ('PENDING', 'IN_QUEUE') AND "leaseOwner" = $4
          AND NOT (status = 'IN_QUEUE' AND "queuePosition" IS NOT NULL AND ($2::int IS NULL OR $2::int >= "queuePosition"))
        RETURNING id, "lastSequence")
     INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "queuePosition", "createdAt")
     SELECT id, "lastSequence", 'STATUS', 'IN_QUEUE', $2, $3 FROM g`,
    [id, queuePosition, new Date(), INSTANCE],
  );
}

async function track(id: string, statusUrl: string, written: number) {
  const [lease] = await db.query<{ lastSequence: number }>(ACQUIRE_LEASE_SQL, [id, INSTANCE, '15000 milliseconds']);
  if (!lease) return;
  if (Number(lease.lastSequence) !== written)
    await db.query(`SELECT "logMessage" FROM "GenerationEvent" WHERE "generationId" = $1::uuid AND kind = 'LOG' ORDER BY sequence`, [id]);
  const connection = new Client(new URL(statusUrl).origin);
  const response = await fetch(`${statusUrl}/stream?logs=1`, {
    headers: { ...falHeaders, accept: 'text/event-stream' },
    dispatcher: connection,
  });
  void connection.close().catch(() => {});
  const decoder = new TextDecoder();
  let buffer = '';
  let first = true;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .find((line) => line.startsWith('data:'));
      buffer = buffer.slice(end + 2);
      if (!data) continue;
      const status = JSON.parse(data.slice(5)) as { queue_position?: number };
      if (first) {
        first = false;
        const polled = (await (await fetch(`${statusUrl}?logs=1`, { headers: falHeaders, dispatcher: shared })).json()) as {
          queue_position?: number;
        };
        await queued(id, polled.queue_position ?? null);
      }
      await queued(id, status.queue_position ?? null);
    }
  }
}

async function generate(input: { imageUrl: string; prompt: string; duration?: number }) {
  const id = randomUUID();
  const now = new Date();
  const falInput = { image_url: input.imageUrl, prompt: input.prompt, duration: String(input.duration ?? 5) };
  await db.query(
    `WITH g AS (
       INSERT INTO "Generation" (id, "tenantId", status, backend, "endpointId", "imageUrl", prompt, duration, "generateAudio", "shotType", "falInput",
                                 "deadlineAt", "estimatedCostMicros", "lastSequence", "createdAt", "updatedAt")
       VALUES ($1::uuid, 'default', 'PENDING', 'FAL', $2, $3, $4, $5, false, 'customize', $6::jsonb, $7, 420000, 1, $8, $8) RETURNING id)
     INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "createdAt") SELECT id, 1, 'STATUS', 'PENDING', $8 FROM g`,
    [id, ENDPOINT, input.imageUrl, input.prompt, input.duration ?? 5, JSON.stringify(falInput), new Date(now.getTime() + 3600_000), now],
  );
  const response = await fetch(`${SIM_URL}/${ENDPOINT}`, {
    method: 'POST',
    headers: { authorization: `Key ${FAL_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(falInput),
    dispatcher: shared,
  });
  const {
    request_id: falRequestId,
    queue_position: queuePosition,
    status_url: statusUrl,
  } = (await response.json()) as { request_id: string; queue_position?: number; status_url: string };
  const [inQueue] = await db.query<{ sequence: number }>(QUEUE_SUBMITTED_SQL, [
    id,
    falRequestId,
    queuePosition ?? null,
    new Date().toISOString(),
  ]);
  if (TRACK)
    void track(id, statusUrl, Number(inQueue.sequence)).catch((error: unknown) => console.error(`tracking ${id}: ${String(error)}`));
  return { id, status: 'IN_QUEUE', falRequestId };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void (async () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { variables: { i: { imageUrl: string; prompt: string } } };
        const row = await generate(body.variables.i);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: { generateVideo: { __typename: 'GenerateVideoSuccess', generation: { id: row.id } } } }));
      } catch (error) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: String(error) }] }));
      }
    })();
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => printListening((server.address() as AddressInfo).port));
