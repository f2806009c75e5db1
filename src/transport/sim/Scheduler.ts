/**
 * The one fiber that moves a simulated network forward in time. Senders push
 * deliveries into a time-ordered queue; the loop sleeps on the Clock until the
 * earliest is due, hands over everything due in one synchronous pass, and goes
 * back to sleep. A push that is due before the loop's wake-up time (or any push
 * while the queue is empty) wakes it early. Under `TestClock` this gives exact
 * delivery instants; under the live clock, real-time latency.
 */
import { Duration, Effect } from "effect"
import type { Clock } from "effect"
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
  // The time the loop will wake by itself: +Infinity when it waits for a push,
  // -Infinity while it runs (it looks at the queue again before waiting).
  let waitingUntil = -Infinity
  let wakePending = false
  let wakeResume: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  const wake = (): void => {
    waitingUntil = -Infinity
    const resume = wakeResume
    if (resume === undefined) {
      // the loop is between deciding to wait and starting to wait
      wakePending = true
    } else {
      wakeResume = undefined
      resume(Effect.void)
    }
  }

  const schedule = (entry: T): void => {
    queue.push(entry)
    if (entry.at < waitingUntil) wake()
  }

  const awaitWake = Effect.callback<void>((resume) => {
    if (wakePending) {
      wakePending = false
      resume(Effect.void)
      return
    }
    wakeResume = resume
    return Effect.sync(() => {
      if (wakeResume === resume) wakeResume = undefined
    })
  })

  // reads the clock when the sleep starts, so a late start never overshoots `at`
  const sleepUntil = (at: number) =>
    Effect.suspend(() => clock.sleep(Duration.millis(Math.max(0, at - clock.currentTimeMillisUnsafe()))))

  const step = Effect.suspend(() => {
    wakePending = false
    waitingUntil = -Infinity
    const now = clock.currentTimeMillisUnsafe()
    let failure: unknown = undefined
    let failures = 0
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
    const next = queue.peek()
    let wait: Effect.Effect<void>
    if (next === undefined) {
      waitingUntil = Infinity
      wait = awaitWake
    } else {
      waitingUntil = next.at
      wait = Effect.raceFirst(sleepUntil(next.at), awaitWake)
    }
    return failures === 0
      ? wait
      : Effect.andThen(Effect.logError(`SimNetwork: ${failures} deliveries failed`, failure), wait)
  })

  return { schedule, run: Effect.forever(step) }
}
