/**
 * An effect/rpc client for one member, over a channel: effect/rpc's socket
 * protocol (serialization, pings, reconnection) on the channel adapter.
 *
 * How calls fail, all with `GossipRpcError`:
 * - The member is unknown, dead or left: the client (or the call) fails at once.
 * - The member dies mid-call: the protocol pings every `tcpTimeout / 2` and drops a
 *   connection that has been silent for longer than `tcpTimeout / 2` at a ping tick, so
 *   a call in flight fails (`Timeout`) at most two ticks, `tcpTimeout`, after the member's
 *   death. Once the member table says dead or left, the connection is dropped at once
 *   (`MemberGone`).
 * - While the connection is down, calls fail at once with the error that took it
 *   down; the client reconnects in the background: as soon as a dead or departed
 *   member is alive again, or after a backoff for a live member that refused or
 *   could not be reached.
 */
import { Duration, Effect, Exit, Schedule, Scope, Stream } from "effect"
import type { Rpc, RpcClientError as RpcClientErrors, RpcGroup, RpcMessage } from "effect/rpc"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Socket } from "effect/socket"
import type { Channel } from "../channel/Channel.ts"
import { Membership } from "../Membership.ts"
import { clientSocket } from "./ChannelSocket.ts"
import { fromChannelError, fromClientError, GossipRpcError, isMemberAbsent } from "./GossipRpcError.ts"
import { checkMember, untilCallable } from "./Liveness.ts"
import { serializationOrDefault } from "./Serialization.ts"
import { DEFAULT_CHANNEL } from "./Server.ts"
import type { RpcCounters } from "./Stats.ts"
import { countersOf } from "./Stats.ts"

type RpcClientError = RpcClientErrors.RpcClientError

/** Options of `GossipRpc.client`. */
export interface GossipRpcClientOptions {
  /** The channel the member serves the group on (default `"rpc"`). */
  readonly channel?: string | undefined
  /** Passed to effect/rpc's client: its span names and whether it traces calls. */
  readonly spanPrefix?: string | undefined
  readonly disableTracing?: boolean | undefined
}

/** The client type: every method's transport failure is a `GossipRpcError`. */
export type GossipRpcClient<Rpcs extends Rpc.Any> = RpcClient.RpcClient<Rpcs, GossipRpcError>

/** What a client knows about its member and connection. */
interface Presence {
  /** Set while the member table says dead or left: calls fail at once with it. */
  gone: GossipRpcError | undefined
  /** A connection is open (a loss of it is then counted). */
  connected: boolean
}

/**
 * effect/rpc's protocol, with its client errors as `GossipRpcError` and calls counted.
 * Every transport failure of a call reaches it through `send` or a `ClientProtocolError`,
 * so mapping both here types every failure the client can see.
 */
const typedProtocol = (
  protocol: RpcClient.Protocol["Service"],
  member: string,
  counters: RpcCounters,
  presence: Presence,
  drop: (error: GossipRpcError) => Effect.Effect<void>
): RpcClient.Protocol["Service"] => {
  // ids of the requests sent and not yet answered: what a lost connection fails
  const inFlight = new Set<string | number>()
  const onMessage = (f: (data: RpcMessage.FromServerEncoded) => Effect.Effect<void>) =>
  (data: RpcMessage.FromServerEncoded): Effect.Effect<void> => {
    switch (data._tag) {
      case "Exit":
        inFlight.delete(data.requestId)
        return f(data)
      case "Defect":
        inFlight.clear()
        return f(data)
      case "ClientProtocolError": {
        const error = fromClientError(member, data.error)
        const lost = inFlight.size
        inFlight.clear()
        const wasConnected = presence.connected
        presence.connected = false
        return counters.add("callsLost", lost).pipe(
          Effect.andThen(wasConnected ? counters.add("connectionsLost") : Effect.void),
          Effect.andThen(f({ _tag: "ClientProtocolError", error: error as unknown as RpcClientError })),
          // input that does not decode leaves the parser unusable: reconnect with a fresh one
          Effect.andThen(error.reason === "Protocol" ? drop(error) : Effect.void)
        )
      }
      default:
        return f(data)
    }
  }
  return {
    ...protocol,
    run: (clientId, f) => protocol.run(clientId, onMessage(f)),
    send: (clientId, request, transferables) => {
      if (request._tag === "Request") {
        if (presence.gone !== undefined) {
          return Effect.andThen(counters.add("callsUnavailable"), Effect.fail(presence.gone as unknown as RpcClientError))
        }
        inFlight.add(request.id)
      }
      else if (request._tag === "Interrupt") inFlight.delete(request.requestId)
      return Effect.catch(protocol.send(clientId, request, transferables), (e) => {
        const error = fromClientError(member, e)
        if (request._tag !== "Request") return Effect.fail(error as unknown as RpcClientError)
        inFlight.delete(request.id)
        return Effect.andThen(
          counters.add(isMemberAbsent(error) ? "callsUnavailable" : "callsDisconnected"),
          Effect.fail(error as unknown as RpcClientError)
        )
      })
    }
  }
}

/** Backoff between reconnections to a live member: 100 ms doubling, at most `tcpTimeout / 2`. */
const reconnectPolicy = (tcpTimeout: number) =>
  Schedule.min([Schedule.exponential(Duration.millis(100), 2), Schedule.spaced(Duration.millis(Math.max(100, tcpTimeout / 2)))])

/**
 * An rpc client for `group` on the member named `member`. Fails at once with
 * `GossipRpcError` when the member is unknown, dead or left, refuses the channel, or
 * cannot be reached; the connection closes with the scope.
 */
export const client = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  member: string,
  options?: GossipRpcClientOptions
): Effect.Effect<GossipRpcClient<Rpcs>, GossipRpcError, Scope.Scope | Membership | Rpc.MiddlewareClient<Rpcs>> =>
  Effect.gen(function*() {
    // a client that fails to start releases at once what it acquired (its event subscription above all)
    const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
    return yield* make(group, member, options).pipe(
      Scope.provide(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
  })

const make = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  member: string,
  options: GossipRpcClientOptions | undefined
): Effect.Effect<GossipRpcClient<Rpcs>, GossipRpcError, Scope.Scope | Membership | Rpc.MiddlewareClient<Rpcs>> =>
  Effect.gen(function*() {
    const membership = yield* Membership
    const counters = countersOf(membership)
    const channelName = options?.channel ?? DEFAULT_CHANNEL
    const tcpTimeout = membership.config.tcpTimeout

    const refuse = (error: GossipRpcError) =>
      Effect.andThen(counters.add(isMemberAbsent(error) ? "callsUnavailable" : "callsDisconnected"), Effect.fail(error))
    // Subscribed before the table is read, so that no change after the check is missed.
    const events = yield* membership.subscribeEvents
    const absent = yield* checkMember(membership, member)
    if (absent !== undefined) return yield* refuse(absent)

    const presence: Presence = { gone: undefined, connected: false }
    const open: Effect.Effect<Channel, GossipRpcError, Scope.Scope> = membership.openChannel(member, channelName).pipe(
      Effect.mapError((e) => fromChannelError(member, e)),
      Effect.tap(() => {
        presence.connected = true
        return counters.add("connectionsOpened")
      })
    )
    // The first connection is opened here, so that a refusal or an unreachable member fails the client itself.
    let primed: Channel | undefined = yield* Effect.tapError(open, (e) => refuse(e).pipe(Effect.ignore))
    // A member that is not in the table as alive or suspect is waited for: calls meanwhile fail
    // at once with `presence.gone`, and the connection reopens as soon as the member is back.
    const connect = Effect.suspend((): Effect.Effect<Channel, GossipRpcError, Scope.Scope> => {
      if (primed !== undefined) {
        const channel = primed
        primed = undefined
        return Effect.succeed(channel)
      }
      return Effect.flatMap(
        checkMember(membership, member),
        (gone) => gone === undefined ? open : Effect.andThen(untilCallable(membership, member), open)
      )
    })
    const { drop, socket } = clientSocket(member, connect)

    // The table's word on the member: dead or left drops the connection now (no need to wait
    // for the ping timeout) and fails later calls at once, until the member is back.
    yield* events.pipe(
      Stream.runForEach((event) => {
        if (event.member.name !== member) return Effect.void
        switch (event._tag) {
          case "MemberFailed":
          case "MemberLeft": {
            const state = event._tag === "MemberFailed" ? "dead" : "left"
            presence.gone = new GossipRpcError({ reason: "MemberGone", member, message: `member "${member}" is ${state}` })
            return drop(presence.gone)
          }
          case "MemberJoined":
          case "MemberAlive":
            presence.gone = undefined
            return Effect.void
          default:
            return Effect.void
        }
      }),
      Effect.forkScoped
    )

    const half = Duration.millis(Math.max(1, Math.floor(tcpTimeout / 2)))
    const protocol = yield* RpcClient.makeProtocolSocket({
      pingInterval: half,
      pingTimeout: half,
      retryPolicy: reconnectPolicy(tcpTimeout)
    }).pipe(
      Effect.provideService(Socket.Socket, socket),
      Effect.provideService(RpcSerialization.RpcSerialization, yield* serializationOrDefault)
    )
    const rpcClient = yield* RpcClient.make(group, {
      ...(options?.spanPrefix === undefined ? {} : { spanPrefix: options.spanPrefix }),
      ...(options?.disableTracing === undefined ? {} : { disableTracing: options.disableTracing })
    }).pipe(Effect.provideService(RpcClient.Protocol, typedProtocol(protocol, member, counters, presence, drop)))
    // Every transport failure the client can produce is a GossipRpcError (see typedProtocol).
    return rpcClient as unknown as GossipRpcClient<Rpcs>
  })
