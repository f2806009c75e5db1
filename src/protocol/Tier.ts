/**
 * One tier of the broadcast queue: slots kept sorted by an order the queue
 * gives (`Order`), in blocks of at most `BLOCK` slots. Inserting or removing
 * moves at most one block, where one sorted array would move half the tier: a
 * node that merges the state of ten thousand members queues ten thousand
 * alives, most of them into the middle of a tier.
 *
 * Positions are (block, offset) pairs. Blocks are never empty, so the position
 * just past an item and the start of the next block name the same place.
 */

/** Slots per block at most, and room in a new tier's first block. */
const BLOCK = 256
const FIRST_BLOCK = 8

/** The order of a tier: whether slot `a` comes before slot `b`, and the length sorted on first. */
export interface Order {
  readonly before: (a: number, b: number) => boolean
  readonly length: (slot: number) => number
}

export class Tier {
  private readonly blocks: Array<Int32Array> = []
  private readonly counts: Array<number> = []
  /** Slots in the tier. */
  length = 0
  /** Where the last `lastFitting` found its item. */
  foundBlock = 0
  foundOffset = 0

  /** The block count: `(blockCount, 0)` is the position past the last item. */
  get blockCount(): number {
    return this.blocks.length
  }

  at(block: number, offset: number): number {
    return this.blocks[block]![offset]!
  }

  /** Every slot, in order. */
  forEach(f: (slot: number) => void): void {
    for (let b = 0; b < this.blocks.length; b++) {
      const items = this.blocks[b]!
      const n = this.counts[b]!
      for (let i = 0; i < n; i++) f(items[i]!)
    }
  }

  get byteLength(): number {
    let bytes = 0
    for (const items of this.blocks) bytes += items.byteLength
    return bytes
  }

  insert(slot: number, order: Order): void {
    this.length++
    if (this.blocks.length === 0) {
      const items = new Int32Array(FIRST_BLOCK)
      items[0] = slot
      this.blocks.push(items)
      this.counts.push(1)
      return
    }
    let b = this.blockOf(slot, order)
    if (b === this.blocks.length) b--
    let items = this.blocks[b]!
    let n = this.counts[b]!
    let i = lowerBound(items, n, slot, order)
    if (n === BLOCK) {
      // split in halves; the slot goes into whichever half it belongs to
      const half = BLOCK >>> 1
      const upper = new Int32Array(half)
      upper.set(items.subarray(half, BLOCK))
      this.blocks.splice(b + 1, 0, upper)
      this.counts.splice(b + 1, 0, BLOCK - half)
      this.counts[b] = half
      if (i > half) {
        b++
        i -= half
        items = upper
      }
      n = this.counts[b]!
    }
    if (n === items.length) {
      // blocks grow as they fill, up to `BLOCK`: a tier of a few items costs a few words
      const bigger = new Int32Array(Math.min(BLOCK, items.length * 2))
      bigger.set(items)
      this.blocks[b] = bigger
      items = bigger
    }
    if (n - i <= SHORT_MOVE) for (let j = n; j > i; j--) items[j] = items[j - 1]!
    else items.copyWithin(i + 1, i, n)
    items[i] = slot
    this.counts[b] = n + 1
  }

  /** Removes `slot` if the tier holds it; whether it did. */
  remove(slot: number, order: Order): boolean {
    const b = this.blockOf(slot, order)
    if (b === this.blocks.length) return false
    const items = this.blocks[b]!
    const i = lowerBound(items, this.counts[b]!, slot, order)
    if (i === this.counts[b] || items[i] !== slot) return false
    this.removeAt(b, i)
    return true
  }

  /** Removes the item at `(block, offset)`; a block left empty goes. */
  removeAt(block: number, offset: number): void {
    this.length--
    const items = this.blocks[block]!
    const last = --this.counts[block]!
    if (last === 0) {
      this.blocks.splice(block, 1)
      this.counts.splice(block, 1)
      return
    }
    if (last - offset <= SHORT_MOVE) for (let j = offset; j < last; j++) items[j] = items[j + 1]!
    else items.copyWithin(offset, offset + 1, last + 1)
  }

  /**
   * The last item before position `(block, offset)` whose length is at most `free`: true and
   * its position in `foundBlock`/`foundOffset`, or false when there is none.
   */
  lastFitting(block: number, offset: number, free: number, order: Order): boolean {
    // the first position whose length exceeds `free`: lengths ascend, so fitting items precede it
    let lo = 0
    let hi = this.blocks.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (order.length(this.blocks[mid]![0]!) <= free) lo = mid + 1
      else hi = mid
    }
    let b = lo
    let o = 0
    if (lo > 0) {
      const items = this.blocks[lo - 1]!
      let l = 0
      let h = this.counts[lo - 1]!
      while (l < h) {
        const mid = (l + h) >>> 1
        if (order.length(items[mid]!) <= free) l = mid + 1
        else h = mid
      }
      if (l < this.counts[lo - 1]!) {
        b = lo - 1
        o = l
      }
    }
    // the earlier of the two positions, then one item back
    if (block < b || (block === b && offset < o)) {
      b = block
      o = offset
    }
    if (o > 0) {
      this.foundBlock = b
      this.foundOffset = o - 1
      return true
    }
    if (b === 0) return false
    this.foundBlock = b - 1
    this.foundOffset = this.counts[b - 1]! - 1
    return true
  }

  /** The first block whose last item does not come before `slot`; `blockCount` when none. */
  private blockOf(slot: number, order: Order): number {
    let lo = 0
    let hi = this.blocks.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (order.before(this.blocks[mid]![this.counts[mid]! - 1]!, slot)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** Moves of up to this many slots are done by hand rather than with `copyWithin`. */
const SHORT_MOVE = 16

/** The first index below `n` whose item does not come before `slot`. */
const lowerBound = (items: Int32Array, n: number, slot: number, order: Order): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (order.before(items[mid]!, slot)) lo = mid + 1
    else hi = mid
  }
  return lo
}
