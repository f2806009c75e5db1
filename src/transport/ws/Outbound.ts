/**
 * What waits to go out on one connection, in two lanes. Stream and control
 * frames must all arrive, in order; their volume is bounded by stream credit,
 * so that lane has no cap. Datagrams may be lost, like UDP: their lane holds
 * `capacity` and, when full, drops the oldest (the newest gossip and acks are
 * the ones still worth sending), counting each drop.
 *
 * It also counts frames settled: written by the connection, dropped, or lost when it closed.
 * `settled` completes once every frame queued before it is, which is how a leaving node knows
 * that its last gossip left (or never will) rather than that it was only queued.
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
  /** Frames queued ever, and how many of them were written, dropped or lost. */
  private pushed = 0
  private done = 0
  /** Who waits for `done` to reach a count, in the order they came (counts only grow). */
  private readonly settling: Array<readonly [count: number, resume: () => void]> = []
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
      this.settle(1)
    }
    this.ring[(this.head + this.size) % this.capacity] = frame
    this.size++
    this.pushed++
    this.wake()
    return true
  }

  /** Queues a frame that must arrive. False once closed. */
  pushControl(frame: Uint8Array): boolean {
    if (this.closed) return false
    this.control.push(frame)
    this.pushed++
    this.wake()
    return true
  }

  /** `n` frames `take` handed out were written. */
  settle(n: number): void {
    this.done += n
    while (this.settling.length > 0 && this.settling[0]![0] <= this.done) this.settling.shift()![1]()
  }

  /** Completes once every frame queued so far is settled: written, dropped, or lost at close. */
  readonly settled: Effect.Effect<void> = Effect.callback((resume) => {
    if (this.done >= this.pushed) return resume(Effect.void)
    const entry = [this.pushed, () => resume(Effect.void)] as const
    this.settling.push(entry)
    return Effect.sync(() => {
      const at = this.settling.indexOf(entry)
      if (at >= 0) this.settling.splice(at, 1)
    })
  })

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
    // what was queued, or taken and not yet written, will not be written now
    this.settle(this.pushed - this.done)
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
