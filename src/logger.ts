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
