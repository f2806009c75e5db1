/**
 * serf's Lamport clocks and recent-message buffers: what makes an event or a
 * query new, a duplicate, or too old (serf's handleUserEvent / handleQuery).
 */
import { assert, describe, it } from "@effect/vitest"
import { EventBuffer, LamportClock, QueryBuffer } from "../../src/serf/Clocks.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("serf clocks", () => {
  it("a Lamport clock ticks, and witnessing moves it one past what was seen", () => {
    const clock = new LamportClock()
    assert.strictEqual(clock.time(), 0)
    assert.strictEqual(clock.increment(), 1)
    clock.witness(0) // older: nothing
    assert.strictEqual(clock.time(), 1)
    clock.witness(1) // equal: one past it
    assert.strictEqual(clock.time(), 2)
    clock.witness(41)
    assert.strictEqual(clock.time(), 42)
    clock.witness(Number.NaN)
    clock.witness(-5)
    assert.strictEqual(clock.time(), 42)
  })

  it("an event is new once per LTime, name and payload; the same name with another payload is another event", () => {
    const clock = new LamportClock(1)
    const events = new EventBuffer(8)
    assert.strictEqual(events.accept(clock, 3, "deploy", bytes("v1")), "new")
    assert.strictEqual(clock.time(), 4, "witnessed")
    assert.strictEqual(events.accept(clock, 3, "deploy", bytes("v1")), "duplicate")
    assert.strictEqual(events.accept(clock, 3, "deploy", bytes("v2")), "new")
    assert.strictEqual(events.accept(clock, 3, "restart", bytes("v1")), "new")
    // nil and empty payloads are the same payload, as Go's bytes.Equal says
    assert.strictEqual(events.accept(clock, 4, "ping", null), "new")
    assert.strictEqual(events.accept(clock, 4, "ping", new Uint8Array(0)), "duplicate")
  })

  it("events older than the buffer covers, or before the minimum time, are old", () => {
    const clock = new LamportClock(1)
    const events = new EventBuffer(8)
    assert.strictEqual(events.accept(clock, 20, "late", null), "new")
    assert.strictEqual(clock.time(), 21)
    assert.strictEqual(events.accept(clock, 12, "x", null), "old") // 12 < 21 - 8
    assert.strictEqual(events.accept(clock, 13, "x", null), "new")
    // its slot is taken over by LTime 21 (21 % 8 === 13 % 8), by which time 13 is too old anyway
    assert.strictEqual(events.accept(clock, 21, "late", null), "new")
    assert.strictEqual(events.accept(clock, 13, "x", null), "old")
    events.minTime = 30
    assert.strictEqual(events.accept(clock, 29, "y", null), "old")
  })

  it("a query is new once per LTime and ID", () => {
    const clock = new LamportClock(1)
    const queries = new QueryBuffer(4)
    assert.strictEqual(queries.accept(clock, 5, 77), "new")
    assert.strictEqual(queries.accept(clock, 5, 77), "duplicate")
    assert.strictEqual(queries.accept(clock, 5, 78), "new")
    assert.strictEqual(clock.time(), 6)
    assert.strictEqual(queries.accept(clock, 100, 1), "new")
    assert.strictEqual(queries.accept(clock, 5, 79), "old")
  })
})
