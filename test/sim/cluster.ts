/**
 * Whole clusters on SimNetwork, in one process and in virtual time.
 */
import { Clock, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { Codec } from "../../src/codec/Codec.ts"
import { CompactCodec } from "../../src/codec/CompactCodec.ts"
import type { GossipConfigInput } from "../../src/Config.ts"
import { GossipConfig } from "../../src/Config.ts"
import type { MemberEvent } from "../../src/MemberEvent.ts"
import { Membership } from "../../src/Membership.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { Transport } from "../../src/transport/Transport.ts"

/** A datagram a node sent, with the Clock time it left. */
export interface Sent {
  readonly at: number
  readonly to: string
  readonly bytes: Uint8Array
}

/** The node's SimNetwork transport, recording every datagram it sends into `log`. */
const recordingTransport = (address: string, log: Array<Sent>) =>
  Layer.effect(
    Transport,
    Effect.gen(function*() {
      const inner = yield* (yield* SimNetwork).bind(address)
      const clock = yield* Clock.Clock
      return Transport.of({
        ...inner,
        sendPacket: (to, bytes) =>
          Effect.sync(() => log.push({ at: clock.currentTimeMillisUnsafe(), to, bytes })).pipe(
            Effect.andThen(inner.sendPacket(to, bytes))
          ),
        sendPacketNow: (to, bytes) => {
          log.push({ at: clock.currentTimeMillisUnsafe(), to, bytes })
          return inner.sendPacketNow!(to, bytes)
        }
      })
    })
  )

export interface SimNode {
  readonly name: string
  readonly address: string
  readonly membership: Membership["Service"]
  readonly scope: Scope.Closeable
  /** Every event this node published, with the Clock time it was seen. */
  readonly events: Array<{ readonly at: number; readonly event: MemberEvent }>
  /** Datagrams it sent, when started with `record: true`. */
  readonly sent: Array<Sent>
}

export const addressOf = (i: number) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}:7946`

/**
 * The node's SimNetwork transport without its hand-over of datagrams: they wait in its packet
 * queue for the node's receiver fiber, as datagrams from a socket do.
 */
const queuedTransport = (address: string) =>
  Layer.effect(
    Transport,
    Effect.gen(function*() {
      const { receivePacketsWith: _, ...queued } = yield* (yield* SimNetwork).bind(address)
      return Transport.of(queued)
    })
  )

export interface NodeOptions {
  /** The codec: `CompactCodec.layer` unless given. */
  readonly codec?: Layer.Layer<Codec>
  /** Datagrams wait in the transport's queue for a receiver fiber (see `queuedTransport`). */
  readonly queued?: boolean
}

/** Starts one node on the SimNetwork in context; it runs until its scope is closed. */
export const startNode = (
  name: string,
  address: string,
  overrides: Partial<GossipConfigInput> = {},
  record = false,
  options: NodeOptions = {}
): Effect.Effect<SimNode, unknown, SimNetwork> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const sent: Array<Sent> = []
    const transport = record
      ? recordingTransport(address, sent)
      : options.queued === true
      ? queuedTransport(address)
      : SimNetwork.transport(address)
    const layer = Membership.layer.pipe(
      Layer.provide(transport),
      Layer.provide(options.codec ?? CompactCodec.layer),
      Layer.provide(GossipConfig.layer({ name, ...overrides }))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const events: SimNode["events"] = []
    yield* membership.events.pipe(
      Stream.runForEach((event) =>
        Effect.clockWith((c) => Effect.sync(() => events.push({ at: c.currentTimeMillisUnsafe(), event })))
      ),
      Effect.forkIn(scope)
    )
    yield* Effect.yieldNow
    return { name, address, membership, scope, events, sent }
  })


/** Starts `n` nodes named `node-0…` and joins each to node-0. */
export const startCluster = (
  n: number,
  overrides: Partial<GossipConfigInput> = {},
  record = false
): Effect.Effect<Array<SimNode>, unknown, SimNetwork> =>
  Effect.gen(function*() {
    const nodes: Array<SimNode> = []
    for (let i = 0; i < n; i++) nodes.push(yield* startNode(`node-${i}`, addressOf(i), overrides, record))
    for (let i = 1; i < n; i++) yield* settle(nodes[i]!.membership.join([nodes[0]!.address]))
    return nodes
  })

/** Runs `effect` while advancing virtual time 1 ms at a time until it completes. */
export const settle = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    while (fiber.pollUnsafe() === undefined) yield* TestClock.adjust(1)
    return yield* Fiber.join(fiber)
  })

/** Stops a node without leaving (its process is gone). */
export const stopNode = (node: SimNode) => Scope.close(node.scope, Exit.void)

/** How each node currently sees `name` (undefined: not in its table). */
export const viewsOf = (nodes: ReadonlyArray<SimNode>, name: string) =>
  Effect.forEach(nodes, (n) =>
    Effect.map(n.membership.currentMembers, (ms) => ms.find((m) => m.name === name)?.state))

/** True when every node lists exactly the given names as alive. */
export const converged = (nodes: ReadonlyArray<SimNode>, alive: ReadonlyArray<string>) =>
  Effect.map(
    Effect.forEach(nodes, (n) => n.membership.currentMembers),
    (tables) =>
      tables.every((t) => {
        const names = t.filter((m) => m.state === "alive").map((m) => m.name).sort()
        return names.length === alive.length && names.every((x, i) => x === [...alive].sort()[i])
      })
  )

/** The first event matching `pred` on `node`, if any. */
export const firstEvent = (node: SimNode, pred: (e: MemberEvent) => boolean) => node.events.find((e) => pred(e.event))
