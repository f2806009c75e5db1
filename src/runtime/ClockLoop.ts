/**
 * One fiber that does time-ordered work on time: it runs everything due, then
 * sleeps on the Clock until the next instant, and anyone who adds work due
 * before that instant wakes it early. Under `TestClock` the work runs at its
 * exact instant; under the live clock, on time. The timer wheel of `Timers`
 * and the delivery queue of `SimNetwork` each run on one.
 */
import { Duration, Effect } from "effect"
import type { Clock } from "effect"

export interface ClockLoop {
  /** Work was added for Clock millis `at`: wakes the loop when it would sleep past that. */
  readonly due: (at: number) => void
  /** The loop; run it in exactly one fiber. */
  readonly run: Effect.Effect<never>
}

/**
 * `step(now)` runs everything due by `now` and returns the next instant with work, if any;
 * `after`, when given, runs after each step (to report what the step saw).
 */
export const makeClockLoop = (
  clock: Clock.Clock,
  step: (now: number) => number | undefined,
  after?: () => Effect.Effect<void> | undefined
): ClockLoop => {
  // When the loop wakes by itself: +Infinity while it waits for work, -Infinity while it
  // runs (it looks at the queue again before waiting).
  let waitingUntil = -Infinity
  let wakePending = false
  let wakeResume: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  const due = (at: number): void => {
    if (at >= waitingUntil) return
    waitingUntil = -Infinity
    const resume = wakeResume
    if (resume === undefined) {
      // between deciding to wait and starting to wait
      wakePending = true
    } else {
      wakeResume = undefined
      resume(Effect.void)
    }
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

  const once = Effect.suspend(() => {
    wakePending = false
    waitingUntil = -Infinity
    const next = step(clock.currentTimeMillisUnsafe())
    let wait: Effect.Effect<void>
    if (next === undefined) {
      waitingUntil = Infinity
      wait = awaitWake
    } else {
      waitingUntil = next
      wait = Effect.raceFirst(sleepUntil(next), awaitWake)
    }
    const report = after?.()
    return report === undefined ? wait : Effect.andThen(report, wait)
  })

  return { due, run: Effect.forever(once) }
}
