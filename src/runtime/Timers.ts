/**
 * The `Timers` service: a `TimerWheel` and the one fiber (a `ClockLoop`)
 * that fires it on time: everything due in one synchronous pass, then a sleep
 * until the earliest entry. Under `TestClock` entries fire at their exact
 * instant; under the live clock, on time.
 *
 * A node makes its own unless one is provided: thousands of simulated nodes in
 * one process provide one `Timers.layer` so that a Clock instant with many
 * timers due wakes one fiber, not one per timer.
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { TimerEntry, TimerTarget } from "./TimerWheel.ts"
import { makeClockLoop } from "./ClockLoop.ts"
import { TimerWheel } from "./TimerWheel.ts"

export interface TimersShape {
  /** Hands `value` to `target` once the Clock reaches millis `at` (at once when `at` is past). */
  schedule<T>(at: number, target: TimerTarget<T>, value: T): TimerEntry<T>
  /** Takes an entry back before it fires. */
  cancel(entry: TimerEntry<any>): void
}

/** Builds a wheel whose fiber lives in the current scope. */
export const makeTimers: Effect.Effect<TimersShape, never, Scope.Scope> = Effect.gen(function*() {
  const wheel = new TimerWheel()
  const loop = makeClockLoop(yield* Clock.Clock, (now) => {
    wheel.fireDue(now)
    return wheel.next
  })
  yield* Effect.forkScoped(loop.run)
  return {
    schedule: (at, target, value) => {
      const entry = wheel.schedule(at, target, value)
      loop.due(at)
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
