// Pull progress for people: on a terminal, one live line per layer (bytes
// done/total and speed, redrawn at most 10 times a second) like docker pull;
// otherwise one plain line per event, so logs stay readable.

export type LayerEvent = 'waiting' | 'exists' | 'downloading' | 'retrying' | 'downloaded' | 'extracting' | 'done';

export interface PullProgress {
  /** A line about the whole pull ("Pulling from library/busybox", "Digest: ..."). */
  status(message: string): void;
  layer(id: string, event: LayerEvent, total?: number): void;
  /** More bytes of a layer arrived (`delta`), out of `total`. */
  bytes(id: string, delta: number, total: number): void;
  /** Drawing done: leave the terminal tidy. */
  finish(): void;
}

export const silentProgress: PullProgress = {
  status: () => undefined,
  layer: () => undefined,
  bytes: () => undefined,
  finish: () => undefined,
};

/** SI units as docker pull shows them: 1.2MB, 834kB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

const LABELS: Record<LayerEvent, string> = {
  waiting: 'Waiting',
  exists: 'Already exists',
  downloading: 'Downloading',
  retrying: 'Retrying',
  downloaded: 'Download complete',
  extracting: 'Extracting',
  done: 'Pull complete',
};

interface LayerState {
  event: LayerEvent;
  done: number;
  total: number;
  started: number;
}

/** One line per event, for logs and pipes. */
export class PlainProgress implements PullProgress {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}
  status(message: string): void {
    this.out.write(message + '\n');
  }
  layer(id: string, event: LayerEvent, total?: number): void {
    if (event === 'waiting') return;
    const size = event === 'downloading' && total !== undefined ? ` (${formatBytes(total)})` : '';
    this.out.write(`${id}: ${LABELS[event]}${size}\n`);
  }
  bytes(): void {
    /* per-chunk updates are for terminals only */
  }
  finish(): void {
    /* nothing to tidy */
  }
}

/** Live lines redrawn in place with ANSI cursor movement. */
export class TerminalProgress implements PullProgress {
  private readonly layers = new Map<string, LayerState>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  status(message: string): void {
    // Messages go below the layer block, which is then final (Digest/Status come last).
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.layers.size > 0) this.draw();
    this.out.write(message + '\n');
    this.layers.clear();
    this.drawn = 0;
  }

  layer(id: string, event: LayerEvent, total?: number): void {
    const s = this.layers.get(id) ?? { event, done: 0, total: 0, started: Date.now() };
    s.event = event;
    if (total !== undefined) s.total = total;
    if (event === 'downloading' || event === 'retrying') {
      s.done = 0;
      s.started = Date.now();
    }
    const fresh = !this.layers.has(id);
    this.layers.set(id, s);
    // A new line is drawn at once; state changes wait for the next frame like byte counts.
    this.schedule(fresh);
  }

  bytes(id: string, delta: number, total: number): void {
    const s = this.layers.get(id);
    if (!s) return;
    s.done += delta;
    s.total = total;
    this.schedule(false);
  }

  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private soon = false;

  /** now: at the next turn of the event loop (batching what arrives together); else within 100 ms. */
  private schedule(now: boolean): void {
    if (this.timer && !(now && !this.soon)) return;
    if (this.timer) clearTimeout(this.timer);
    this.soon = now;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, now ? 0 : 100);
    this.timer.unref();
  }

  private line(id: string, s: LayerState): string {
    if (s.event !== 'downloading') return `${id}: ${LABELS[s.event]}`;
    const width = 30;
    const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 0;
    const fill = Math.round(frac * width);
    const bar = `[${'='.repeat(Math.max(0, fill - 1))}${fill > 0 ? '>' : ''}${' '.repeat(width - fill)}]`;
    const secs = (Date.now() - s.started) / 1000;
    const speed = secs > 0.2 ? `  ${formatBytes(Math.round(s.done / secs))}/s` : '';
    return `${id}: Downloading ${bar} ${formatBytes(s.done)}/${formatBytes(s.total)}${speed}`;
  }

  private draw(): void {
    const cols = this.out.columns || 100;
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [id, s] of this.layers) text += `\r\x1b[2K${this.line(id, s).slice(0, cols - 1)}\n`;
    this.drawn = this.layers.size;
    this.out.write(text);
  }
}
