/**
 * One publisher, many subscribers, each with a bounded queue of its own. A
 * subscriber that stops reading loses what its queue cannot hold, by the
 * stated policy, and only its own deliveries: the publisher never waits and
 * memory stays bounded. Every loss is counted, per subscriber and in total.
 */
import { Effect, Queue, Stream } from "effect"
import type { Scope } from "effect"

/** What a full subscriber queue loses: the newest value (`dropping`) or the oldest (`sliding`). */
export type Overflow = "dropping" | "sliding"

/** One subscriber: its stream, and what it has lost so far. */
export interface Subscription<A> {
  readonly stream: Stream.Stream<A>
  /** Values this subscriber lost because its queue was full. */
  readonly dropped: () => number
}

interface Subscriber<A> {
  readonly queue: Queue.Queue<A>
  readonly capacity: number
  dropped: number
}

export class Fanout<A> {
  private readonly subscribers = new Set<Subscriber<A>>()
  private readonly capacity: number
  private readonly overflow: Overflow
  private lost = 0

  constructor(capacity: number, overflow: Overflow) {
    this.capacity = Math.max(1, capacity)
    this.overflow = overflow
  }

  /** Hands `value` to every subscriber; never waits. Returns how many subscribers lost something to it. */
  publish(value: A): number {
    let losses = 0
    for (const s of this.subscribers) {
      // A sliding queue takes the value and loses its oldest; a dropping one loses the value.
      const full = this.overflow === "sliding" ? Queue.isFullUnsafe(s.queue) : false
      if (!Queue.offerUnsafe(s.queue, value) || full) {
        s.dropped++
        losses++
      }
    }
    this.lost += losses
    return losses
  }

  /** Subscribes now (nothing published after this returns is missed) until the scope closes. */
  subscribe(capacity: number = this.capacity): Effect.Effect<Subscription<A>, never, Scope.Scope> {
    const subscribers = this.subscribers
    const overflow = this.overflow
    return Effect.gen(function*() {
      const size = Math.max(1, capacity)
      const queue = yield* (overflow === "sliding" ? Queue.sliding<A>(size) : Queue.dropping<A>(size))
      const subscriber: Subscriber<A> = { queue, capacity: size, dropped: 0 }
      subscribers.add(subscriber)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          subscribers.delete(subscriber)
          Queue.shutdownUnsafe(queue)
        })
      )
      return { stream: Stream.fromQueue(queue), dropped: () => subscriber.dropped }
    })
  }

  /** A stream that subscribes when it starts running and unsubscribes when it ends. */
  get stream(): Stream.Stream<A> {
    return Stream.unwrap(Effect.map(this.subscribe(), (s) => s.stream))
  }

  /** Values lost to full subscriber queues, in total. */
  get dropped(): number {
    return this.lost
  }

  /** Subscribers right now. */
  get size(): number {
    return this.subscribers.size
  }
}
