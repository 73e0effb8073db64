/** What a watch reports, in order; the display decides how to show it. */
export type WatchEvent =
  | { kind: 'created'; id: string; status: string }
  | { kind: 'status'; sequence: number; status: string; queuePosition: number | null }
  | { kind: 'log'; sequence: number; message: string; level: string; timestamp: string }
  | { kind: 'reconnecting'; attempt: number; afterSequence: number; reason: string }
  | { kind: 'reconnected'; afterSequence: number }
  | { kind: 'finished'; status: string; videoUrl: string | null; error: { code: string; message: string } | null }
  | { kind: 'downloaded'; path: string; bytes: number };

/** Where output goes (process.stdout, or a test's buffer). */
export interface Output {
  write(text: string): unknown;
}

export type DisplayMode = 'tty' | 'plain' | 'json';

export interface Display {
  readonly mode: DisplayMode;
  event(event: WatchEvent): void;
  /** Stops the live display (timer, cursor); the last state stays on screen. */
  close(): void;
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

function seconds(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function describe(event: WatchEvent): string {
  switch (event.kind) {
    case 'created':
      return `created generation ${event.id} (${event.status})`;
    case 'status':
      return `#${event.sequence} ${event.status}${event.queuePosition !== null ? ` (queue position ${event.queuePosition})` : ''}`;
    case 'log':
      return `#${event.sequence} log ${event.level}: ${event.message}`;
    case 'reconnecting':
      return event.attempt === 1
        ? `connection lost (${event.reason}); reconnecting, resuming after #${event.afterSequence}`
        : `still no connection (${event.reason}); retrying (attempt ${event.attempt})`;
    case 'reconnected':
      return `reconnected, resuming after #${event.afterSequence}`;
    case 'finished':
      if (event.status === 'COMPLETED') return `COMPLETED video: ${event.videoUrl ?? '(no URL)'}`;
      return `${event.status}${event.error ? `: ${event.error.code}: ${event.error.message}` : ''}`;
    case 'downloaded':
      return `saved ${event.path} (${event.bytes} bytes)`;
  }
}

/**
 * Picks the display: a live one on a terminal, one line per event otherwise (pipes, CI logs), one JSON object
 * per line with --json. Diagnostics never go to stdout in JSON mode, so it stays machine-readable.
 */
export function createDisplay(mode: DisplayMode, out: Output & { columns?: number }, now: () => number = Date.now): Display {
  const started = now();
  if (mode === 'json') {
    return {
      mode,
      event: (event) => out.write(`${JSON.stringify({ ...event, elapsedMs: now() - started })}\n`),
      close: () => {},
    };
  }
  if (mode === 'plain') {
    return {
      mode,
      event: (event) => out.write(`[${seconds(now() - started)}] ${describe(event)}\n`),
      close: () => {},
    };
  }
  return createLiveDisplay(out, started, now);
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';
const dim = (s: string) => `\x1b[2m${s}\x1b[22m`;
const bold = (s: string) => `\x1b[1m${s}\x1b[22m`;

/**
 * The terminal display: log lines scroll above one status line (status, queue position, elapsed time, last
 * event) that is redrawn in place, and ticks every 100 ms so the clock moves while nothing happens.
 */
function createLiveDisplay(out: Output & { columns?: number }, started: number, now: () => number): Display {
  let status = 'connecting';
  let queuePosition: number | null = null;
  let sequence = 0;
  let note = '';
  let frame = 0;
  let drawn = false;
  let closed = false;

  const statusLine = () => {
    const parts = [status];
    if (queuePosition !== null && status === 'IN_QUEUE') parts.push(`queue position ${queuePosition}`);
    parts.push(seconds(now() - started));
    if (sequence > 0) parts.push(`event #${sequence}`);
    if (note) parts.push(note);
    const spinner = TERMINAL.has(status) ? ' ' : SPINNER[frame % SPINNER.length];
    // One row, or the next redraw would only clear its last part: cut to the terminal width before styling.
    const width = Math.max(20, (out.columns || 80) - 1);
    let line = `${spinner} ${parts.join(' · ')}`;
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    return line.startsWith(`${spinner} ${status}`) ? `${spinner} ${bold(status)}${line.slice(spinner.length + 1 + status.length)}` : line;
  };
  const redraw = () => {
    if (closed) return;
    out.write(`${CLEAR_LINE}${statusLine()}`);
    drawn = true;
  };
  const above = (text: string) => {
    if (closed) {
      out.write(`${text}\n`);
      return;
    }
    out.write(`${drawn ? CLEAR_LINE : ''}${text}\n`);
    redraw();
  };
  const timer = setInterval(() => {
    frame += 1;
    redraw();
  }, 100);
  timer.unref();

  return {
    mode: 'tty',
    event(event) {
      switch (event.kind) {
        case 'created':
          above(`${dim('generation')} ${event.id}`);
          return;
        case 'status':
          status = event.status;
          queuePosition = event.queuePosition;
          sequence = event.sequence;
          note = '';
          redraw();
          return;
        case 'log':
          sequence = event.sequence;
          above(`${dim(event.timestamp.slice(11, 19))} ${event.message}`);
          return;
        case 'reconnecting':
          note = `reconnecting (attempt ${event.attempt})…`;
          redraw();
          return;
        case 'reconnected':
          note = '';
          redraw();
          return;
        case 'finished':
          status = event.status;
          note = '';
          redraw();
          out.write('\n');
          drawn = false;
          closed = true;
          clearInterval(timer);
          if (event.status === 'COMPLETED') out.write(`video: ${event.videoUrl ?? '(no URL)'}\n`);
          else if (event.error) out.write(`${event.error.code}: ${event.error.message}\n`);
          return;
        case 'downloaded':
          above(`saved ${event.path} (${event.bytes} bytes)`);
          return;
      }
    },
    close() {
      clearInterval(timer);
      if (drawn) out.write('\n');
      drawn = false;
      closed = true;
    },
  };
}
