/**
 * The transmit-limited broadcast queue: every accepted state change is queued
 * once as encoded bytes and piggybacked onto outgoing packets until it has been
 * sent `retransmitLimit` times. A newer message about the same node replaces the
 * queued one. Selection: fewest transmissions first, then the longest message
 * that still fits, then the newest.
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

const order = (a: Item, b: Item): number =>
  a.transmits - b.transmits || b.bytes.length - a.bytes.length || b.id - a.id

export class BroadcastQueue {
  private items: Array<Item> = []
  private readonly byKey = new Map<string, Item>()
  private nextId = 0
  /** Notification ids of broadcasts that finished (fully sent or replaced), for the caller to drain. */
  readonly finished: Array<number> = []

  /** Queued broadcasts. */
  get size(): number {
    return this.items.length
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
    this.items.push(item)
    if (key !== undefined) this.byKey.set(key, item)
  }

  /**
   * Takes up to `maxCount` broadcasts that fit into `limit` bytes, counting
   * `overhead` bytes per message, and counts one transmission for each.
   */
  take(overhead: number, limit: number, transmitLimit: number, maxCount = MAX_PARTS): Array<Uint8Array> {
    const out: Array<Uint8Array> = []
    if (this.items.length === 0 || maxCount <= 0) return out
    this.items.sort(order)
    let used = 0
    let done = false
    for (const item of this.items) {
      const free = limit - used - overhead
      if (free <= 0) break
      if (item.bytes.length > free) continue
      if (out.length === maxCount) break
      used += overhead + item.bytes.length
      out.push(item.bytes)
      item.transmits++
      if (item.transmits >= transmitLimit) done = true
    }
    if (done) {
      const keep: Array<Item> = []
      for (const item of this.items) {
        if (item.transmits >= transmitLimit) this.finish(item)
        else keep.push(item)
      }
      this.items = keep
    }
    return out
  }

  /** Drops everything (a node shutting down), reporting each waiter as finished. */
  clear(): void {
    for (const item of this.items) this.finish(item)
    this.items = []
  }

  private remove(item: Item): void {
    const i = this.items.indexOf(item)
    if (i >= 0) this.items.splice(i, 1)
    this.finish(item)
  }

  private finish(item: Item): void {
    if (item.key !== undefined && this.byKey.get(item.key) === item) this.byKey.delete(item.key)
    if (item.notify !== undefined) this.finished.push(item.notify)
  }
}
