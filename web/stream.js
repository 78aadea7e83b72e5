// The client's place in its user's stream: which entries are new, and the coalesced `ack`s.

/** What an entry with `seq` is, given `at`, the last seq handled in a row (null when the
 *  session started without `since`: the replay then starts at the device's cursor):
 *  "next" (handle it), "duplicate" (drop it) or "gap" (an entry is missing: resume from `at`). */
export function entryOrder(at, seq) {
  if (at == null) return 'next';
  if (seq <= at) return 'duplicate';
  return seq === at + 1 ? 'next' : 'gap';
}

/** Sends `{"type":"ack","seq":n}` for the highest seq handled, at most every `delayMs` or
 *  every `every` entries, never the same or a lower seq twice. `send(frame)` returns whether
 *  the frame went out. */
export class AckBatcher {
  constructor(send, { every = 100, delayMs = 200 } = {}) {
    this.send = send;
    this.every = every;
    this.delayMs = delayMs;
    this.acked = 0;
    this.top = 0;
    this.count = 0;
    this.timer = null;
  }

  /** A new session: the server already has `seq` (the `since` or the reset head). */
  reset(seq) {
    this.stop();
    this.acked = seq;
    this.top = seq;
    this.count = 0;
  }

  /** Entry `seq` was handled. */
  handled(seq) {
    this.top = Math.max(this.top, seq);
    this.count += 1;
    if (this.count >= this.every) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.delayMs);
  }

  flush() {
    this.stop();
    if (this.top <= this.acked) return;
    if (this.send({ type: 'ack', seq: this.top })) {
      this.acked = this.top;
      this.count = 0;
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
