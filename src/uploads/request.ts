import { InputValidationError, type FieldProblem } from '../generations/errors.ts';
import { frameSourceProblems, validateGenerateVideoRequest, type GenerateVideoRequest } from '../generations/validation.ts';
import type { CheckedFrame, FrameUploads } from './index.ts';

/** The frame URLs of the caller's generation with this idempotency key, if there is one. */
export type EarlierFrames = (idempotencyKey: string) => Promise<{ imageUrl: string; endImageUrl: string | null } | null>;

/** GenerateVideoInput as the schema receives it: each frame as a URL or an uploaded File. */
export type GenerateVideoInputWithFiles = Omit<GenerateVideoRequest, 'imageUrl'> & {
  imageUrl?: string | null;
  image?: Blob | null;
  endImage?: Blob | null;
};

// Stands in for a frame that is still a file while the rest of the input is checked (never sent anywhere).
const PENDING_UPLOAD_URL = 'https://upload.invalid/frame';

/**
 * Turns uploaded frames into URLs. Everything is checked before anything is uploaded (the whole input with the
 * files standing in as URLs, and each file's size and type), and every problem is reported at once, so a bad
 * prompt never costs an upload and a bad file never reaches fal.
 */
export async function resolveUploadedFrames(
  input: GenerateVideoInputWithFiles,
  uploads: FrameUploads | undefined,
  earlierFrames?: EarlierFrames,
): Promise<GenerateVideoRequest> {
  const { image, endImage, ...rest } = input;
  const problems: FieldProblem[] = frameSourceProblems(input);
  try {
    validateGenerateVideoRequest({
      ...rest,
      imageUrl: rest.imageUrl ?? PENDING_UPLOAD_URL,
      endImageUrl: rest.endImageUrl ?? (endImage ? PENDING_UPLOAD_URL : null),
    });
  } catch (error) {
    if (!(error instanceof InputValidationError)) throw error;
    problems.push(...error.fieldErrors);
  }
  if (!image && !endImage) {
    if (problems.length > 0) throw new InputValidationError(problems);
    return { ...rest, imageUrl: rest.imageUrl as string };
  }
  if (!uploads) throw new Error('frame uploads are not wired into this server');

  // Checking a file costs nothing (it is already here), so its problems are reported with the others.
  const checks = await Promise.allSettled([
    image ? uploads.check(image, ['input', 'image']) : null,
    endImage ? uploads.check(endImage, ['input', 'endImage']) : null,
  ]);
  for (const check of checks) {
    if (check.status === 'rejected') {
      if (!(check.reason instanceof InputValidationError)) throw check.reason;
      problems.push(...check.reason.fieldErrors);
    }
  }
  if (problems.length > 0) throw new InputValidationError(problems);
  const [startFrame, endFrame] = checks.map((c) => (c.status === 'fulfilled' ? c.value : null));
  // A retry with the same idempotency key must send fal the same input, or it would be taken for a different
  // request: reuse the URL of an identical frame (same content, so same name) that the first attempt uploaded.
  const earlier = rest.idempotencyKey && earlierFrames ? await earlierFrames(rest.idempotencyKey) : null;
  const reuse = (frame: CheckedFrame, url: string | null | undefined) => (url && fileNameOf(url) === frame.fileName ? url : null);
  const [imageUrl, endImageUrl] = await Promise.all([
    startFrame ? (reuse(startFrame, earlier?.imageUrl) ?? uploads.upload(startFrame)) : (rest.imageUrl as string),
    endFrame ? (reuse(endFrame, earlier?.endImageUrl) ?? uploads.upload(endFrame)) : (rest.endImageUrl ?? null),
  ]);
  return { ...rest, imageUrl, endImageUrl };
}

function fileNameOf(url: string): string | null {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return null;
  }
}
