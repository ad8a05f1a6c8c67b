/**
 * The ordered segments of one partition (Kafka's LogSegments) and the bound on
 * how many of them hold open resources. Lookup by offset is a binary search for
 * the floor base offset. The last segment is the active one and is always open;
 * the others are opened on demand and closed least-recently-used first once more
 * than `maxOpenSegments` are open (STYLE.md H.2: file descriptors are bounded).
 */
import { assert } from '@fjord/protocol';
import type { LogSegment } from './segment.js';

export class SegmentSet {
  private readonly segments: LogSegment[] = [];
  private readonly maxOpen: number;
  /** Open segments in least-recently-used-first order (Map keeps insertion order). */
  private readonly open = new Map<LogSegment, true>();

  constructor(options: { maxOpenSegments: number }) {
    assert(options.maxOpenSegments >= 2, 'maxOpenSegments must be >= 2');
    this.maxOpen = options.maxOpenSegments;
  }

  get count(): number {
    return this.segments.length;
  }

  get active(): LogSegment {
    const last = this.segments[this.segments.length - 1];
    assert(last !== undefined, 'a log always has an active segment');
    return last;
  }

  get first(): LogSegment {
    return this.at(0);
  }

  at(i: number): LogSegment {
    const s = this.segments[i];
    assert(s !== undefined, () => `segment ${i} of ${this.segments.length}`);
    return s;
  }

  all(): readonly LogSegment[] {
    return this.segments;
  }

  /** Index of the segment with the largest base offset <= `offset`, or -1. */
  floorIndex(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.segments[mid] as LogSegment).baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Adds a new last segment (it becomes active). */
  push(segment: LogSegment): void {
    const last = this.segments[this.segments.length - 1];
    assert(last === undefined || segment.baseOffset > last.baseOffset, () => `segment ${segment.baseOffset} does not follow ${last?.baseOffset}`);
    this.segments.push(segment);
    this.touch(segment);
  }

  /** Removes and returns the first `n` segments (retention). */
  removeFirst(n: number): LogSegment[] {
    assert(n >= 0 && n < this.segments.length, 'retention never removes the active segment');
    const removed = this.segments.splice(0, n);
    for (const s of removed) this.open.delete(s);
    return removed;
  }

  /** Removes and returns the segments from index `i` on (truncation). */
  removeFrom(i: number): LogSegment[] {
    assert(i >= 0 && i <= this.segments.length, 'bad segment index');
    const removed = this.segments.splice(i);
    for (const s of removed) this.open.delete(s);
    return removed;
  }

  totalBytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.sizeBytes;
    return total;
  }

  /**
   * Marks `segment` as just used, so it stays open; closes the least recently
   * used non-active segments beyond the bound. Call before using a segment's
   * file or indexes.
   */
  touch(segment: LogSegment): void {
    this.open.delete(segment);
    this.open.set(segment, true);
    if (this.open.size <= this.maxOpen) return;
    const active = this.segments[this.segments.length - 1];
    for (const s of this.open.keys()) {
      if (this.open.size <= this.maxOpen) break;
      if (s === active || s === segment) continue;
      this.open.delete(s);
      s.releaseResources();
    }
    assert(this.open.size <= this.maxOpen, 'open segment bound');
  }

  /** Segments currently holding resources (for tests and metrics). */
  openCount(): number {
    return this.open.size;
  }
}
