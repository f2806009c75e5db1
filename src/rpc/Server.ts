/**
 * Serving an effect/rpc group on a channel: every member that opens the
 * channel is one client of effect/rpc's socket server protocol, run unchanged
 * on the channel adapter.
 */
import { Cause, Clock, Deferred, Duration, Effect, Layer } from "effect"
import type { Context, Scope } from "effect"
import { NetAddress } from "effect/net"
import type { Rpc, RpcGroup } from "effect/rpc"
import { RpcSerialization, RpcServer } from "effect/rpc"
import type { Socket } from "effect/socket"
import { SocketServer } from "effect/socket"
import type { Channel, ChannelError } from "../channel/Channel.ts"
import { Membership } from "../Membership.ts"
import { asClose, Link, serverSocket } from "./ChannelSocket.ts"
import { GossipRpcError } from "./GossipRpcError.ts"
import { serializationOrDefault } from "./Serialization.ts"
import { countersOf } from "./Stats.ts"

/** The channel rpc groups are served on unless told otherwise. */
export const DEFAULT_CHANNEL = "rpc"

/** Options of `GossipRpc.serve` / `GossipRpc.layerServer`. */
export interface GossipRpcServerOptions {
  /** The channel to serve on (default `"rpc"`); clients name the same one. */
  readonly channel?: string | undefined
  /** Connections served at once (default 256); more are refused. */
  readonly maxConnections?: number | undefined
  /**
   * A connection silent for this long is closed (default `3 × tcpTimeout`). Clients ping
   * every `tcpTimeout / 2`, so only a connection whose client is gone stays silent; this
   * bounds how long such a connection holds a slot.
   */
  readonly idleTimeout?: Duration.Input | undefined
  /** Passed to effect/rpc's server. */
  readonly concurrency?: number | "unbounded" | undefined
  readonly spanPrefix?: string | undefined
  readonly disableTracing?: boolean | undefined
}

type Handler = (socket: Socket.Socket) => Effect.Effect<void>

/** Closes `link` once nothing has been read from it for `idleMillis`. */
const closeWhenIdle = (link: Link, member: string, idleMillis: number, clock: Clock.Clock): Effect.Effect<void> => {
  const check: Effect.Effect<void> = Effect.suspend(() => {
    const idle = clock.currentTimeMillisUnsafe() - link.lastRead
    if (idle >= idleMillis) {
      return link.drop(
        new GossipRpcError({ reason: "Timeout", member, message: `connection silent for ${idleMillis} ms` })
      )
    }
    return Effect.andThen(Effect.sleep(idleMillis - idle), check)
  })
  return check
}

/**
 * Serves `group` on this node until the scope closes. The handlers come from
 * context as usual (`group.toLayer(...)`); the serialization is the `RpcSerialization`
 * in context or SchemaBinary. Fails with `ChannelError` when the channel name is taken.
 */
export const serve = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options?: GossipRpcServerOptions
): Effect.Effect<
  void,
  ChannelError,
  Scope.Scope | Membership | Rpc.ToHandler<Rpcs> | Rpc.Middleware<Rpcs> | Rpc.ServicesServer<Rpcs>
> =>
  Effect.gen(function*() {
    const membership = yield* Membership
    const counters = countersOf(membership)
    const local = yield* membership.localMember
    const idleMillis = options?.idleTimeout === undefined
      ? 3 * membership.config.tcpTimeout
      : Duration.toMillis(Duration.fromInputUnsafe(options.idleTimeout))
    const clock = yield* Clock.Clock

    // effect/rpc hands its connection handler to `run` once its protocol is up; channels
    // accepted before that wait for it.
    const handler = yield* Deferred.make<Handler>()
    const run = <R, E, _>(handle: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
      Effect.contextWith((context: Context.Context<R>) =>
        Deferred.succeed(handler, (socket) =>
          handle(socket).pipe(
            Effect.provideContext(context),
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logWarning("rpc connection failed", cause)
            ),
            Effect.asVoid
          ))
      ).pipe(Effect.andThen(Effect.never))
    const server = SocketServer.SocketServer.of({
      address: NetAddress.inetAddressFromIpStringUnsafe(local.host, local.port),
      run
    })

    // Accepted connections run in the node's fibers, not in this scope: closed here when serving stops.
    const links = new Set<Link>()
    const onChannel = (channel: Channel): Effect.Effect<void> =>
      Effect.gen(function*() {
        const handle = yield* Deferred.await(handler)
        yield* counters.add("connectionsServed")
        const link = new Link(channel, channel.peer, asClose, clock)
        links.add(link)
        yield* Effect.addFinalizer(() => Effect.sync(() => links.delete(link)))
        yield* Effect.forkScoped(closeWhenIdle(link, channel.peer, idleMillis, clock))
        yield* handle(serverSocket(link, channel.peer))
      }).pipe(Effect.scoped)

    yield* membership.serveChannel(options?.channel ?? DEFAULT_CHANNEL, onChannel, {
      ...(options?.maxConnections === undefined ? {} : { maxConnections: options.maxConnections })
    })
    yield* Effect.addFinalizer(() =>
      Effect.forEach(
        Array.from(links),
        (link) => link.drop(new GossipRpcError({ reason: "Closed", member: local.name, message: "the member stopped serving" })),
        { discard: true }
      ).pipe(
        // a channel accepted before effect/rpc's protocol was up must not wait for it any longer
        Effect.andThen(Deferred.succeed(handler, () => Effect.void))
      )
    )
    const protocol = yield* RpcServer.makeProtocolSocketServer.pipe(
      Effect.provideService(SocketServer.SocketServer, server),
      Effect.provideService(RpcSerialization.RpcSerialization, yield* serializationOrDefault)
    )
    yield* RpcServer.make(group, {
      ...(options?.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options?.spanPrefix === undefined ? {} : { spanPrefix: options.spanPrefix }),
      ...(options?.disableTracing === undefined ? {} : { disableTracing: options.disableTracing })
    }).pipe(Effect.provideService(RpcServer.Protocol, protocol), Effect.forkScoped)
  })

/** `serve` as a layer: the group is served while the layer is. */
export const layerServer = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options?: GossipRpcServerOptions
): Layer.Layer<
  never,
  ChannelError,
  Membership | Rpc.ToHandler<Rpcs> | Rpc.Middleware<Rpcs> | Rpc.ServicesServer<Rpcs>
> => Layer.effectDiscard(serve(group, options))
