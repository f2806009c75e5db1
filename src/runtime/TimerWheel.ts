/**
 * Pending timers of one node, or of every node of a simulated network: due
 * entries come out earliest first, and entries due at the same millisecond in
 * the order they were scheduled. A timer is an entry here, not a fiber: arming,
 * re-arming and cancelling cost a heap operation, and one fiber sleeping on the
 * Clock until the earliest entry serves them all (`Timers`).
 *
 * Kept as a binary min-heap on `(at, order scheduled)` rather than as hashed
 * slots: virtual time moves in jumps of seconds, and instants must stay exact to
 * the millisecond. Plain TS, no Effect.
 */

/** Receives its entries' values when they fall due. */
export interface TimerTarget<T> {
  fire(value: T): void
}

/** One scheduled value; `cancel` takes it back. */
export interface TimerEntry<T> {
  readonly at: number
  readonly value: T
  readonly target: TimerTarget<T>
  /** Position in the heap; -1 once fired or cancelled. */
  index: number
  seq: number
}

export class TimerWheel {
  private readonly heap: Array<TimerEntry<any>> = []
  private nextSeq = 0

  /** Entries waiting. */
  get size(): number {
    return this.heap.length
  }

  /** When the earliest entry falls due, or undefined when none waits. */
  get next(): number | undefined {
    return this.heap[0]?.at
  }

  /** Hands `value` to `target` once the Clock reaches millis `at`. */
  schedule<T>(at: number, target: TimerTarget<T>, value: T): TimerEntry<T> {
    const entry: TimerEntry<T> = { at, value, target, index: this.heap.length, seq: this.nextSeq++ }
    this.heap.push(entry)
    this.up(entry.index)
    return entry
  }

  /** Takes `entry` back; false when it already fired or was cancelled. */
  cancel(entry: TimerEntry<unknown>): boolean {
    const i = entry.index
    if (i < 0) return false
    entry.index = -1
    const last = this.heap.pop()!
    if (last !== entry) {
      this.heap[i] = last
      last.index = i
      this.down(i)
      this.up(last.index)
    }
    return true
  }

  /** Fires every entry due by `now`, in order; returns how many fired. */
  fireDue(now: number): number {
    let fired = 0
    for (let top = this.heap[0]; top !== undefined && top.at <= now; top = this.heap[0]) {
      this.cancel(top)
      fired++
      top.target.fire(top.value)
    }
    return fired
  }

  private before(a: TimerEntry<unknown>, b: TimerEntry<unknown>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private up(i: number): void {
    const heap = this.heap
    const entry = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (!this.before(entry, p)) break
      heap[i] = p
      p.index = i
      i = parent
    }
    heap[i] = entry
    entry.index = i
  }

  private down(i: number): void {
    const heap = this.heap
    const n = heap.length
    const entry = heap[i]!
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && this.before(heap[r]!, heap[l]!) ? r : l
      const c = heap[child]!
      if (!this.before(c, entry)) break
      heap[i] = c
      c.index = i
      i = child
    }
    heap[i] = entry
    entry.index = i
  }
}
