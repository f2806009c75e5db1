/**
 * Virtual time for whole-cluster benchmarks: a `Clock` whose sleeps are
 * entries of a `TimerWheel`, and a `Scheduler` whose tasks wait in a plain
 * array, both driven by one loop. `advance(ms)` runs every runnable fiber until
 * none is left, moves the clock to the earliest sleep that is due, wakes it,
 * and repeats until the target instant.
 *
 * Instants are exact, as under `TestClock`, and runs are deterministic: tasks
 * run in the order they were scheduled and sleeps wake in (instant, order)
 * order. What it saves is `TestClock`'s bookkeeping per wake (a tracker, a
 * live warning timer and a round trip through the event loop), which at
 * thousands of distinct instants per virtual second is most of a large
 * simulation's wall time. Tests keep `TestClock`; this is for `bench/`.
 */
import { Clock, Duration, Effect, Scheduler } from "effect"
import type { TimerTarget } from "../src/runtime/TimerWheel.ts"
import { TimerWheel } from "../src/runtime/TimerWheel.ts"

export interface VirtualTime {
  /** Virtual milliseconds since the start. */
  readonly now: () => number
  /** Runs the program's other fibers while the clock moves `ms` ahead; resumes at exactly now + ms. */
  readonly advance: (ms: number) => Effect.Effect<void>
  /** Provides the clock and the scheduler to `effect` (and every fiber it forks). */
  readonly provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeVirtualTime = (): VirtualTime => {
  let now = 0
  const wheel = new TimerWheel()
  let tasks: Array<() => void> = []
  let target = 0
  let waiting: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  let driving = false
  /** A run of the loop is already on its way. */
  let kicked = false

  const wake: TimerTarget<() => void> = { fire: (resume) => resume() }

  const nanos = () => BigInt(now) * 1_000_000n
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => now,
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: nanos,
    monotonicTimeNanos: Effect.sync(nanos),
    sleep: (duration) =>
      Effect.callback<void>((resume) => {
        const ms = Duration.toMillis(duration)
        if (!(ms > 0)) return resume(Effect.void)
        const entry = wheel.schedule(now + ms, wake, () => resume(Effect.void))
        return Effect.sync(() => void wheel.cancel(entry))
      })
  }

  /** Starts the loop from outside it, once: inside it, the loop carries on by itself. */
  const kick = (): void => {
    if (driving || kicked) return
    kicked = true
    setImmediate(drive)
  }

  /** Runs queued tasks, and the tasks they queue, until none is left. */
  const drain = (): void => {
    while (tasks.length > 0) {
      const batch = tasks
      tasks = []
      for (let i = 0; i < batch.length; i++) batch[i]!()
    }
  }

  const scheduler: Scheduler.Scheduler = {
    executionMode: "async",
    // a fiber runs until it suspends: every fiber here waits on a queue, a deferred or the clock
    shouldYield: () => false,
    makeDispatcher: () => ({
      scheduleTask: (task) => {
        tasks.push(task)
        // woken from outside the loop (a real promise settled): run the loop again
        kick()
      },
      flush: drain
    })
  }

  const drive = (): void => {
    kicked = false
    driving = true
    try {
      for (;;) {
        drain()
        if (waiting === undefined) return
        const next = wheel.next
        if (next !== undefined && next <= target) {
          now = next
          wheel.fireDue(now)
          continue
        }
        now = target
        const resume = waiting
        waiting = undefined
        resume(Effect.void)
      }
    } finally {
      driving = false
    }
  }

  const advance = (ms: number): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      target = now + ms
      waiting = resume
      // from inside the loop (the usual case) the loop carries on; from outside, start it
      kick()
    })

  return {
    now: () => now,
    advance,
    provide: (effect) =>
      effect.pipe(Effect.provideService(Clock.Clock, clock), Effect.provideService(Scheduler.Scheduler, scheduler))
  }
}
