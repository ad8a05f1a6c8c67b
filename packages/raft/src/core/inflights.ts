/**
 * The bounded window of AppendEntries in flight to one follower in replicate
 * state (etcd tracker/inflights.go). Bounded by message count and by bytes
 * (STYLE.md H.2): a slow follower costs at most this much leader memory and
 * network.
 */
import { assert } from '@fjord/protocol';

export class Inflights {
  // Ring buffer of (last index, bytes) per message in flight.
  private readonly indexes: number[];
  private readonly sizes: number[];
  private start = 0;
  private countMsgs = 0;
  private bytes = 0;

  constructor(
    private readonly maxMsgs: number,
    private readonly maxBytes: number,
  ) {
    assert(Number.isSafeInteger(maxMsgs) && maxMsgs > 0, 'maxInflightMsgs must be > 0');
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0, 'maxInflightBytes must be >= 0');
    this.indexes = new Array<number>(maxMsgs).fill(0);
    this.sizes = new Array<number>(maxMsgs).fill(0);
  }

  get count(): number {
    return this.countMsgs;
  }

  get inflightBytes(): number {
    return this.bytes;
  }

  /** Records a message whose last entry is `lastIndex`; callers check full() first. */
  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'inflights: add while full');
    if (this.countMsgs > 0) {
      const prev = this.indexes[(this.start + this.countMsgs - 1) % this.maxMsgs] as number;
      assert(lastIndex > prev, () => `inflights: index ${lastIndex} not above ${prev}`);
    }
    const slot = (this.start + this.countMsgs) % this.maxMsgs;
    this.indexes[slot] = lastIndex;
    this.sizes[slot] = bytes;
    this.countMsgs++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.countMsgs > 0 && (this.indexes[this.start] as number) <= index) {
      this.bytes -= this.sizes[this.start] as number;
      this.start = (this.start + 1) % this.maxMsgs;
      this.countMsgs--;
    }
    if (this.countMsgs === 0) {
      this.start = 0;
      this.bytes = 0;
    }
  }

  /** Frees the oldest message: lets a full window make progress when acknowledgements were lost (etcd FreeFirstOne). */
  freeFirstOne(): void {
    if (this.countMsgs > 0) this.freeLE(this.indexes[this.start] as number);
  }

  full(): boolean {
    return this.countMsgs === this.maxMsgs || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.start = 0;
    this.countMsgs = 0;
    this.bytes = 0;
  }
}
