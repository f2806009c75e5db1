/**
 * One tier of the broadcast queue: slots kept sorted by a numeric key the queue
 * gives (`tierKey`: shorter first, then older first), in blocks of at most `BLOCK`
 * slots. Inserting or removing moves at most one block, where one sorted array
 * would move half the tier: a node that merges the state of ten thousand members
 * queues ten thousand alives, most of them into the middle of a tier.
 *
 * A block is a chunk of the queue's `Blocks`, which holds its keys beside its slots,
 * so that a search reads one block's keys in order instead of the queue's columns
 * at random (a tier's items are scattered over the queue's slots). Each block's
 * first and last keys are also kept side by side, so that finding the block reads
 * one array rather than a block per step: with ten thousand queues in a process,
 * each block read is a cache miss.
 *
 * Moves within blocks are loops of at most `BLOCK` entries, about as fast as `copyWithin`
 * at that size.
 *
 * Positions are (block, offset) pairs. Blocks are never empty, so the position
 * just past an item and the start of the next block name the same place.
 */
import { BLOCK, Blocks } from "./Blocks.ts"

/** Slots per block when a batch is cut into blocks: room left for later inserts. */
const FILL = (BLOCK * 3) >>> 2

/** Keys per unit of length: ids stay below it, so a key orders by length, then by id. */
const LENGTH_UNIT = 2 ** 32

/** The key of an item `length` bytes long with id `id` (below 2^31): exact in a double. */
export const tierKey = (length: number, id: number): number => length * LENGTH_UNIT + id

export class Tier {
  private readonly store: Blocks
  /** Each block's chunk in `store`, in key order. */
  private readonly chunks: Array<number> = []
  private readonly counts: Array<number> = []
  /** Each block's first and last keys (doubles, unboxed). */
  private readonly firsts: Array<number> = []
  private readonly lasts: Array<number> = []
  /** Slots in the tier. */
  length = 0
  /** Where the last `lastFitting` found its item. */
  foundBlock = 0
  foundOffset = 0

  /** `store`: shared by the tiers of one queue. */
  constructor(store: Blocks = new Blocks()) {
    this.store = store
  }

  /** The block count: `(blockCount, 0)` is the position past the last item. */
  get blockCount(): number {
    return this.chunks.length
  }

  at(block: number, offset: number): number {
    return this.store.slots[this.chunks[block]! * BLOCK + offset]!
  }

  /** Every slot, in order. */
  forEach(f: (slot: number) => void): void {
    const slots = this.store.slots
    for (let b = 0; b < this.chunks.length; b++) {
      const base = this.chunks[b]! * BLOCK
      const n = this.counts[b]!
      for (let i = 0; i < n; i++) f(slots[base + i]!)
    }
  }

  /** Gives every slot the key `key(slot)`, which must keep the tier's order (ids renumbered in order). */
  rekey(key: (slot: number) => number): void {
    const { keys, slots } = this.store
    for (let b = 0; b < this.chunks.length; b++) {
      const base = this.chunks[b]! * BLOCK
      const n = this.counts[b]!
      for (let i = 0; i < n; i++) keys[base + i] = key(slots[base + i]!)
      this.firsts[b] = keys[base]!
      this.lasts[b] = keys[base + n - 1]!
    }
  }

  /**
   * Inserts `slots[from, until)`, whose `keys` (same places) are in descending order (what one
   * `take` moves up a tier, or a push/pull's alives sorted): the ones that fall into the same
   * block are merged into it in one pass, which moves the block's items once rather than once
   * per slot. A block that overflows becomes as many blocks, each three quarters full.
   */
  insertDescending(slots: ArrayLike<number>, keys: ArrayLike<number>, from: number, until: number): void {
    let k = from
    if (this.chunks.length === 0 && k < until) {
      this.insert(slots[k]!, keys[k]!)
      k++
    }
    while (k < until) {
      let b = this.blockOf(keys[k]!)
      if (b === this.chunks.length) b--
      // the slots after it that belong to the same block: above the previous block's last key
      const floor = b === 0 ? -1 : this.lasts[b - 1]!
      let end = k + 1
      while (end < until && keys[end]! > floor) end++
      if (end - k === 1) this.insert(slots[k]!, keys[k]!)
      else this.merge(b, slots, keys, k, end)
      k = end
    }
  }

  insert(slot: number, key: number): void {
    this.length++
    if (this.chunks.length === 0) {
      const chunk = this.store.allocate()
      this.store.slots[chunk * BLOCK] = slot
      this.store.keys[chunk * BLOCK] = key
      this.chunks.push(chunk)
      this.counts.push(1)
      this.firsts.push(key)
      this.lasts.push(key)
      return
    }
    let b = this.blockOf(key)
    if (b === this.chunks.length) b--
    let n = this.counts[b]!
    let i = lowerBound(this.store.keys, this.chunks[b]! * BLOCK, n, key)
    if (n === BLOCK) {
      // split in halves; the slot goes into whichever half it belongs to
      const half = BLOCK >>> 1
      const upper = this.store.allocate()
      const { keys, slots } = this.store
      const base = this.chunks[b]! * BLOCK
      for (let j = 0; j < BLOCK - half; j++) {
        keys[upper * BLOCK + j] = keys[base + half + j]!
        slots[upper * BLOCK + j] = slots[base + half + j]!
      }
      insertAt(this.chunks, b + 1, upper)
      insertAt(this.counts, b + 1, BLOCK - half)
      insertAt(this.firsts, b + 1, keys[upper * BLOCK]!)
      insertAt(this.lasts, b + 1, this.lasts[b]!)
      this.counts[b] = half
      this.lasts[b] = keys[base + half - 1]!
      if (i > half) {
        b++
        i -= half
      }
      n = this.counts[b]!
    }
    const { keys, slots } = this.store
    const base = this.chunks[b]! * BLOCK
    for (let j = base + n; j > base + i; j--) {
      slots[j] = slots[j - 1]!
      keys[j] = keys[j - 1]!
    }
    slots[base + i] = slot
    keys[base + i] = key
    this.counts[b] = n + 1
    if (i === 0) this.firsts[b] = key
    if (i === n) this.lasts[b] = key
  }

  /** Removes `slot`, queued under `key`, if the tier holds it; whether it did. */
  remove(slot: number, key: number): boolean {
    const b = this.blockOf(key)
    if (b === this.chunks.length) return false
    const base = this.chunks[b]! * BLOCK
    const i = lowerBound(this.store.keys, base, this.counts[b]!, key)
    if (i === this.counts[b] || this.store.slots[base + i] !== slot) return false
    this.removeAt(b, i)
    return true
  }

  /** Removes the item at `(block, offset)`; a block left empty goes back to the store. */
  removeAt(block: number, offset: number): void {
    this.length--
    const last = --this.counts[block]!
    if (last === 0) {
      this.store.release(this.chunks[block]!)
      deleteAt(this.chunks, block)
      deleteAt(this.counts, block)
      deleteAt(this.firsts, block)
      deleteAt(this.lasts, block)
      return
    }
    const { keys, slots } = this.store
    const base = this.chunks[block]! * BLOCK
    for (let j = base + offset; j < base + last; j++) {
      slots[j] = slots[j + 1]!
      keys[j] = keys[j + 1]!
    }
    if (offset === 0) this.firsts[block] = keys[base]!
    if (offset === last) this.lasts[block] = keys[base + last - 1]!
  }

  /**
   * The last item before position `(block, offset)` whose length is at most `free`: true and
   * its position in `foundBlock`/`foundOffset`, or false when there is none.
   */
  lastFitting(block: number, offset: number, free: number): boolean {
    // the first position whose key reaches `limit` (a length over `free`): fitting items precede it
    const limit = (free + 1) * LENGTH_UNIT
    const firsts = this.firsts
    let lo = 0
    let hi = firsts.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (firsts[mid]! < limit) lo = mid + 1
      else hi = mid
    }
    let b = lo
    let o = 0
    if (lo > 0 && this.lasts[lo - 1]! >= limit) {
      b = lo - 1
      o = lowerBound(this.store.keys, this.chunks[b]! * BLOCK, this.counts[b]!, limit)
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

  /**
   * Merges `slots[k, end)` (keys descending, all above the previous block's last key) into block
   * `b`, from the top down, so that no item is read after it was overwritten. When they do not
   * fit, the block becomes as many blocks three quarters full, the new ones in free chunks.
   */
  private merge(b: number, newSlots: ArrayLike<number>, newKeys: ArrayLike<number>, k: number, end: number): void {
    const n = this.counts[b]!
    const total = n + end - k
    const parts = total <= BLOCK ? 1 : Math.ceil(total / FILL)
    // part j takes merged positions [start(j), start(j + 1)) into block b + j
    const start = (j: number) => Math.floor((j * total) / parts)
    for (let j = 1; j < parts; j++) {
      insertAt(this.chunks, b + j, this.store.allocate())
      insertAt(this.counts, b + j, start(j + 1) - start(j))
      insertAt(this.firsts, b + j, 0)
      insertAt(this.lasts, b + j, 0)
    }
    const { keys, slots } = this.store
    const base = this.chunks[b]! * BLOCK
    let i = n - 1
    let p = k
    let part = parts - 1
    let partStart = start(part)
    let at = this.chunks[b + part]! * BLOCK - partStart
    // While new items remain, merged position w lies above the block's item i: part 0 is the
    // block's own chunk, so what it overwrites was read already.
    for (let w = total - 1; w >= 0; w--) {
      if (w < partStart) {
        part--
        partStart = start(part)
        at = this.chunks[b + part]! * BLOCK - partStart
      }
      if (p === end && part === 0) break // the rest of the block is where it was
      if (p < end && (i < 0 || keys[base + i]! <= newKeys[p]!)) {
        slots[at + w] = newSlots[p]!
        keys[at + w] = newKeys[p]!
        p++
      } else {
        slots[at + w] = slots[base + i]!
        keys[at + w] = keys[base + i]!
        i--
      }
    }
    this.length += end - k
    this.counts[b] = start(1)
    for (let j = 0; j < parts; j++) {
      const first = this.chunks[b + j]! * BLOCK
      this.firsts[b + j] = keys[first]!
      this.lasts[b + j] = keys[first + this.counts[b + j]! - 1]!
    }
  }

  /** The first block whose last key is not below `key`; `blockCount` when none. */
  private blockOf(key: number): number {
    const lasts = this.lasts
    let lo = 0
    let hi = lasts.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (lasts[mid]! < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** The first index below `n` from `base` whose key is not below `key`, counted from `base`. */
const lowerBound = (keys: Float64Array, base: number, n: number, key: number): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[base + mid]! < key) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** `list.splice(at, 0, value)`, without the empty array `splice` returns: it runs per block moved. */
const insertAt = (list: Array<number>, at: number, value: number): void => {
  let i = list.length
  list.push(value)
  for (; i > at; i--) list[i] = list[i - 1]!
  list[at] = value
}

/**
 * `list.splice(at, 1)`, without the array of what it removed. Shortened by its length, as
 * `splice` does, which gives back the room of a list that shrank to less than half.
 */
const deleteAt = (list: Array<number>, at: number): void => {
  const last = list.length - 1
  for (let i = at; i < last; i++) list[i] = list[i + 1]!
  list.length = last
}
