/**
 * Progress on stderr. On a terminal: one self-rewriting line with bytes done, total and rate.
 * Elsewhere (CI logs, pipes): no bar, only the milestone lines (downloaded X, retrying Y).
 */
export interface ErrStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

import { formatBytes } from './build-progress';

export { formatBytes };

export class Progress {
  private lastDraw = 0;
  private drawn = false;
  private readonly started = Date.now();
  private bytes = 0;

  constructor(private readonly err: ErrStream) {}

  get tty(): boolean {
    return this.err.isTTY === true;
  }

  /** Redraws the bar (at most 10 times a second). */
  bar(label: string, done: number, total?: number): void {
    if (!this.tty) return;
    this.bytes = done;
    const now = Date.now();
    if (now - this.lastDraw < 100 && (total === undefined || done < total)) return;
    this.lastDraw = now;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = `${formatBytes(this.bytes / seconds)}/s`;
    const width = 24;
    const filled = total ? Math.min(width, Math.round((done / Math.max(1, total)) * width)) : 0;
    const barText = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const amount = total ? `${formatBytes(done)} / ${formatBytes(total)}` : formatBytes(done);
    const line = `${label} ${barText}${amount} ${rate}`;
    this.err.write(`\r\x1b[2K${line.slice(0, (this.err.columns ?? 120) - 1)}`);
    this.drawn = true;
  }

  /** A line that stays (warnings, milestones); clears the bar first. */
  line(text: string): void {
    this.clear();
    this.err.write(`${text}\n`);
  }

  clear(): void {
    if (this.drawn) this.err.write('\r\x1b[2K');
    this.drawn = false;
  }
}
