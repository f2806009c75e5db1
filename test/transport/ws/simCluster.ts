/**
 * Whole clusters on SimNetwork in virtual time, each node on either the
 * simulated UDP/TCP transport or the WebSocket transport over simulated
 * streams, so the two can be run side by side on identical scenarios.
 */
import { Clock, Context, Effect, Fiber, Layer, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { CompactCodec } from "../../../src/codec/CompactCodec.ts"
import type { CodecShape } from "../../../src/codec/Codec.ts"
import { Codec } from "../../../src/codec/Codec.ts"
import type { GossipConfigInput } from "../../../src/Config.ts"
import { GossipConfig } from "../../../src/Config.ts"
import type { MemberEvent } from "../../../src/MemberEvent.ts"
import { Membership } from "../../../src/Membership.ts"
import { SimNetwork } from "../../../src/transport/SimNetwork.ts"
import { Transport } from "../../../src/transport/Transport.ts"
import type { WebSocketTransportOptions } from "../../../src/transport/ws/WebSocketTransport.ts"
import { WebSocketTransport } from "../../../src/transport/ws/WebSocketTransport.ts"

export type Kind = "udp" | "ws"

/** A datagram a node sent, with the Clock time it left. */
export interface Sent {
  readonly at: number
  readonly to: string
  readonly bytes: Uint8Array
}

export interface Node {
  readonly name: string
  readonly address: string
  readonly membership: Membership["Service"]
  readonly scope: Scope.Closeable
  readonly events: Array<{ readonly at: number; readonly event: MemberEvent }>
  readonly sent: Array<Sent>
  /** The WebSocket transport's face (undefined on UDP). */
  readonly ws: WebSocketTransport["Service"] | undefined
}

export const addressOf = (i: number) => `10.2.${Math.floor(i / 250)}.${(i % 250) + 1}:7946`

/** Wraps the node's transport so that every datagram it sends is logged with its time. */
const recording = <A, E, R>(inner: Layer.Layer<A | Transport, E, R>, log: Array<Sent>) =>
  Layer.effectContext(
    Effect.gen(function*() {
      const context = yield* Layer.build(inner)
      const t = Context.get(context as Context.Context<Transport>, Transport)
      const clock = yield* Clock.Clock
      const now = t.sendPacketNow
      return Context.add(context, Transport, {
        ...t,
        sendPacket: (to, bytes) =>
          Effect.sync(() => log.push({ at: clock.currentTimeMillisUnsafe(), to, bytes })).pipe(
            Effect.andThen(t.sendPacket(to, bytes))
          ),
        ...(now === undefined ? {} : {
          sendPacketNow: (to: string, bytes: Uint8Array) => {
            log.push({ at: clock.currentTimeMillisUnsafe(), to, bytes })
            return now(to, bytes)
          }
        })
      })
    })
  )

export interface NodeOptions {
  readonly config?: Partial<GossipConfigInput>
  readonly ws?: WebSocketTransportOptions
  readonly codec?: CodecShape
}

/** Starts one node of `kind` at `address`; it runs until its scope closes. */
export const startNode = (kind: Kind, name: string, address: string, options: NodeOptions = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const sent: Array<Sent> = []
    const transport = kind === "udp"
      ? recording(SimNetwork.transport(address), sent)
      : recording(WebSocketTransport.layerSim(address, options.ws), sent)
    const codec = options.codec === undefined ? CompactCodec.layer : Layer.succeed(Codec, options.codec)
    const layer = Membership.layer.pipe(
      Layer.provideMerge(transport),
      Layer.provide(codec),
      Layer.provide(GossipConfig.layer({ name, ...options.config }))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const ws = context.mapUnsafe.get(WebSocketTransport.key) as WebSocketTransport["Service"] | undefined
    const events: Node["events"] = []
    yield* membership.events.pipe(
      Stream.runForEach((event) =>
        Effect.clockWith((c) => Effect.sync(() => events.push({ at: c.currentTimeMillisUnsafe(), event })))
      ),
      Effect.forkIn(scope)
    )
    yield* Effect.yieldNow
    return { name, address, membership, scope, events, sent, ws } satisfies Node
  })

/** Runs `effect` while advancing virtual time 1 ms at a time until it completes. */
export const settle = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    while (fiber.pollUnsafe() === undefined) yield* TestClock.adjust(1)
    return yield* Fiber.join(fiber)
  })

/** Starts `n` nodes named `node-0…` and joins each to node-0. */
export const startCluster = (kind: Kind, n: number, options: NodeOptions = {}) =>
  Effect.gen(function*() {
    const nodes: Array<Node> = []
    for (let i = 0; i < n; i++) nodes.push(yield* startNode(kind, `node-${i}`, addressOf(i), options))
    for (let i = 1; i < n; i++) yield* settle(nodes[i]!.membership.join([nodes[0]!.address]))
    return nodes
  })

/** The member table of `node` as sorted `name=state` strings. */
export const tableOf = (node: Node) =>
  Effect.map(node.membership.currentMembers, (ms) => ms.map((m) => `${m.name}=${m.state}`).sort())

/** The first event on `node` about `name` with `tag`. */
export const firstEvent = (node: Node, name: string, tag: MemberEvent["_tag"]) =>
  node.events.find((e) => e.event._tag === tag && e.event.member.name === name)
