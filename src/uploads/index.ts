import { createHash } from 'node:crypto';
import { InputValidationError } from '../generations/errors.ts';
import type { FalGateway } from '../fal/types.ts';
import { extensionFor, sniffFrameType, SNIFF_BYTES } from './sniff.ts';

/** Default largest frame accepted (MAX_UPLOAD_BYTES). */
export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

export interface FrameUploadsOptions {
  fal: Pick<FalGateway, 'upload'>;
  /** Largest accepted file in bytes (default 20 MB). */
  maxBytes?: number;
}

/** A frame that passed the checks: its real type and size, ready to be sent to fal's storage. */
export interface CheckedFrame {
  file: Blob;
  contentType: string;
  /** `<sha256 of the bytes>.<ext>`: the same frame gets the same name, so a retry can recognise its upload. */
  fileName: string;
}

export interface FrameUploads {
  readonly maxBytes: number;
  /**
   * Checks a client's file (size, then type by content). Throws InputValidationError naming `path`, so the
   * client can point at the form field; nothing is uploaded for a bad file.
   */
  check(file: Blob, path: string[]): Promise<CheckedFrame>;
  /** Uploads a checked frame through fal's storage and resolves with the URL fal serves it at. */
  upload(frame: CheckedFrame): Promise<string>;
}

/**
 * Frame uploads (GraphQL multipart `image` / `endImage`): files are checked here and uploaded through the fal
 * client's storage, so the model only ever sees a URL, exactly as if the client had given `imageUrl`.
 */
export function createFrameUploads(options: FrameUploadsOptions): FrameUploads {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  return {
    maxBytes,
    async check(file, path) {
      if (file.size === 0) throw invalid(path, 'is empty');
      if (file.size > maxBytes) throw invalid(path, `is too large (${file.size} bytes; the limit is ${maxBytes} bytes)`);
      // Read whole (the size is bounded above): the request's File may be a ponyfill without slice(), and fetch
      // needs Node's own Blob to send it on.
      const bytes = new Uint8Array(await file.arrayBuffer());
      const type = sniffFrameType(bytes.subarray(0, SNIFF_BYTES));
      if (!type) throw invalid(path, 'must be a PNG, JPEG or WebP image');
      // Our own name: the client's file name is not trusted (fal would publish it in the file URL).
      const digest = createHash('sha256').update(bytes).digest('hex');
      return { file: new Blob([bytes], { type }), contentType: type, fileName: `${digest}.${extensionFor(type)}` };
    },
    upload(frame) {
      return options.fal.upload(frame.file, frame.fileName);
    },
  };
}

function invalid(path: string[], message: string): InputValidationError {
  return new InputValidationError([{ path, message }]);
}
