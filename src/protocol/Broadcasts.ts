/**
 * The transmit-limited broadcast queue: every accepted state change is queued
 * once as encoded bytes and piggybacked onto outgoing packets until it has been
 * sent `retransmitLimit` times. A newer message about the same node replaces the
 * queued one. Selection: fewest transmissions first, then the longest message
 * that still fits, then the newest.
 *
 * Items live in one tier per transmission count, each tier kept sorted so that
 * the best candidate (longest, then newest) is last: taking what fits costs a
 * binary search per message taken rather than a sort of the whole queue per
 * packet, and a new broadcast usually lands at the end of its tier.
 */

/** A compound counts its parts in one byte. */
export const MAX_PARTS = 255

interface Item {
  readonly key: string | undefined
  readonly bytes: Uint8Array
  readonly id: number
  readonly notify: number | undefined
  transmits: number
}

/** Order within a tier, worst candidate first: shorter first, then older first. */
const before = (a: Item, b: Item): boolean =>
  a.bytes.length < b.bytes.length || (a.bytes.length === b.bytes.length && a.id < b.id)

/** Index where `item` belongs in `tier`. */
const insertionPoint = (tier: ReadonlyArray<Item>, item: Item): number => {
  let lo = 0
  let hi = tier.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (before(tier[mid]!, item)) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The last index below `end` whose message is at most `free` bytes long, or -1. */
const lastFitting = (tier: ReadonlyArray<Item>, end: number, free: number): number => {
  let lo = 0
  let hi = end
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (tier[mid]!.bytes.length <= free) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

export class BroadcastQueue {
  /** `tiers[t]`: items sent `t` times, in selection order. */
  private readonly tiers: Array<Array<Item>> = []
  private readonly byKey = new Map<string, Item>()
  private count = 0
  private nextId = 0
  /** Notification ids of broadcasts that finished (fully sent or replaced), for the caller to drain. */
  readonly finished: Array<number> = []

  /** Queued broadcasts. */
  get size(): number {
    return this.count
  }

  /**
   * Queues `bytes`; with a `key`, replaces the queued broadcast with that key.
   * `notify` is reported in `finished` once this broadcast is done.
   */
  enqueue(bytes: Uint8Array, key?: string, notify?: number): void {
    if (key !== undefined) {
      const old = this.byKey.get(key)
      if (old !== undefined) this.remove(old)
    }
    const item: Item = { key, bytes, id: this.nextId++, notify, transmits: 0 }
    this.insert(item)
    if (key !== undefined) this.byKey.set(key, item)
  }

  /**
   * Takes up to `maxCount` broadcasts that fit into `limit` bytes, counting
   * `overhead` bytes per message, and counts one transmission for each.
   */
  take(overhead: number, limit: number, transmitLimit: number, maxCount = MAX_PARTS): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    if (this.count === 0 || maxCount <= 0) return out
    const taken: Array<Item> = []
    let free = limit - overhead
    for (let t = 0; t < this.tiers.length && free > 0 && taken.length < maxCount; t++) {
      const tier = this.tiers[t]!
      let i = lastFitting(tier, tier.length, free)
      while (i >= 0 && free > 0 && taken.length < maxCount) {
        const item = tier[i]!
        // Taken items leave their tier now and come back one tier up after the walk,
        // so that a single packet never carries the same broadcast twice.
        tier.splice(i, 1)
        taken.push(item)
        out.push(item.bytes)
        free -= overhead + item.bytes.length
        i = lastFitting(tier, i, free)
      }
    }
    this.count -= taken.length
    for (const item of taken) {
      item.transmits++
      if (item.transmits >= transmitLimit) this.finish(item)
      else this.insert(item)
    }
    return out
  }

  /** Drops everything (a node shutting down), reporting each waiter as finished. */
  clear(): void {
    for (const tier of this.tiers) for (const item of tier) this.finish(item)
    this.tiers.length = 0
    this.count = 0
  }

  private insert(item: Item): void {
    while (this.tiers.length <= item.transmits) this.tiers.push([])
    const tier = this.tiers[item.transmits]!
    tier.splice(insertionPoint(tier, item), 0, item)
    this.count++
  }

  private remove(item: Item): void {
    const tier = this.tiers[item.transmits]
    if (tier !== undefined) {
      const i = insertionPoint(tier, item)
      if (tier[i] === item) {
        tier.splice(i, 1)
        this.count--
      }
    }
    this.finish(item)
  }

  private finish(item: Item): void {
    if (item.key !== undefined && this.byKey.get(item.key) === item) this.byKey.delete(item.key)
    if (item.notify !== undefined) this.finished.push(item.notify)
  }
}
