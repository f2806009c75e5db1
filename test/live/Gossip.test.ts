/**
 * The Node layers on real loopback sockets with the memberlist wire codec:
 * few, bounded, and every node closed at the end.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Scope } from "effect"
import type { GossipOptions } from "../../src/Gossip.ts"
import { Gossip, GossipLive } from "../../src/Gossip.ts"
import { Membership } from "../../src/Membership.ts"
import { UdpTcpTransport } from "../../src/transport/UdpTcpTransport.ts"

const KEY_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
const KEY_B = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo="

/**
 * Starts a node in `scope` on 127.0.0.1 with an OS-chosen port.
 *
 * Push/pull every 2 s instead of the profile's 15 s: in a three-node cluster a broadcast is
 * sent only retransmitMult × ceil(log10(4)) = 2 times by each node, and the random gossip
 * targets and piggybacked acks can spend all of them on the other two nodes (about 2 runs
 * in 100 on loopback). The cluster then converges at the next push/pull, as memberlist's
 * does, which at 15 s comes after the test's 10 s wait.
 */
const start = (scope: Scope.Scope, options: Omit<GossipOptions, "bind">) =>
  Effect.gen(function*() {
    const context = yield* Layer.buildWithScope(
      Gossip.layer({ profile: "local", pushPullInterval: "2 seconds", bind: "127.0.0.1:0", ...options }),
      scope
    )
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const transport = context.mapUnsafe.get(UdpTcpTransport.key) as UdpTcpTransport["Service"]
    return { membership, address: `127.0.0.1:${transport.port}` }
  })

const aliveNames = (m: Membership["Service"]) =>
  Effect.map(m.currentMembers, (ms) => ms.filter((x) => x.state === "alive").map((x) => x.name).sort())

const waitFor = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep(50)
  }).pipe(Effect.timeout("10 seconds"))

describe("Gossip.layer on loopback", () => {
  it.live("three nodes with AES-256 keys find each other; a node with another key cannot join", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const a = yield* start(scope, { name: "a", encryptionKeys: [KEY_A] })
      const b = yield* start(scope, { name: "b", encryptionKeys: [KEY_A] })
      const c = yield* start(scope, { name: "c", encryptionKeys: [KEY_A, KEY_B] }) // B installed as a secondary key
      assert.strictEqual(yield* b.membership.join([a.address]), 1)
      assert.strictEqual(yield* c.membership.join([b.address]), 1)
      yield* waitFor(Effect.map(aliveNames(a.membership), (n) => n.join() === "a,b,c"))
      const outsider = yield* start(scope, { name: "x", encryptionKeys: [KEY_B] })
      const refused = yield* Effect.flip(outsider.membership.join([a.address]))
      assert.strictEqual(refused._tag, "JoinError")
      assert.isAtLeast((yield* a.membership.stats).streamErrors, 1)
      yield* Effect.sleep(500)
      assert.deepStrictEqual(yield* aliveNames(a.membership), ["a", "b", "c"])
    })))

  it.live("GossipLive reads its configuration from the environment", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const seed = yield* start(scope, { name: "seed" })
      const context = yield* Layer.buildWithScope(
        GossipLive.pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({
            env: { GOSSIP_NAME: "from-env", GOSSIP_BIND: "127.0.0.1:0", GOSSIP_PROFILE: "local" }
          })))
        ),
        scope
      )
      const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
      assert.strictEqual((yield* membership.localMember).name, "from-env")
      yield* membership.join([seed.address])
      yield* waitFor(Effect.map(aliveNames(seed.membership), (n) => n.join() === "from-env,seed"))
    })))
})
