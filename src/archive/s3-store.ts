import { GetObjectCommand, HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import type { Config } from '../config.ts';
import type { ArchiveStore } from './store.ts';

/** The bucket ARCHIVE_URL names and how to reach it (parsed once, in config.ts). */
export type S3StoreOptions = NonNullable<Config['archive']['s3']>;

/** lib-storage switches to a multipart upload above one part; 8 MiB parts, four in flight, bound the memory used. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

/**
 * Archived videos in an S3-compatible bucket. Uploads go straight to the final key with lib-storage's
 * `Upload`: a single PutObject for small files, a multipart upload otherwise. Either way S3 makes the object
 * visible only when the PutObject or CompleteMultipartUpload succeeds, which lib-storage sends only after the
 * body ended cleanly (a body error aborts the multipart upload instead), so the archiver's verifying stream
 * decides whether anything lands. Locations are `s3://bucket/key`.
 */
export function createS3Store(options: S3StoreOptions): ArchiveStore & { close(): void } {
  const client = new S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.region ? { region: options.region } : {}),
    forcePathStyle: options.forcePathStyle,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // S3-compatible services differ in support for the SDK's newer default checksums (aws-chunked CRC32
    // uploads); send them only where an operation requires one. Our own size and sha256 check stays.
    ...(options.endpoint
      ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }
      : {}),
  });
  const base = `s3://${options.bucket}/`;
  const keyOf = (location: string) => (location.startsWith(base) ? location.slice(base.length) : null);
  const notFound = (error: unknown) =>
    error instanceof S3ServiceException &&
    (error.$metadata.httpStatusCode === 404 || error.name === 'NotFound' || error.name === 'NoSuchKey');

  return {
    kind: 's3',
    description: `bucket ${options.bucket}${options.prefix ? `, prefix ${options.prefix}/` : ''}${options.endpoint ? ` at ${new URL(options.endpoint).origin}` : ''}`,
    async put(name, body, { contentType }) {
      const key = options.prefix ? `${options.prefix}/${name}` : name;
      const upload = new Upload({
        client,
        params: { Bucket: options.bucket, Key: key, Body: body, ContentType: contentType },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (error) {
        body.destroy();
        throw error;
      }
      return `${base}${key}`;
    },
    async head(location) {
      const key = keyOf(location);
      if (key === null) return null;
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key }));
        return { size: head.ContentLength ?? 0 };
      } catch (error) {
        if (notFound(error)) return null;
        throw error;
      }
    },
    async read(location, { start, end }) {
      const key = keyOf(location);
      if (key === null) return null;
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: key, Range: `bytes=${start}-${end}` }));
        return object.Body as Readable;
      } catch (error) {
        if (notFound(error)) return null;
        throw error;
      }
    },
    async presign(location, { contentType, ttlSeconds }) {
      const key = keyOf(location);
      if (key === null) return null;
      // The bucket answers the client directly: it must say video/*, whatever metadata the object carries.
      const command = new GetObjectCommand({ Bucket: options.bucket, Key: key, ResponseContentType: contentType });
      return getSignedUrl(client, command, { expiresIn: ttlSeconds });
    },
    close() {
      client.destroy();
    },
  };
}
