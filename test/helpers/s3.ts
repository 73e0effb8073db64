import { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { registerLeftover } from './leftovers.ts';

export interface TestS3 {
  /** http://127.0.0.1:<port>, for S3_ENDPOINT. */
  endpoint: string;
  bucket: string;
  /** What an instance needs to archive into the bucket under `prefix` (path style, any key, us-east-1). */
  env(prefix?: string): Record<string, string>;
  /** A client of our own, to look into the bucket. */
  client: S3Client;
  /** Stops answering at once (open connections are cut, as when the service goes away). */
  stop(): Promise<void>;
  /** Starts again on the same port and directory: the bucket and its objects are still there. */
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A real S3-compatible server (s3rver, shared/reference/environment.md) on a loopback port chosen by the
 * system, with its own temporary directory and one bucket.
 */
export async function startS3(bucket = 'videos'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'reelgraph-s3-'));
  let port = 0;
  let server: S3rver | null = null;
  const start = async () => {
    const next = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket }] });
    port = (await next.run()).port;
    server = next;
  };
  const stop = async () => {
    const current = server;
    server = null;
    if (!current) return;
    const closed = current.close();
    current.httpServer?.closeAllConnections();
    await closed;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  const dispose = async () => {
    unregister();
    client.destroy();
    await stop();
    await rm(directory, { recursive: true, force: true });
  };
  const unregister = registerLeftover(`s3rver (bucket ${bucket})`, dispose);
  return {
    endpoint,
    bucket,
    client,
    env: (prefix = 'archive') => ({
      ARCHIVE_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    }),
    stop,
    start,
    dispose,
  };
}
