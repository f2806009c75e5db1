/**
 * Timers as data: the wheel orders, cancels and re-arms entries exactly, and
 * the `Timers` service fires them at their Clock instant, under `TestClock`,
 * with one fiber however many are pending.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { TimerEntry, TimerTarget } from "../../src/runtime/TimerWheel.ts"
import { TimerWheel } from "../../src/runtime/TimerWheel.ts"
import { makeTimers } from "../../src/runtime/Timers.ts"

/** A target that records what fired, and when (the instant passed by the test). */
const recorder = <T>() => {
  const fired: Array<T> = []
  const target: TimerTarget<T> = { fire: (value) => void fired.push(value) }
  return { fired, target }
}

/** A deterministic stream of numbers in [0, 1). */
const lcg = (seed: number) => () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 2 ** 32
}

describe("TimerWheel", () => {
  it("fires entries earliest first, and entries due at one instant in the order they were scheduled", () => {
    const wheel = new TimerWheel()
    const { fired, target } = recorder<string>()
    wheel.schedule(30, target, "c")
    wheel.schedule(10, target, "a1")
    wheel.schedule(20, target, "b")
    wheel.schedule(10, target, "a2")
    wheel.schedule(10, target, "a3")
    assert.strictEqual(wheel.size, 5)
    assert.strictEqual(wheel.next, 10)
    assert.strictEqual(wheel.fireDue(9), 0)
    assert.deepStrictEqual(fired, [])
    assert.strictEqual(wheel.fireDue(10), 3)
    assert.deepStrictEqual(fired, ["a1", "a2", "a3"])
    assert.strictEqual(wheel.fireDue(100), 2)
    assert.deepStrictEqual(fired, ["a1", "a2", "a3", "b", "c"])
    assert.strictEqual(wheel.size, 0)
    assert.isUndefined(wheel.next)
  })

  it("a cancelled entry never fires; cancelling twice, or after firing, is refused", () => {
    const wheel = new TimerWheel()
    const { fired, target } = recorder<number>()
    const entries = [5, 1, 4, 2, 3].map((at) => wheel.schedule(at, target, at))
    assert.isTrue(wheel.cancel(entries[2]!)) // at 4
    assert.isTrue(wheel.cancel(entries[1]!)) // at 1, the root
    assert.isFalse(wheel.cancel(entries[1]!))
    assert.strictEqual(wheel.size, 3)
    assert.strictEqual(wheel.next, 2)
    wheel.fireDue(2)
    assert.isFalse(wheel.cancel(entries[3]!)) // fired
    wheel.fireDue(10)
    assert.deepStrictEqual(fired, [2, 3, 5])
  })

  it("re-arming is cancel then schedule: the value fires once, at its new instant, after those already due then", () => {
    const wheel = new TimerWheel()
    const { fired, target } = recorder<string>()
    const armed = wheel.schedule(10, target, "suspicion")
    wheel.schedule(20, target, "probe")
    // a confirmation shortens the timeout, a refutation pushes it out
    wheel.cancel(armed)
    const rearmed = wheel.schedule(20, target, "suspicion")
    wheel.fireDue(15)
    assert.deepStrictEqual(fired, [])
    wheel.cancel(rearmed)
    wheel.schedule(25, target, "suspicion")
    wheel.fireDue(30)
    assert.deepStrictEqual(fired, ["probe", "suspicion"])
  })

  it("a target may schedule from inside `fire`: an entry due by then fires in the same pass, a later one waits", () => {
    const wheel = new TimerWheel()
    const fired: Array<number> = []
    const target: TimerTarget<number> = {
      fire: (at) => {
        fired.push(at)
        if (at < 30) wheel.schedule(at + 10, target, at + 10)
      }
    }
    wheel.schedule(0, target, 0)
    assert.strictEqual(wheel.fireDue(20), 3)
    assert.deepStrictEqual(fired, [0, 10, 20])
    assert.strictEqual(wheel.next, 30)
  })

  it("10⁶ timers: random instants, a third cancelled, fire exactly once each, in (instant, scheduling) order", () => {
    const wheel = new TimerWheel()
    const random = lcg(2026)
    const n = 1_000_000
    let last = -1
    let lastSeq = -1
    let count = 0
    let outOfOrder = 0
    const target: TimerTarget<number> = {
      fire: (seq) => {
        const at = ats[seq]!
        if (at < last || (at === last && seq < lastSeq)) outOfOrder++
        last = at
        lastSeq = seq
        count++
        if (cancelled[seq] === 1) outOfOrder++
      }
    }
    const ats = new Float64Array(n)
    const cancelled = new Uint8Array(n)
    const entries: Array<TimerEntry<number>> = new Array(n)
    for (let i = 0; i < n; i++) {
      ats[i] = Math.floor(random() * 60_000)
      entries[i] = wheel.schedule(ats[i]!, target, i)
    }
    let kept = n
    for (let i = 0; i < n; i += 3) {
      wheel.cancel(entries[i]!)
      cancelled[i] = 1
      kept--
    }
    assert.strictEqual(wheel.size, kept)
    // fire in uneven steps, as a clock that jumps would
    for (let now = 0; now <= 60_000; now += 1 + Math.floor(random() * 700)) wheel.fireDue(now)
    wheel.fireDue(60_000)
    assert.strictEqual(count, kept)
    assert.strictEqual(outOfOrder, 0)
    assert.strictEqual(wheel.size, 0)
  })
})

describe("Timers (one fiber per wheel)", () => {
  it.effect("fires at exact TestClock instants, wakes early for an earlier entry, and skips what was cancelled", () =>
    Effect.gen(function*() {
      const timers = yield* makeTimers
      const clock = yield* Clock.Clock
      const fired: Array<string> = []
      const target: TimerTarget<string> = {
        fire: (value) => void fired.push(`${value}@${clock.currentTimeMillisUnsafe()}`)
      }
      timers.schedule(1000, target, "late")
      yield* TestClock.adjust(10)
      // earlier than the entry the fiber sleeps for: it must wake for this one
      timers.schedule(500, target, "early")
      const gone = timers.schedule(700, target, "cancelled")
      timers.cancel(gone)
      yield* TestClock.adjust(489)
      assert.deepStrictEqual(fired, [])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(fired, ["early@500"])
      yield* TestClock.adjust(499)
      assert.deepStrictEqual(fired, ["early@500"])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(fired, ["early@500", "late@1000"])
      // an instant already past fires at once, on the next turn of the fiber
      timers.schedule(0, target, "past")
      yield* Effect.yieldNow
      yield* TestClock.adjust(0)
      assert.deepStrictEqual(fired, ["early@500", "late@1000", "past@1000"])
    }).pipe(Effect.scoped))

  it.effect("10,000 entries at one instant are fired together by the one fiber", () =>
    Effect.gen(function*() {
      const timers = yield* makeTimers
      let count = 0
      const target: TimerTarget<number> = { fire: () => void count++ }
      for (let i = 0; i < 10_000; i++) timers.schedule(5_000, target, i)
      yield* TestClock.adjust(4_999)
      assert.strictEqual(count, 0)
      yield* TestClock.adjust(1)
      assert.strictEqual(count, 10_000)
    }).pipe(Effect.scoped))

  it.effect("closing the scope stops the fiber: nothing fires afterwards", () =>
    Effect.gen(function*() {
      let count = 0
      const target: TimerTarget<number> = { fire: () => void count++ }
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const timers = yield* makeTimers
        timers.schedule(100, target, 1)
        timers.schedule(300, target, 2)
        yield* Effect.sleep(200)
      })))
      yield* TestClock.adjust(200)
      yield* Fiber.join(fiber)
      assert.strictEqual(count, 1)
      yield* TestClock.adjust(1_000)
      assert.strictEqual(count, 1)
    }))
})
