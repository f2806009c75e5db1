/**
 * A time-ordered queue of pending deliveries for the simulated network: a
 * binary min-heap keyed by `(at, seq)`. `seq` is stamped on push, so entries
 * due at the same millisecond come out in the order they were pushed, which is
 * what keeps equal-time packets in send order. Plain TS, no Effect: it sits on
 * the per-packet path.
 */

/** Something due at Clock time `at` (millis); `seq` is assigned by the queue. */
export interface Timed {
  readonly at: number
  seq: number
}

/** Min-heap of `Timed` entries ordered by `(at, seq)`. */
export class DeliveryQueue<T extends Timed> {
  private readonly heap: Array<T> = []
  private nextSeq = 0

  /** Number of pending entries. */
  get size(): number {
    return this.heap.length
  }

  /** The earliest entry, without removing it. */
  peek(): T | undefined {
    return this.heap[0]
  }

  /** Adds an entry; later pushes with the same `at` come out later. */
  push(entry: T): void {
    entry.seq = this.nextSeq++
    const heap = this.heap
    let i = heap.length
    heap.push(entry)
    // sift up
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (!before(entry, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = entry
  }

  /** Removes and returns the earliest entry. */
  pop(): T | undefined {
    const heap = this.heap
    const top = heap[0]
    if (top === undefined) return undefined
    const last = heap.pop()!
    const n = heap.length
    if (n > 0) {
      // sift the last entry down from the root
      let i = 0
      while (true) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const child = r < n && before(heap[r]!, heap[l]!) ? r : l
        const c = heap[child]!
        if (!before(c, last)) break
        heap[i] = c
        i = child
      }
      heap[i] = last
    }
    return top
  }
}

const before = (a: Timed, b: Timed): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)
