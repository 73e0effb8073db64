// Hand-written instead of eventsource-parser (via FalStream) for speed: one indexOf pass per chunk, no per-event objects, callbacks, timers or promises.
/**
 * An incremental reader of the `text/event-stream` format (WHATWG HTML §9.2.6), reduced to what fal's status
 * stream uses (protocol §4): only `data` fields matter; `event`, `id`, `retry`, unknown fields and `:` comments
 * (fal's keep-alives) are skipped. Lines end in LF, CRLF or CR, also when a chunk boundary splits a CRLF; a
 * blank line ends an event; multi-line data is joined with "\n"; an event the stream ends in the middle of is
 * dropped, as the standard (and eventsource-parser) do.
 */
export class SseDataParser {
  /** The start of a line the last chunk ended inside. */
  #rest = '';
  /** The data of the event being read; null until it has a data field. */
  #data: string | null = null;
  /** The last chunk ended in CR: an LF opening the next one ends the same line. */
  #afterCR = false;
  #first = true;

  /** Reads a chunk of decoded text and appends the data of every event it completes, in order, to `events`. */
  push(chunk: string, events: string[]): void {
    if (chunk === '') return;
    let text = chunk;
    if (this.#afterCR) {
      this.#afterCR = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    if (this.#rest !== '') {
      text = this.#rest + text;
      this.#rest = '';
    }
    if (this.#first && text !== '') {
      this.#first = false;
      // A byte-order mark may open the stream (and only there).
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const end = text.length;
    let pos = 0;
    let lf = text.indexOf('\n');
    let cr = text.indexOf('\r');
    while (pos < end) {
      if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
      // The line ends at the nearer of the next LF and the next CR.
      let eol: number;
      let next: number;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        if (lf === -1) break;
        eol = lf;
        next = lf + 1;
      } else {
        eol = cr;
        if (cr + 1 === end) {
          next = end;
          this.#afterCR = true;
        } else next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      }
      this.#line(text, pos, eol, events);
      pos = next;
    }
    if (pos < end) this.#rest = pos === 0 ? text : text.slice(pos);
  }

  #line(text: string, start: number, end: number, events: string[]): void {
    if (start === end) {
      if (this.#data !== null) events.push(this.#data);
      this.#data = null;
      return;
    }
    // "data:" (d a t a :) or a bare "data" line, which is a data field with an empty value.
    if (
      end - start < 4 ||
      text.charCodeAt(start) !== 100 ||
      text.charCodeAt(start + 1) !== 97 ||
      text.charCodeAt(start + 2) !== 116 ||
      text.charCodeAt(start + 3) !== 97
    )
      return;
    let valueStart: number;
    if (end - start === 4) valueStart = end;
    else if (text.charCodeAt(start + 4) === 58) valueStart = text.charCodeAt(start + 5) === 32 && start + 5 < end ? start + 6 : start + 5;
    else return;
    const value = text.slice(valueStart, end);
    this.#data = this.#data === null ? value : `${this.#data}\n${value}`;
  }
}
