/**
 * Where the tiers of one broadcast queue keep their blocks: two typed arrays (keys and
 * slots) cut into chunks of `BLOCK` entries, handed out and taken back by index. A block
 * that splits, or a batch cut into blocks, takes free chunks: nothing is allocated per
 * block, so moving items up a tier makes no garbage, and the chunks one tier gives back
 * serve the next (the join storm's items climb the tiers as one wave).
 */

import { float64Column, grownColumn, int32Column, releaseColumn } from "./Columns.ts"

/** Entries per chunk: the most slots a block holds. */
export const BLOCK = 128

/** Chunks a store keeps when its queue empties; beyond, it gives its arrays back (`reset`). */
const KEPT = 4

export class Blocks {
  /** Per entry: the key a tier orders by (`tierKey`), chunk `c` at `[c * BLOCK, (c + 1) * BLOCK)`. */
  keys = float64Column(0)
  /** Per entry: the queue's slot. */
  slots = int32Column(0)
  private readonly free: Array<number> = []
  private capacity = 0

  /** A free chunk's index; the arrays may be replaced (read them again after). */
  allocate(): number {
    const chunk = this.free.pop()
    if (chunk !== undefined) return chunk
    this.grow()
    return this.free.pop()!
  }

  release(chunk: number): void {
    this.free.push(chunk)
  }

  /** Chunks in use. */
  get used(): number {
    return this.capacity - this.free.length
  }

  get byteLength(): number {
    return this.keys.byteLength + this.slots.byteLength
  }

  /** Every chunk is free again (the queue emptied): a store that grew gives its arrays back. */
  reset(): void {
    if (this.capacity <= KEPT) return
    releaseColumn(this.keys)
    releaseColumn(this.slots)
    this.keys = float64Column(0)
    this.slots = int32Column(0)
    this.free.length = 0
    this.capacity = 0
  }

  private grow(): void {
    const capacity = Math.max(2, Math.ceil(this.capacity * 1.5))
    this.keys = grownColumn(this.keys, capacity * BLOCK)
    this.slots = grownColumn(this.slots, capacity * BLOCK)
    // the lowest free chunk first: a store that stays small is used from its start
    for (let c = capacity - 1; c >= this.capacity; c--) this.free.push(c)
    this.capacity = capacity
  }
}
