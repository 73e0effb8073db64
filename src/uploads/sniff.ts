/** The frame formats fal's image-to-video endpoints accept, recognised by their leading bytes. */
export type FrameContentType = 'image/png' | 'image/jpeg' | 'image/webp';

const EXTENSIONS: Record<FrameContentType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/**
 * What the bytes are, never what the name or the client's Content-Type claim: PNG's 8-byte signature, JPEG's
 * SOI marker followed by a marker byte, WebP's RIFF container with the WEBP form type.
 */
export function sniffFrameType(head: Uint8Array): FrameContentType | null {
  const starts = (bytes: number[], offset = 0) => head.length >= offset + bytes.length && bytes.every((b, i) => head[offset + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return null;
}

export function extensionFor(type: FrameContentType): string {
  return EXTENSIONS[type];
}

/** Bytes needed to recognise any supported type. */
export const SNIFF_BYTES = 12;
