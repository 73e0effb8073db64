/**
 * The one content type an archived video is stored and served with: fal's, when it is a plain `video/*`
 * type, otherwise `video/mp4`. Whatever fal (or a forged output) said, /videos/ never serves HTML, SVG or
 * scripts from our origin.
 */
export function videoContentType(reported: string | null | undefined): string {
  const type = (reported ?? '').trim().toLowerCase();
  return /^video\/[a-z0-9][a-z0-9!#$&^_.+-]{0,100}$/.test(type) ? type : 'video/mp4';
}

/** Sent on every /videos/ response (files, redirects and errors alike). */
export const VIDEO_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': 'sandbox',
};
