import { InputValidationError, type FieldProblem } from '../generations/errors.ts';
import type { CheckedFrame, FrameUploads } from './index.ts';

/** The frames a client sent as files (GraphQL multipart `image` / `endImage`). */
export interface FrameFiles {
  image?: Blob | null;
  endImage?: Blob | null;
}

export interface CheckedFrames {
  start: CheckedFrame | null;
  end: CheckedFrame | null;
}

/**
 * Checks each file (size, then type by content) without uploading anything. Checking costs nothing (the file
 * is already here), so its problems are returned to be reported with the input's other problems.
 */
export async function checkFrameFiles(
  files: FrameFiles,
  uploads: FrameUploads,
): Promise<{ problems: FieldProblem[]; frames: CheckedFrames }> {
  const checks = await Promise.allSettled([
    files.image ? uploads.check(files.image, ['input', 'image']) : null,
    files.endImage ? uploads.check(files.endImage, ['input', 'endImage']) : null,
  ]);
  const problems: FieldProblem[] = [];
  for (const check of checks) {
    if (check.status === 'rejected') {
      if (!(check.reason instanceof InputValidationError)) throw check.reason;
      problems.push(...check.reason.fieldErrors);
    }
  }
  const [start, end] = checks.map((c) => (c.status === 'fulfilled' ? c.value : null));
  return { problems, frames: { start, end } };
}

/**
 * Uploads checked frames through fal's storage and resolves with their URLs (null for a frame not given as a
 * file). A retry with the same idempotency key must send fal the same input, or it would be taken for a
 * different request: the URL of an identical frame (same content, so same name) that the first attempt
 * uploaded is reused instead.
 */
export async function uploadFrames(
  frames: CheckedFrames,
  uploads: FrameUploads,
  earlier: { imageUrl: string; endImageUrl: string | null } | null,
): Promise<{ imageUrl: string | null; endImageUrl: string | null }> {
  const reuse = (frame: CheckedFrame, url: string | null | undefined) => (url && fileNameOf(url) === frame.fileName ? url : null);
  const [imageUrl, endImageUrl] = await Promise.all([
    frames.start ? (reuse(frames.start, earlier?.imageUrl) ?? uploads.upload(frames.start)) : null,
    frames.end ? (reuse(frames.end, earlier?.endImageUrl) ?? uploads.upload(frames.end)) : null,
  ]);
  return { imageUrl, endImageUrl };
}

function fileNameOf(url: string): string | null {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return null;
  }
}
