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
 * packet. A tier keeps its slots in blocks (`Tier.ts`), so that an insert into
 * its middle moves one block, not half the tier.
 *
 * Storage is by column (an item is a slot in typed arrays; a tier is sorted
 * blocks of slots), besides the bytes themselves, which are shared when the
 * encoder hands out shared bytes: about 30 bytes an item at the least, 50 to 60
 * with the tiers' blocks part full and growth room (ten thousand items queued).
 * A node just after joining a cluster of ten thousand queues ten thousand alives.
 */

import { Blocks } from "./Blocks.ts"
import { grownColumn, int32Column, releaseColumn, uint16Column } from "./Columns.ts"
import { Tier, tierKey } from "./Tier.ts"

/** A compound counts its parts in one byte. */
export const MAX_PARTS = 255

/** Slots an empty queue may keep; beyond, it gives its columns back (`shrink`). */
const SMALL = 64

/**
 * Keys an empty queue may keep room for. Beyond, it gives the key index back too: a word per
 * name the node ever queued news about, which ten thousand nodes of a simulated network would
 * otherwise each keep for good; making it again when the queue next fills costs one allocation.
 */
const SMALL_KEYS = 1024

/** Ids order items within a tier; they are renumbered before they would overflow. */
const MAX_ID = 0x7fffffff

/** The transmit count of an item enqueued while the queue holds (see `hold`): in no tier yet. */
const HELD = 0xffff

/** Given the key of a queued item: the queue holds it while the item is queued. */
export interface KeyHolder {
  readonly retain: (key: number) => void
  readonly release: (key: number) => void
}

const noKeys: KeyHolder = { retain: () => {}, release: () => {} }

export class BroadcastQueue {
  /** `tiers[t]`: items sent `t` times, worst candidate first: shorter first, then older first. */
  private readonly tiers: Array<Tier> = []
  /** The tiers' blocks. */
  private blocks = new Blocks()
  private bytes: Array<Uint8Array | undefined> = []
  /** Byte lengths, capped at 65,535 (more than any datagram: such an item never fits). */
  private lengths = uint16Column(8)
  private ids = int32Column(8)
  private transmits = uint16Column(8)
  /** The item's key, -1 when it has none. */
  private keys = int32Column(8)
  private readonly notifies = new Map<number, number>()
  private free: Array<number> = []
  /** The queued item of each key, -1 when none. */
  private byKey = int32Column(0)
  private readonly holder: KeyHolder
  private count = 0
  private nextId = 0
  /**
   * The slots one `take` walks off with (at most `MAX_PARTS`); those that go back up a tier
   * are then gathered at its front, their keys in `movedKeys`.
   */
  private readonly taken = int32Column(MAX_PARTS)
  private readonly movedKeys: Array<number> = []
  /** Notification ids of broadcasts that finished (fully sent or replaced), for the caller to drain. */
  readonly finished: Array<number> = []
  /** Whether enqueued items wait in `held` until `settle`, and those items (stale entries skipped). */
  private holding = false
  private held: Array<number> = []

  constructor(holder: KeyHolder = noKeys) {
    this.holder = holder
  }

  /** Queued broadcasts. */
  get size(): number {
    return this.count
  }

  /**
   * Queues `bytes`; with a `key` (a small non-negative integer), replaces the queued
   * broadcast with that key. `notify` is reported in `finished` once this broadcast is done.
   */
  enqueue(bytes: Uint8Array, key?: number, notify?: number): void {
    if (key !== undefined && key < this.byKey.length) {
      const old = this.byKey[key]!
      if (old >= 0) this.remove(old)
    }
    if (this.nextId === MAX_ID) this.renumber()
    const slot = this.allocate()
    this.bytes[slot] = bytes
    this.lengths[slot] = Math.min(bytes.length, 0xffff)
    this.ids[slot] = this.nextId++
    this.transmits[slot] = this.holding ? HELD : 0
    this.keys[slot] = key ?? -1
    if (notify !== undefined) this.notifies.set(slot, notify)
    if (key !== undefined) {
      this.holder.retain(key)
      if (key >= this.byKey.length) this.growKeys(key + 1)
      this.byKey[key] = slot
    }
    if (this.holding) {
      this.held.push(slot)
      this.count++
    } else this.insert(slot)
  }

  /**
   * Until `settle`, enqueued items wait outside their tier: a push/pull queues an alive for
   * every member it teaches us, and thousands of them go in sorted, as one batch, rather than
   * one binary search and block move each. Nothing is taken in between.
   */
  hold(): void {
    this.holding = true
  }

  /** Puts what was enqueued since `hold` into the first tier. */
  settle(): void {
    this.holding = false
    const held = this.held
    if (held.length === 0) return
    this.held = []
    const slots: Array<number> = []
    for (const slot of held) {
      // an item replaced before the batch settled is no longer held; a reused slot is listed twice
      if (this.transmits[slot] !== HELD) continue
      this.transmits[slot] = 0
      slots.push(slot)
    }
    slots.sort((a, b) => this.key(b) - this.key(a))
    const keys = slots.map((slot) => this.key(slot))
    if (this.tiers.length === 0) this.tiers.push(new Tier(this.blocks))
    this.tiers[0]!.insertDescending(slots, keys, 0, slots.length)
  }

  /**
   * Takes up to `maxCount` (at most `MAX_PARTS`) broadcasts that fit into `limit` bytes, counting
   * `overhead` bytes per message, and counts one transmission for each.
   */
  take(overhead: number, limit: number, transmitLimit: number, maxCount: number = MAX_PARTS): Array<Uint8Array> {
    if (maxCount > MAX_PARTS) maxCount = MAX_PARTS
    if (this.count === 0 || maxCount <= 0) return []
    const taken = this.taken
    let n = 0
    let free = limit - overhead
    for (let t = 0; t < this.tiers.length && free > 0 && n < maxCount; t++) {
      const tier = this.tiers[t]!
      let block = tier.blockCount
      let offset = 0
      while (free > 0 && n < maxCount && tier.lastFitting(block, offset, free)) {
        block = tier.foundBlock
        offset = tier.foundOffset
        const slot = tier.at(block, offset)
        // Taken items leave their tier now and come back one tier up after the walk,
        // so that a single packet never carries the same broadcast twice.
        tier.removeAt(block, offset)
        taken[n++] = slot
        free -= overhead + this.lengths[slot]!
      }
    }
    // made to size: a packet keeps it (grown push by push, it took two or three arrays)
    const out = new Array<Uint8Array>(n)
    for (let k = 0; k < n; k++) out[k] = this.bytes[taken[k]!]!
    this.count -= n
    // Taken tier by tier, each tier's best first: the ones not done go up a tier together,
    // gathered at the front of `taken` (never past where the walk reads).
    const keys = this.movedKeys
    let moved = 0
    let group = 0
    let to = -1
    for (let k = 0; k < n; k++) {
      const slot = taken[k]!
      const t = ++this.transmits[slot]!
      if (t >= transmitLimit) {
        this.finish(slot)
        continue
      }
      if (t !== to) {
        this.moveUp(to, group, moved)
        to = t
        group = moved
      }
      taken[moved] = slot
      keys[moved++] = this.key(slot)
    }
    this.moveUp(to, group, moved)
    if (this.count === 0) this.shrink()
    return out
  }

  /** Puts `taken[from, to)` back, keys descending, into tier `t`. */
  private moveUp(t: number, from: number, to: number): void {
    if (to === from) return
    while (this.tiers.length <= t) this.tiers.push(new Tier(this.blocks))
    this.tiers[t]!.insertDescending(this.taken, this.movedKeys, from, to)
    this.count += to - from
  }

  /**
   * Reports every waited-for broadcast as finished while it stays queued: there is nobody to
   * send it to, and whoever comes (back) hears it from the queue.
   */
  releaseWaiters(): void {
    for (const notify of this.notifies.values()) this.finished.push(notify)
    this.notifies.clear()
  }

  /** Drops everything (a node shutting down), reporting each waiter as finished. */
  clear(): void {
    for (const tier of this.tiers) tier.forEach((slot) => this.finish(slot))
    for (const slot of this.held) {
      if (this.transmits[slot] !== HELD) continue
      this.transmits[slot] = 0
      this.finish(slot)
    }
    this.held = []
    this.holding = false
    this.tiers.length = 0
    this.blocks = new Blocks()
    this.count = 0
  }

  /** Bytes held by the columns and indexes, the queued bytes themselves not counted. */
  get footprint(): number {
    return this.bytes.length * 8 + this.lengths.byteLength + this.ids.byteLength + this.transmits.byteLength +
      this.keys.byteLength + this.byKey.byteLength + this.blocks.byteLength
  }

  /** The slot's place in its tier: worse candidates first (shorter, then older). */
  private key(slot: number): number {
    return tierKey(this.lengths[slot]!, this.ids[slot]!)
  }

  private insert(slot: number): void {
    const t = this.transmits[slot]!
    while (this.tiers.length <= t) this.tiers.push(new Tier(this.blocks))
    this.tiers[t]!.insert(slot, this.key(slot))
    this.count++
  }

  private remove(slot: number): void {
    if (this.transmits[slot] === HELD) {
      this.transmits[slot] = 0
      this.count--
    } else {
      const tier = this.tiers[this.transmits[slot]!]
      if (tier !== undefined && tier.remove(slot, this.key(slot))) this.count--
    }
    this.finish(slot)
  }

  private finish(slot: number): void {
    const key = this.keys[slot]!
    if (key >= 0) {
      if (this.byKey[key] === slot) this.byKey[key] = -1
      this.holder.release(key)
    }
    const notify = this.notifies.get(slot)
    if (notify !== undefined) {
      this.notifies.delete(slot)
      this.finished.push(notify)
    }
    this.bytes[slot] = undefined
    this.free.push(slot)
  }

  private allocate(): number {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    const slot = this.bytes.length
    this.bytes.push(undefined)
    if (slot === this.lengths.length) {
      const size = Math.ceil(slot * 1.5)
      this.lengths = grownColumn(this.lengths, size)
      this.ids = grownColumn(this.ids, size)
      this.transmits = grownColumn(this.transmits, size)
      this.keys = grownColumn(this.keys, size)
    }
    return slot
  }

  /**
   * An empty queue gives back the room its busiest moment took: a node that just joined queues an
   * alive for every member once, and would otherwise keep columns that size for good. Its tiers go
   * too: one per transmission count, each with four lists, they are 3.7 KB of a node that is
   * gossiping nothing, and the next broadcast makes them again as it climbs.
   */
  private shrink(): void {
    this.tiers.length = 0
    this.blocks.reset()
    if (this.byKey.length > SMALL_KEYS) {
      releaseColumn(this.byKey)
      this.byKey = int32Column(0)
    }
    if (this.bytes.length <= SMALL) return
    releaseColumn(this.lengths)
    releaseColumn(this.ids)
    releaseColumn(this.transmits)
    releaseColumn(this.keys)
    this.bytes = []
    this.free = []
    this.lengths = uint16Column(8)
    this.ids = int32Column(8)
    this.transmits = uint16Column(8)
    this.keys = int32Column(8)
    this.nextId = 0
  }

  private growKeys(min: number): void {
    const size = Math.max(min, Math.ceil(this.byKey.length * 1.5), 8)
    this.byKey = grownColumn(this.byKey, size, -1)
  }

  /** Gives the queued items ids 0, 1, … in their present order, which keeps every tier sorted. */
  private renumber(): void {
    const live: Array<number> = []
    for (const tier of this.tiers) tier.forEach((slot) => live.push(slot))
    // held items are in no tier; a reused slot may be listed twice
    const held = new Set<number>()
    for (const slot of this.held) if (this.transmits[slot] === HELD) held.add(slot)
    for (const slot of held) live.push(slot)
    live.sort((a, b) => this.ids[a]! - this.ids[b]!)
    for (let i = 0; i < live.length; i++) this.ids[live[i]!] = i
    this.nextId = live.length
    for (const tier of this.tiers) tier.rekey((slot) => this.key(slot))
  }
}
