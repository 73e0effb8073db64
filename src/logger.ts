/** A minimal structured logger; the sink is chosen at the edge (stderr in the CLI, a buffer in tests). */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const write = (level: string) => (message: string) => sink(`${new Date().toISOString()} ${level} ${message}`);
  return { info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Wraps a logger so that secrets never reach its sink: the given values (the fal key), anything that looks
 * like one of our API keys, and the value of any Bearer/Authorization credential.
 */
export function redactingLogger(inner: Logger, secrets: Array<string | null | undefined>): Logger {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  const redact = (message: string) => {
    let out = message;
    for (const secret of known) out = out.split(secret).join('[redacted]');
    return out
      .replace(/\brg_[A-Za-z0-9_-]{20,}/g, 'rg_[redacted]')
      .replace(/(authorization["']?\s*[:=]\s*["']?)(bearer\s+|key\s+|basic\s+)?[^\s"',}]+/gi, '$1$2[redacted]')
      .replace(/\b(bearer|key)\s+[A-Za-z0-9._~+/:=-]{12,}/gi, '$1 [redacted]');
  };
  return { info: (m) => inner.info(redact(m)), warn: (m) => inner.warn(redact(m)), error: (m) => inner.error(redact(m)) };
}
