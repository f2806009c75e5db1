/**
 * What a subscriber that never reads costs. One node on SimNetwork under
 * TestClock receives n member updates and n application messages from a
 * scripted peer (500 of each per virtual millisecond), while one events
 * subscriber and one messages subscriber never pull. The heap after a full GC
 * must not grow with n: each subscriber holds at most its queue's capacity and
 * the rest is counted as dropped.
 *
 *   ./node_modules/.bin/node bench/bounded.ts              # n = 10k, 100k, 1M
 *   ./node_modules/.bin/node bench/bounded.ts --sizes 100000
 */
import { Context, Effect, Exit, Layer, Queue, Random, Scope } from "effect"
import { TestClock } from "effect/testing"
import { makeCompactCodec } from "../src/codec/CompactCodec.ts"
import { CompactCodec } from "../src/codec/CompactCodec.ts"
import { GossipConfig } from "../src/Config.ts"
import { Membership } from "../src/Membership.ts"
import * as Msg from "../src/protocol/Messages.ts"
import { SimNetwork } from "../src/transport/SimNetwork.ts"
import { heapAfterGc, mb, now, num, printHeader, secondsSince, table } from "./harness.ts"

const heap = heapAfterGc

const sizesArg = process.argv.indexOf("--sizes")
const sizes = sizesArg >= 0 ? process.argv[sizesArg + 1]!.split(",").map(Number) : [10_000, 100_000, 1_000_000]
const codec = makeCompactCodec()
const text = (s: string) => new TextEncoder().encode(s)

interface Row {
  readonly n: number
  readonly subscribers: boolean
  readonly heapBefore: number
  readonly heapAfter: number
  readonly eventsDropped: number
  readonly messagesDropped: number
  readonly handoffDropped: number
  readonly seconds: number
}

const run = (n: number, subscribers: boolean) =>
  Effect.gen(function*() {
    const network = yield* SimNetwork
    const scope = yield* Scope.make()
    const layer = Membership.layer.pipe(
      Layer.provide(SimNetwork.transport("10.0.0.1:7946")),
      Layer.provide(CompactCodec.layer),
      Layer.provide(GossipConfig.layer({ name: "a" }))
    )
    const membership = Context.get(yield* Layer.buildWithScope(layer, scope), Membership)
    if (subscribers) {
      yield* membership.subscribeEvents.pipe(Scope.provide(scope))
      yield* membership.subscribeMessages.pipe(Scope.provide(scope))
    }
    const peer = yield* network.bind("10.0.0.2:7946").pipe(Scope.provide(scope))
    // The peer ignores what it is sent; only its outgoing updates matter here.
    yield* Effect.forkIn(Effect.forever(Queue.takeAll(peer.packets)), scope)
    const before = heap()
    const t0 = now()
    for (let i = 1; i <= n; i += 500) {
      for (let j = i; j < i + 500 && j <= n; j++) {
        const alive: Msg.Alive = {
          _tag: "Alive",
          incarnation: j,
          node: "p",
          addr: Uint8Array.of(10, 0, 0, 2),
          port: 7946,
          meta: text(`v${j}`),
          vsn: Uint8Array.of(1, 5, 2, 0, 0, 0)
        }
        const bytes = codec.encodePacket([codec.encodeMessage(alive), codec.encodeMessage(Msg.user(text(`m${j}`)))], {
          checksum: false
        })
        yield* Effect.ignore(peer.sendPacket("10.0.0.1:7946", bytes))
      }
      yield* TestClock.adjust(1)
    }
    yield* TestClock.adjust(100)
    const seconds = secondsSince(t0)
    const stats = yield* membership.stats
    const after = heap()
    yield* Scope.close(scope, Exit.void)
    const row: Row = {
      n,
      subscribers,
      heapBefore: before,
      heapAfter: after,
      eventsDropped: stats.eventsDropped,
      messagesDropped: stats.messagesDropped,
      handoffDropped: stats.handoffDropped,
      seconds
    }
    return row
  }).pipe(
    Effect.provide(SimNetwork.layer()),
    Effect.provide(TestClock.layer({ warningDelay: "600 seconds" })),
    Random.withSeed(1)
  )

const rows: Array<Row> = []
for (const n of sizes) {
  for (const subscribers of [false, true]) {
    const row = await Effect.runPromise(run(n, subscribers))
    rows.push(row)
    process.stderr.write(`n=${n} subscribers=${subscribers}: ${mb(row.heapAfter - row.heapBefore)} MB in ${row.seconds.toFixed(1)} s\n`)
  }
}

printHeader("Subscribers that never read (bounded queues)", [
  "One node; a scripted peer sends n member updates and n application messages, 500 of each per virtual ms.",
  "Heap: heapUsed after a full GC, before the updates and after them (the node still running)."
])
console.log(table(
  ["n", "never-reading subscribers", "heap before (MB)", "heap after (MB)", "growth (MB)", "events dropped", "messages dropped", "handoff dropped", "wall s"],
  rows.map((r) => [
    num(r.n),
    r.subscribers ? "1 events + 1 messages" : "none",
    mb(r.heapBefore),
    mb(r.heapAfter),
    mb(r.heapAfter - r.heapBefore),
    num(r.eventsDropped),
    num(r.messagesDropped),
    num(r.handoffDropped),
    r.seconds.toFixed(1)
  ])
))
