/**
 * An rpc group for the tests, its handlers, and helpers to serve and call it
 * on SimNetwork nodes.
 */
import { Effect, Layer, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { Membership } from "../../src/Membership.ts"
import { GossipRpc } from "../../src/rpc/GossipRpc.ts"
import type { GossipRpcServerOptions } from "../../src/rpc/Server.ts"
import type { SimNode } from "../sim/cluster.ts"

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { key: Schema.String }) {}

export class Store extends RpcGroup.make(
  Rpc.make("Get", { payload: { key: Schema.String }, success: Schema.String, error: NotFound }),
  Rpc.make("Echo", { payload: { bytes: Schema.Uint8Array }, success: Schema.Uint8Array }),
  Rpc.make("Count", { payload: { to: Schema.Int }, success: Schema.Int, stream: true }),
  Rpc.make("Sleep", { payload: { millis: Schema.Int }, success: Schema.String }),
  Rpc.make("Fill", { payload: { size: Schema.Int }, success: Schema.Uint8Array })
) {}

/** What the handlers of one server saw. */
export interface Seen {
  /** `Sleep` calls interrupted before they answered. */
  interrupted: number
}

/** Handlers: `Get` knows `a`; `Sleep` answers after `millis` of the server's clock. */
export const StoreLive = (node: string, seen: Seen = { interrupted: 0 }) =>
  Store.toLayer({
    Get: ({ key }) => key === "a" ? Effect.succeed(`${node}:a`) : Effect.fail(new NotFound({ key })),
    Echo: ({ bytes }) => Effect.succeed(bytes),
    Count: ({ to }) => Stream.range(1, to),
    Fill: ({ size }) => Effect.sync(() => new Uint8Array(size)),
    Sleep: ({ millis }) =>
      Effect.as(Effect.sleep(millis), `slept ${millis}`).pipe(
        Effect.onInterrupt(() => Effect.sync(() => void seen.interrupted++))
      )
  })

/** Serves `Store` on `node` until the current scope closes. */
export const serveOn = (
  node: SimNode,
  options?: GossipRpcServerOptions,
  seen?: Seen
): Effect.Effect<void, unknown, Scope.Scope> =>
  GossipRpc.serve(Store, options).pipe(
    Effect.provide(Layer.merge(StoreLive(node.name, seen), Layer.succeed(Membership, node.membership)))
  )

/** The member table of `node` as `name=state` strings. */
export const tableOf = (node: SimNode) =>
  Effect.map(node.membership.currentMembers, (ms) => ms.map((m) => `${m.name}=${m.state}`).sort())

/** A `Store` client on `from` for the member named `to`. */
export const clientOn = (from: SimNode, to: string) =>
  GossipRpc.client(Store, to).pipe(Effect.provideService(Membership, from.membership))

/** `GossipRpc.stats` of `node`. */
export const statsOf = (node: SimNode) => GossipRpc.stats.pipe(Effect.provideService(Membership, node.membership))
