/**
 * What waits to go out on one connection, in two lanes. Stream and control
 * frames must all arrive, in order; their volume is bounded by stream credit,
 * so that lane has no cap. Datagrams may be lost, like UDP: their lane holds
 * `capacity` and, when full, drops the oldest (the newest gossip and acks are
 * the ones still worth sending), counting each drop.
 */
import { Effect } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"

export class Outbound {
  private control: Array<Uint8Array> = []
  private readonly ring: Array<Uint8Array | undefined>
  private head = 0
  private size = 0
  private waiter: ((batch: NonEmptyReadonlyArray<Uint8Array>) => void) | undefined
  private closed = false
  private readonly capacity: number
  private readonly onDrop: () => void

  constructor(capacity: number, onDrop: () => void) {
    this.capacity = capacity
    this.onDrop = onDrop
    this.ring = new Array(capacity)
  }

  /** Queues a datagram frame, dropping the oldest one when full. False once closed. */
  pushPacket(frame: Uint8Array): boolean {
    if (this.closed) return false
    if (this.size === this.capacity) {
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.capacity
      this.size--
      this.onDrop()
    }
    this.ring[(this.head + this.size) % this.capacity] = frame
    this.size++
    this.wake()
    return true
  }

  /** Queues a frame that must arrive. False once closed. */
  pushControl(frame: Uint8Array): boolean {
    if (this.closed) return false
    this.control.push(frame)
    this.wake()
    return true
  }

  /** Everything queued, control frames first; waits while both lanes are empty. */
  readonly take: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>> = Effect.callback((resume) => {
    const batch = this.drain()
    if (batch !== undefined) return resume(Effect.succeed(batch))
    this.waiter = (b) => resume(Effect.succeed(b))
    return Effect.sync(() => void (this.waiter = undefined))
  })

  /** Stops accepting frames; returns how many datagrams were still waiting (lost with the connection). */
  close(): number {
    this.closed = true
    const lost = this.size
    this.ring.fill(undefined)
    this.size = 0
    this.control = []
    return lost
  }

  private drain(): NonEmptyReadonlyArray<Uint8Array> | undefined {
    if (this.control.length === 0 && this.size === 0) return undefined
    const batch = this.control
    this.control = []
    for (; this.size > 0; this.size--) {
      batch.push(this.ring[this.head]!)
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.capacity
    }
    return batch as unknown as NonEmptyReadonlyArray<Uint8Array>
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(this.drain()!)
  }
}
