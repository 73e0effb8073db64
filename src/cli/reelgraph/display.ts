/** The server's progress estimate at one moment (see GenerationProgress in the schema). */
export interface Estimate {
  fraction: number;
  etaSeconds: number | null;
  estimatedCompletionAt: string;
}

/** What a watch reports, in order; the display decides how to show it. */
export type WatchEvent =
  | { kind: 'created'; id: string; status: string }
  | { kind: 'detached'; id: string; command: string }
  | { kind: 'status'; sequence: number; status: string; queuePosition: number | null; progress: Estimate | null }
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

/** "12 s", "1:05" (minutes), "1:02:05" (hours): an ETA for people. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  const [h, m, rest] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(rest).padStart(2, '0')}` : `${m}:${String(rest).padStart(2, '0')}`;
}

const percent = (fraction: number) => `${Math.floor(fraction * 100)}%`;

function describe(event: WatchEvent): string {
  switch (event.kind) {
    case 'created':
      return `created generation ${event.id} (${event.status})`;
    case 'detached':
      return `not waiting for it; follow it with: ${event.command}`;
    case 'status': {
      const details = [
        ...(event.queuePosition !== null ? [`queue position ${event.queuePosition}`] : []),
        ...(event.progress ? [percent(event.progress.fraction), `ETA ${duration(event.progress.etaSeconds ?? 0)}`] : []),
      ];
      return `#${event.sequence} ${event.status}${details.length ? ` (${details.join(', ')})` : ''}`;
    }
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
  // The last estimate and when it came: between events the bar moves on towards it, and the ETA counts down.
  let estimate: { fraction: number; at: number; end: number } | null = null;
  let sequence = 0;
  let note = '';
  let frame = 0;
  let drawn = false;
  let closed = false;

  const statusLine = () => {
    const parts = [status];
    if (queuePosition !== null && status === 'IN_QUEUE') parts.push(`queue position ${queuePosition}`);
    if (estimate && !TERMINAL.has(status)) parts.push(...progressParts(estimate, now()));
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
        case 'detached':
          above(`not waiting for it; follow it with: ${event.command}`);
          return;
        case 'status':
          status = event.status;
          queuePosition = event.queuePosition;
          if (event.progress)
            estimate = { fraction: event.progress.fraction, at: now(), end: Date.parse(event.progress.estimatedCompletionAt) };
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

const BAR_WIDTH = 20;

/** A bar and an ETA, moved on from the last estimate: the fraction goes linearly towards 1 at the expected end. */
export function progressParts(estimate: { fraction: number; at: number; end: number }, at: number): string[] {
  const span = estimate.end - estimate.at;
  const moved = span > 0 ? estimate.fraction + ((1 - estimate.fraction) * (at - estimate.at)) / span : estimate.fraction;
  const fraction = Math.min(0.99, Math.max(estimate.fraction, moved));
  const filled = Math.round(fraction * BAR_WIDTH);
  const left = (estimate.end - at) / 1000;
  return [
    `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${percent(fraction)}`,
    left > 0 ? `ETA ${duration(left)}` : 'ETA any moment',
  ];
}
