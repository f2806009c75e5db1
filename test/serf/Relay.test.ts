import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Random, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Membership } from "../../src/Membership.ts"
import * as Msg from "../../src/protocol/Messages.ts"
import { decodeSerfMessage, encodeLeaveIntent } from "../../src/serf/Messages.ts"
import { relayKey, SerfRelay } from "../../src/serf/Relay.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, startCluster } from "../sim/cluster.ts"
import { fakePeer } from "../sim/fakes.ts"

describe("serf relay", () => {
  it("keys what serf re-gossips, and nothing else", () => {
    const leave = decodeSerfMessage(encodeLeaveIntent({ ltime: 3, node: "n1", prune: false }))!
    assert.strictEqual(relayKey(leave), "leave/n1/3")
    assert.isUndefined(relayKey({ _tag: "Unknown", type: 9 }))
  })

  it.effect("passes a serf leave intent on, once, to members the sender never reached", () =>
    Effect.gen(function*() {
      const nodes = yield* startCluster(4)
      yield* TestClock.adjust("3 seconds")
      const relaying = nodes[0]!
      yield* Layer.buildWithScope(
        SerfRelay.layer.pipe(Layer.provide(Layer.succeed(Membership, relaying.membership))),
        relaying.scope
      )
      const heard = yield* Effect.forEach(nodes.slice(1), (n) =>
        n.membership.messages.pipe(
          Stream.map((m) => decodeSerfMessage(m.payload)),
          Stream.take(1),
          Stream.runCollect,
          Effect.forkChild
        ))
      yield* Effect.yieldNow
      // A serf agent tells only node-0 that "s1" leaves.
      const serf = yield* fakePeer("s1", addressOf(9))
      const intent = encodeLeaveIntent({ ltime: 7, node: "s1", prune: false })
      yield* serf.send(relaying.address, Msg.user(intent))
      yield* serf.send(relaying.address, Msg.user(intent)) // a second copy, as gossip often brings
      yield* TestClock.adjust("5 seconds")
      for (const f of heard) {
        const [got] = yield* Fiber.join(f)
        assert.deepInclude(got, { _tag: "Leave", node: "s1", ltime: 7 })
      }
    }).pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(9)))
})
