/**
 * The `Timers` service: a `TimerWheel` and the one fiber that fires it on
 * time. The fiber sleeps on the Clock until the earliest entry is due, fires
 * everything due in one synchronous pass, and sleeps again; an entry scheduled
 * before its wake-up time wakes it early. Under `TestClock` entries fire at
 * their exact instant; under the live clock, on time.
 *
 * A node makes its own unless one is provided: thousands of simulated nodes in
 * one process provide one `Timers.layer` so that a Clock instant with many
 * timers due wakes one fiber, not one per timer.
 */
import { Clock, Context, Duration, Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { TimerEntry, TimerTarget } from "./TimerWheel.ts"
import { TimerWheel } from "./TimerWheel.ts"

export interface TimersShape {
  /** Hands `value` to `target` once the Clock reaches millis `at` (at once when `at` is past). */
  schedule<T>(at: number, target: TimerTarget<T>, value: T): TimerEntry<T>
  /** Takes an entry back before it fires. */
  cancel(entry: TimerEntry<any>): void
}

/** Builds a wheel whose fiber lives in the current scope. */
export const makeTimers: Effect.Effect<TimersShape, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  const wheel = new TimerWheel()
  // When the fiber wakes by itself: +Infinity while it waits for a first entry,
  // -Infinity while it runs (it looks at the wheel again before waiting).
  let waitingUntil = -Infinity
  let wakePending = false
  let wakeResume: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  const wake = (): void => {
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

  const step = Effect.suspend(() => {
    wakePending = false
    waitingUntil = -Infinity
    wheel.fireDue(clock.currentTimeMillisUnsafe())
    const next = wheel.next
    if (next === undefined) {
      waitingUntil = Infinity
      return awaitWake
    }
    waitingUntil = next
    return Effect.raceFirst(sleepUntil(next), awaitWake)
  })

  yield* Effect.forkScoped(Effect.forever(step))

  return {
    schedule: (at, target, value) => {
      const entry = wheel.schedule(at, target, value)
      if (at < waitingUntil) wake()
      return entry
    },
    cancel: (entry) => {
      wheel.cancel(entry)
    }
  }
})

/** Timers shared by every node that finds this service in its context. */
export class Timers extends Context.Service<Timers, TimersShape>()("effect-gossip/Timers") {
  /** One wheel and one fiber for the layer's lifetime. */
  static readonly layer: Layer.Layer<Timers> = Layer.effect(Timers, makeTimers)
}
