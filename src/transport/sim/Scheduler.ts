/**
 * The one fiber that moves a simulated network forward in time. Senders push
 * deliveries into a time-ordered queue; a `ClockLoop` hands over everything
 * due in one synchronous pass and sleeps until the next. Under `TestClock` this
 * gives exact delivery instants; under the live clock, real-time latency.
 */
import { Effect } from "effect"
import type { Clock } from "effect"
import { makeClockLoop } from "../../runtime/ClockLoop.ts"
import { DeliveryQueue } from "./DeliveryQueue.ts"
import type { Timed } from "./DeliveryQueue.ts"

/** A delivery queue with the loop that drains it on time. */
export interface DeliveryScheduler<T extends Timed> {
  /** Queues `entry` for time `entry.at` (Clock millis). Cheap and synchronous. */
  schedule(entry: T): void
  /** The loop; run it in exactly one fiber, scoped to the network. */
  readonly run: Effect.Effect<never>
}

/** Builds a scheduler that calls `deliver(entry, now)` for each entry once the Clock reaches its `at`. */
export const makeScheduler = <T extends Timed>(
  clock: Clock.Clock,
  deliver: (entry: T, now: number) => void
): DeliveryScheduler<T> => {
  const queue = new DeliveryQueue<T>()
  let failure: unknown = undefined
  let failures = 0
  const loop = makeClockLoop(
    clock,
    (now) => {
      for (let next = queue.peek(); next !== undefined && next.at <= now; next = queue.peek()) {
        queue.pop()
        try {
          deliver(next, now)
        } catch (error) {
          // a bug in one delivery must not stop the network
          failure = error
          failures++
        }
      }
      return queue.peek()?.at
    },
    () => {
      if (failures === 0) return undefined
      const report = Effect.logError(`SimNetwork: ${failures} deliveries failed`, failure)
      failures = 0
      failure = undefined
      return report
    }
  )
  return {
    schedule: (entry) => {
      queue.push(entry)
      loop.due(entry.at)
    },
    run: loop.run
  }
}
