/**
 * One tier of the broadcast queue: slots kept sorted by a numeric key the queue
 * gives (`tierKey`: shorter first, then older first), in blocks of at most `BLOCK`
 * slots. Inserting or removing moves at most one block, where one sorted array
 * would move half the tier: a node that merges the state of ten thousand members
 * queues ten thousand alives, most of them into the middle of a tier.
 *
 * Each block holds its keys beside its slots, so that a search reads one block's
 * keys in order instead of the queue's columns at random (a tier's items are
 * scattered over the queue's slots). Each block's first and last keys are also
 * kept side by side, so that finding the block reads one array rather than a
 * block per step: with ten thousand queues in a process, each block read is a
 * cache miss.
 *
 * Positions are (block, offset) pairs. Blocks are never empty, so the position
 * just past an item and the start of the next block name the same place.
 */

/** Slots per block at most, and room in a new tier's first block. */
const BLOCK = 256
const FIRST_BLOCK = 8
/** Slots per block when a batch is cut into blocks: room left for later inserts. */
const FILL = (BLOCK * 3) >>> 2

/** Keys per unit of length: ids stay below it, so a key orders by length, then by id. */
const LENGTH_UNIT = 2 ** 32

/** The key of an item `length` bytes long with id `id` (below 2^31): exact in a double. */
export const tierKey = (length: number, id: number): number => length * LENGTH_UNIT + id

export class Tier {
  private readonly slots: Array<Int32Array> = []
  private readonly keys: Array<Float64Array> = []
  private readonly counts: Array<number> = []
  /** Each block's first and last keys (doubles, unboxed). */
  private readonly firsts: Array<number> = []
  private readonly lasts: Array<number> = []
  /** Slots in the tier. */
  length = 0
  /** Where the last `lastFitting` found its item. */
  foundBlock = 0
  foundOffset = 0

  /** The block count: `(blockCount, 0)` is the position past the last item. */
  get blockCount(): number {
    return this.slots.length
  }

  at(block: number, offset: number): number {
    return this.slots[block]![offset]!
  }

  /** Every slot, in order. */
  forEach(f: (slot: number) => void): void {
    for (let b = 0; b < this.slots.length; b++) {
      const items = this.slots[b]!
      const n = this.counts[b]!
      for (let i = 0; i < n; i++) f(items[i]!)
    }
  }

  /** Gives every slot the key `key(slot)`, which must keep the tier's order (ids renumbered in order). */
  rekey(key: (slot: number) => number): void {
    for (let b = 0; b < this.slots.length; b++) {
      const items = this.slots[b]!
      const keys = this.keys[b]!
      const n = this.counts[b]!
      for (let i = 0; i < n; i++) keys[i] = key(items[i]!)
      this.firsts[b] = keys[0]!
      this.lasts[b] = keys[n - 1]!
    }
  }

  get byteLength(): number {
    let bytes = 0
    for (let b = 0; b < this.slots.length; b++) bytes += this.slots[b]!.byteLength + this.keys[b]!.byteLength
    return bytes
  }

  /**
   * Inserts `slots[from, until)`, whose `keys` (same places) are in descending order (what one
   * `take` moves up a tier, or a push/pull's alives sorted): the ones that fall into the same
   * block are merged into it in one pass, which moves the block's items once rather than once
   * per slot. A block that overflows becomes as many blocks, each three quarters full.
   */
  insertDescending(slots: ArrayLike<number>, keys: ArrayLike<number>, from: number, until: number): void {
    let k = from
    if (this.slots.length === 0 && k < until) {
      this.insert(slots[k]!, keys[k]!)
      k++
    }
    while (k < until) {
      let b = this.blockOf(keys[k]!)
      if (b === this.slots.length) b--
      // the slots after it that belong to the same block: above the previous block's last key
      const floor = b === 0 ? -1 : this.lasts[b - 1]!
      let end = k + 1
      while (end < until && keys[end]! > floor) end++
      if (end - k === 1) {
        this.insert(slots[k]!, keys[k]!)
        k = end
        continue
      }
      const n = this.counts[b]!
      const total = n + end - k
      let items: Int32Array | Array<number> = this.slots[b]!
      let blockKeys: Float64Array | Array<number> = this.keys[b]!
      const inPlace = total <= BLOCK
      if (!inPlace) {
        // the whole merge in plain arrays (the garbage collector's, not malloc's), then cut into blocks
        const merged = new Array<number>(total)
        const mergedKeys = new Array<number>(total)
        for (let j = 0; j < n; j++) {
          merged[j] = items[j]!
          mergedKeys[j] = blockKeys[j]!
        }
        items = merged
        blockKeys = mergedKeys
      } else if (total > items.length) {
        let size = items.length * 2
        while (size < total) size *= 2
        const biggerItems = new Int32Array(Math.min(BLOCK, size))
        const biggerKeys = new Float64Array(biggerItems.length)
        biggerItems.set(items.subarray(0, n))
        biggerKeys.set(blockKeys.subarray(0, n))
        items = biggerItems
        blockKeys = biggerKeys
      }
      // merge from the top: the block's items and the new ones, largest key first
      let i = n - 1
      let w = total - 1
      for (let p = k; p < end; w--) {
        if (i >= 0 && blockKeys[i]! > keys[p]!) {
          items[w] = items[i]!
          blockKeys[w] = blockKeys[i]!
          i--
        } else {
          items[w] = slots[p]!
          blockKeys[w] = keys[p]!
          p++
        }
      }
      this.length += end - k
      k = end
      if (inPlace) {
        // merged in place: still the block's typed arrays
        this.slots[b] = items as Int32Array
        this.keys[b] = blockKeys as Float64Array
        this.counts[b] = total
        this.firsts[b] = blockKeys[0]!
        this.lasts[b] = blockKeys[total - 1]!
        continue
      }
      this.cut(b, items, blockKeys, total)
    }
  }

  /** Replaces block `b` with blocks three quarters full holding `items` and their `keys` (`total`, in order). */
  private cut(b: number, items: ArrayLike<number>, keys: ArrayLike<number>, total: number): void {
    const parts = Math.ceil(total / FILL)
    const newSlots: Array<Int32Array> = []
    const newKeys: Array<Float64Array> = []
    const newCounts: Array<number> = []
    const newFirsts: Array<number> = []
    const newLasts: Array<number> = []
    for (let part = 0; part < parts; part++) {
      const start = Math.floor((part * total) / parts)
      const stop = Math.floor(((part + 1) * total) / parts)
      // sized to fit, as `insert` sizes the halves of a split: a block grows when it next takes one
      const partItems = new Int32Array(stop - start)
      const partKeys = new Float64Array(stop - start)
      for (let j = start; j < stop; j++) {
        partItems[j - start] = items[j]!
        partKeys[j - start] = keys[j]!
      }
      newSlots.push(partItems)
      newKeys.push(partKeys)
      newCounts.push(stop - start)
      newFirsts.push(partKeys[0]!)
      newLasts.push(partKeys[stop - start - 1]!)
    }
    this.slots.splice(b, 1, ...newSlots)
    this.keys.splice(b, 1, ...newKeys)
    this.counts.splice(b, 1, ...newCounts)
    this.firsts.splice(b, 1, ...newFirsts)
    this.lasts.splice(b, 1, ...newLasts)
  }

  insert(slot: number, key: number): void {
    this.length++
    if (this.slots.length === 0) {
      const items = new Int32Array(FIRST_BLOCK)
      const keys = new Float64Array(FIRST_BLOCK)
      items[0] = slot
      keys[0] = key
      this.slots.push(items)
      this.keys.push(keys)
      this.counts.push(1)
      this.firsts.push(key)
      this.lasts.push(key)
      return
    }
    let b = this.blockOf(key)
    if (b === this.slots.length) b--
    let items = this.slots[b]!
    let keys = this.keys[b]!
    let n = this.counts[b]!
    let i = lowerBound(keys, n, key)
    if (n === BLOCK) {
      // split in halves; the slot goes into whichever half it belongs to
      const half = BLOCK >>> 1
      const upperItems = items.slice(half, BLOCK)
      const upperKeys = keys.slice(half, BLOCK)
      this.slots.splice(b + 1, 0, upperItems)
      this.keys.splice(b + 1, 0, upperKeys)
      this.counts.splice(b + 1, 0, BLOCK - half)
      this.firsts.splice(b + 1, 0, upperKeys[0]!)
      this.lasts.splice(b + 1, 0, this.lasts[b]!)
      this.counts[b] = half
      this.lasts[b] = keys[half - 1]!
      if (i > half) {
        b++
        i -= half
        items = upperItems
        keys = upperKeys
      }
      n = this.counts[b]!
    }
    if (n === items.length) {
      // blocks grow as they fill, up to `BLOCK`: a tier of a few items costs a few words
      const size = Math.min(BLOCK, items.length * 2)
      const biggerItems = new Int32Array(size)
      const biggerKeys = new Float64Array(size)
      biggerItems.set(items)
      biggerKeys.set(keys)
      this.slots[b] = items = biggerItems
      this.keys[b] = keys = biggerKeys
    }
    if (n - i <= SHORT_MOVE) {
      for (let j = n; j > i; j--) {
        items[j] = items[j - 1]!
        keys[j] = keys[j - 1]!
      }
    } else {
      items.copyWithin(i + 1, i, n)
      keys.copyWithin(i + 1, i, n)
    }
    items[i] = slot
    keys[i] = key
    this.counts[b] = n + 1
    if (i === 0) this.firsts[b] = key
    if (i === n) this.lasts[b] = key
  }

  /** Removes `slot`, queued under `key`, if the tier holds it; whether it did. */
  remove(slot: number, key: number): boolean {
    const b = this.blockOf(key)
    if (b === this.slots.length) return false
    const i = lowerBound(this.keys[b]!, this.counts[b]!, key)
    if (i === this.counts[b] || this.slots[b]![i] !== slot) return false
    this.removeAt(b, i)
    return true
  }

  /** Removes the item at `(block, offset)`; a block left empty goes. */
  removeAt(block: number, offset: number): void {
    this.length--
    const items = this.slots[block]!
    const keys = this.keys[block]!
    const last = --this.counts[block]!
    if (last === 0) {
      this.slots.splice(block, 1)
      this.keys.splice(block, 1)
      this.counts.splice(block, 1)
      this.firsts.splice(block, 1)
      this.lasts.splice(block, 1)
      return
    }
    if (last - offset <= SHORT_MOVE) {
      for (let j = offset; j < last; j++) {
        items[j] = items[j + 1]!
        keys[j] = keys[j + 1]!
      }
    } else {
      items.copyWithin(offset, offset + 1, last + 1)
      keys.copyWithin(offset, offset + 1, last + 1)
    }
    if (offset === 0) this.firsts[block] = keys[0]!
    if (offset === last) this.lasts[block] = keys[last - 1]!
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
    if (lo > 0) {
      const l = lowerBound(this.keys[lo - 1]!, this.counts[lo - 1]!, limit)
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

/** Moves of up to this many slots are done by hand rather than with `copyWithin`. */
const SHORT_MOVE = 16

/** The first index below `n` whose key is not below `key`. */
const lowerBound = (keys: Float64Array, n: number, key: number): number => {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid]! < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
