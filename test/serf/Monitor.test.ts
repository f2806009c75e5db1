/**
 * The monitor hub behind `gossip monitor`: records by level to each client,
 * a bounded ring per client that drops the oldest and says how many, and the
 * NDJSON stream the control endpoint sends.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger, Stream } from "effect"
import type { LogRecord } from "../../src/cli/LineLogger.ts"
import {
  hubLogger,
  levelRank,
  MonitorHub,
  monitorStream,
  MonitorSubscription,
  parseRecord,
  renderRecord
} from "../../src/cli/Monitor.ts"

const record = (msg: string, level = "info", fields: Record<string, unknown> = {}): LogRecord => ({
  time: "2026-01-01T00:00:00.000Z",
  level,
  msg,
  fields,
  error: undefined
})

describe("monitor subscriptions", () => {
  it("take the records at or above their level", () => {
    const sub = new MonitorSubscription(levelRank("warn")!, 10)
    for (const level of ["trace", "debug", "info", "warn", "error", "fatal"]) sub.push(record(level, level))
    assert.deepStrictEqual(sub.drain().records.map((r) => r.msg), ["warn", "error", "fatal"])
    assert.strictEqual(levelRank("WARNING"), levelRank("warn"))
    assert.strictEqual(levelRank("All"), 0)
    assert.isUndefined(levelRank("loud"))
  })

  it("hold at most `capacity` records: the oldest go, counted, and memory stays bounded", () => {
    const sub = new MonitorSubscription(0, 100)
    for (let i = 0; i < 100_000; i++) sub.push(record(`m${i}`))
    assert.strictEqual(sub.size, 100)
    const { dropped, records } = sub.drain()
    assert.strictEqual(dropped, 99_900)
    assert.deepStrictEqual([records[0]!.msg, records.at(-1)!.msg], ["m99900", "m99999"])
    assert.strictEqual(sub.drain().dropped, 0, "the count restarts after each read")
    assert.strictEqual(sub.droppedTotal, 99_900)
  })

  it.effect("wake a waiting reader", () =>
    Effect.gen(function*() {
      const sub = new MonitorSubscription(0, 4)
      const reader = yield* Effect.forkChild(sub.next)
      yield* Effect.yieldNow
      sub.push(record("late"))
      const got = yield* Fiber.join(reader)
      assert.deepStrictEqual(got.records.map((r) => r.msg), ["late"])
    }))
})

describe("monitor hub", () => {
  it.effect("streams NDJSON: attached first, then records; a slow reader is told what it lost", () =>
    Effect.gen(function*() {
      const hub = MonitorHub.make()
      const lines: Array<string> = []
      // a reader that stalls after the first line (a client that does not read)
      const gate = yield* Deferred.make<void>()
      const fiber = yield* monitorStream(hub, levelRank("info")!, 3).pipe(
        Stream.decodeText,
        Stream.splitLines,
        Stream.runForEach((line) =>
          Effect.sync(() => lines.push(line)).pipe(Effect.andThen((n) => n === 1 ? Deferred.await(gate) : Effect.void))
        ),
        Effect.forkChild
      )
      while (lines.length === 0) yield* Effect.yieldNow
      // five records for a ring of three while the reader is stalled
      for (let i = 1; i <= 5; i++) hub.publish(record(`r${i}`))
      hub.publish(record("hidden", "debug"))
      yield* Deferred.succeed(gate, undefined)
      while (lines.length < 5) yield* Effect.yieldNow
      const parsed = lines.map((l) => parseRecord(l)!)
      assert.deepStrictEqual(parsed.map((r) => r.msg), [
        "monitor attached",
        "monitor fell behind: records dropped",
        "r3",
        "r4",
        "r5"
      ])
      assert.strictEqual(parsed[1]!.fields.dropped, 2)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(hub.subscribers(), 0, "a client that hangs up unsubscribes")
    }))

  it.effect("is fed by a logger, which does nothing while nobody monitors", () =>
    Effect.gen(function*() {
      const hub = MonitorHub.make()
      const got: Array<LogRecord> = []
      const logged = Effect.logWarning("member failed").pipe(
        Effect.annotateLogs({ node: "n2", event: "failed" }),
        Effect.provide(Logger.layer([hubLogger(hub)]))
      )
      yield* logged
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* hub.subscribe(0)
        yield* logged
        got.push(...sub.drain().records)
      }))
      assert.strictEqual(got.length, 1)
      assert.deepInclude(got[0]!, { level: "warn", msg: "member failed" })
      assert.deepInclude(got[0]!.fields, { node: "n2", event: "failed" })
      assert.match(renderRecord(got[0]!, "text"), /WARN\s+member failed .*node=n2/)
      assert.deepInclude(JSON.parse(renderRecord(got[0]!, "json")), { level: "warn", node: "n2" })
    }))

  it("parses only records back", () => {
    assert.isUndefined(parseRecord("not json"))
    assert.isUndefined(parseRecord("[1]"))
    assert.isUndefined(parseRecord(`{"msg":"x"}`))
    assert.deepStrictEqual(parseRecord(`{"time":"t","level":"info","msg":"m","a":1}`), {
      time: "t",
      level: "info",
      msg: "m",
      fields: { a: 1 },
      error: undefined
    })
  })
})
