/**
 * The `Membership` service: who is in the cluster, as a stream; what happens to
 * them, as typed events; and the operations a node performs on the cluster.
 */
import { Clock, Context, Effect, Layer, Result, Stream } from "effect"
import type { Scope } from "effect"
import type { Channel } from "./channel/Channel.ts"
import { ChannelError, openChannel as openChannelOn } from "./channel/Channel.ts"
import { MAX_HELLO_FIELD } from "./channel/Hello.ts"
import { Codec } from "./codec/Codec.ts"
import type { GossipConfigValues } from "./Config.ts"
import { GossipConfig } from "./Config.ts"
import type { IncompatibleMemberError } from "./Errors.ts"
import { BroadcastTimeoutError, JoinError, MessageError, MetadataTooLargeError } from "./Errors.ts"
import type { Member } from "./Member.ts"
import type { MemberEvent, MemberRefused } from "./MemberEvent.ts"
import * as Msg from "./protocol/Messages.ts"
import { fitsBare } from "./protocol/PacketBudget.ts"
import type { NodeStats, RemoteState, UserMessage } from "./runtime/NodeActor.ts"
import { makeNode } from "./runtime/NodeActor.ts"
import type { TopicHub, TopicsStats } from "./topic/Hub.ts"
import { makeTopicHub } from "./topic/Hub.ts"
import { Transport } from "./transport/Transport.ts"

export type { NodeStats, RemoteState, UserMessage }

/** What the `Membership` service offers. */
export interface MembershipShape {
  /** The member table, self included: the current value first, then the table after each change. */
  readonly members: Stream.Stream<ReadonlyArray<Member>>
  /** The member table right now. */
  readonly currentMembers: Effect.Effect<ReadonlyArray<Member>>
  /** Membership events from the moment the stream starts running. */
  readonly events: Stream.Stream<MemberEvent>
  /**
   * Subscribes now: the stream holds every event published after this effect returns,
   * even before the stream is run, until the scope closes. For consumers that must not
   * miss what happens right after they are set up.
   */
  readonly subscribeEvents: Effect.Effect<Stream.Stream<MemberEvent>, never, Scope.Scope>
  /** This node as the cluster sees it. */
  readonly localMember: Effect.Effect<Member>
  /** Members that are alive or suspect, self included. */
  readonly numMembers: Effect.Effect<number>
  /** Lifeguard local health: 0 is healthy, higher means this node is probably slow. */
  readonly healthScore: Effect.Effect<number>
  /**
   * Contacts each seed address (push/pull with the join flag) and merges its state.
   * Returns how many answered; fails with `JoinError` when none did, or with
   * `IncompatibleMemberError` when the seeds that answered run an incompatible application.
   */
  join(addresses: ReadonlyArray<string>): Effect.Effect<number, JoinError | IncompatibleMemberError>
  /**
   * Leaves gracefully: announces it and waits (up to `leaveTimeout`) until the
   * announcement has been gossiped, or until no live member is left to tell (the others
   * left meanwhile). The node keeps answering probes until its scope closes.
   * Gossiped means sent: over WebSocket, where a peer's connection may still be dialing, it
   * also waits (within the same timeout) until the transport has written out what it queued.
   */
  readonly leave: Effect.Effect<void, BroadcastTimeoutError>
  /** Replaces this node's metadata (new incarnation, broadcast) and waits for the broadcast. */
  updateMetadata(meta: Uint8Array): Effect.Effect<void, MetadataTooLargeError | BroadcastTimeoutError>
  /**
   * Gossips an application message to every member: piggybacked and retransmit-limited
   * like membership updates, and passed on by every member that receives it.
   */
  broadcast(payload: Uint8Array): Effect.Effect<void, MessageError>
  /**
   * Gossips an application message the way memberlist gossips its delegate's broadcasts:
   * as bare bytes, delivered to the members that receive it directly, never passed on by
   * them. For protocols that relay messages themselves, such as serf's.
   */
  broadcastUnrelayed(payload: Uint8Array): Effect.Effect<void, MessageError>
  /** Sends an application message to one member in a single datagram (may be lost). */
  sendBestEffort(member: string, payload: Uint8Array): Effect.Effect<void, MessageError>
  /**
   * Sends an application message in a single datagram to an address (`host:port`), whether
   * or not a member of the table is there: for protocols that answer whoever asked, as serf
   * answers a query at the address the query carries.
   */
  sendToAddress(address: string, payload: Uint8Array): Effect.Effect<void, MessageError>
  /** Sends an application message to one member over a reliable stream. */
  sendReliable(member: string, payload: Uint8Array): Effect.Effect<void, MessageError>
  /**
   * Sends an application message to one member by the cheapest safe way: one datagram
   * when it fits the packet budget (`udpBufferSize`), a reliable stream otherwise.
   */
  send(member: string, payload: Uint8Array): Effect.Effect<void, MessageError>
  /**
   * Members kept out of the table because they run an incompatible application (see
   * `GossipConfigInput.application`), from the moment the stream starts running.
   */
  readonly refusals: Stream.Stream<MemberRefused>
  /** Application messages received, from the moment the stream starts running. */
  readonly messages: Stream.Stream<UserMessage>
  /** Like `subscribeEvents`, for application messages. */
  readonly subscribeMessages: Effect.Effect<Stream.Stream<UserMessage>, never, Scope.Scope>
  /**
   * Like `subscribeEvents`, for the application state members send in push/pull exchanges
   * (memberlist's delegate state: serf's clocks and member status times, for one). Each
   * subscriber holds the 16 most recent.
   */
  readonly subscribeRemoteStates: Effect.Effect<Stream.Stream<RemoteState>, never, Scope.Scope>
  /**
   * Opens a channel to a live member: an ordered, reliable byte pipe on the member's stream
   * port, framed and encrypted by the node's codec, that stays open until the scope closes.
   * Fails with `ChannelError` when the member is unknown, dead or left, or does not serve
   * `channel`. Protocols like effect/rpc (see `GossipRpc`) run on top.
   */
  openChannel(member: string, channel: string): Effect.Effect<Channel, ChannelError, Scope.Scope>
  /**
   * Serves `channel` until the scope closes: `handle` runs for each member that opens it
   * (at most `maxConnections` at once, default 256; more are refused and counted) and the
   * channel closes when `handle` ends. Fails with reason `InUse` when the name is taken.
   */
  serveChannel(
    channel: string,
    handle: (channel: Channel) => Effect.Effect<void>,
    options?: { readonly maxConnections?: number }
  ): Effect.Effect<void, ChannelError, Scope.Scope>
  /** The node's configuration as resolved when the layer was built (name, timeouts, …). */
  readonly config: GossipConfigValues
  /** Packet, error, protocol and topic counters. */
  readonly stats: Effect.Effect<MembershipStats>
  /** This node's topics: what `Topic.publish`, `Topic.send` and `Topic.subscribe` work through. */
  readonly topics: TopicHub
}

/** Every counter of a node: the engine's, and its topics' under `topics`. */
export interface MembershipStats extends NodeStats {
  readonly topics: TopicsStats
}

/** Cluster membership and failure detection for this node. */
export class Membership extends Context.Service<Membership, MembershipShape>()("effect-gossip/Membership") {
  /** Runs a node on the provided `Transport`, `Codec` and `GossipConfig`; it stops when the layer's scope closes. */
  static readonly layer: Layer.Layer<Membership, never, GossipConfig | Transport | Codec> = Layer.effect(
    Membership,
    Effect.gen(function*() {
      const config = yield* GossipConfig
      const transport = yield* Transport
      const codec = yield* Codec
      const topics = yield* makeTopicHub(config.name)
      const node = yield* makeNode(config, transport, codec, { intercept: topics.intercept, report: topics.report })

      const join = Effect.fn("Membership.join")(function*(addresses: ReadonlyArray<string>) {
        const errors: Array<string> = []
        let incompatible: IncompatibleMemberError | undefined
        let contacted = 0
        for (const given of addresses) {
          const resolved = transport.resolve === undefined
            ? Result.succeed<ReadonlyArray<string>>([given])
            : yield* Effect.result(transport.resolve(given))
          if (resolved._tag === "Failure") {
            errors.push(`${given}: ${resolved.failure.message}`)
            continue
          }
          for (const address of resolved.success) {
            const result = yield* Effect.result(node.pushPull(address, true))
            if (result._tag === "Success") contacted++
            else {
              errors.push(`${address}: ${result.failure.message}`)
              if (result.failure._tag === "IncompatibleMemberError") incompatible ??= result.failure
            }
          }
        }
        if (contacted === 0 && incompatible !== undefined) return yield* incompatible
        if (contacted === 0) {
          return yield* new JoinError({
            message: addresses.length === 0 ? "no addresses to join" : `no seed answered (${errors.join("; ")})`,
            errors
          })
        }
        yield* Effect.logDebug("joined", contacted, "of", addresses.length)
        return contacted
      })

      const waitBroadcast = (notify: number, timeout: number, operation: "leave" | "updateMetadata") =>
        Effect.gen(function*() {
          if (!(yield* node.anyAlive)) return
          yield* node.awaitBroadcast(notify).pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.fail(new BroadcastTimeoutError({ operation, message: `not fully gossiped within ${timeout} ms` }))
            })
          )
        })

      const leave = Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const notify = yield* node.leave
        if (notify !== undefined) yield* waitBroadcast(notify, config.leaveTimeout, "leave")
        // gossiped is handed to the transport: what it still queues (a connection being dialed)
        // leaves before the caller closes the node's scope, within what is left of the timeout
        if (transport.flush === undefined) return
        const left = config.leaveTimeout - ((yield* Clock.currentTimeMillis) - started)
        if (left > 0) yield* Effect.timeoutOption(transport.flush, left)
      }).pipe(Effect.withSpan("Membership.leave"))

      const metaLimit = config.metaMaxSize - node.metaHeaderSize
      const updateMetadata = Effect.fn("Membership.updateMetadata")(function*(meta: Uint8Array) {
        if (meta.length > metaLimit) return yield* new MetadataTooLargeError({ size: meta.length, limit: metaLimit })
        const notify = yield* node.updateMetadata(meta)
        yield* waitBroadcast(notify, config.updateTimeout, "updateMetadata")
      })

      const queueBroadcast = Effect.fnUntraced(function*(payload: Uint8Array, relayed: boolean) {
        const refused = yield* node.broadcast(payload, relayed)
        if (refused?._tag === "Left") return yield* new MessageError({ reason: "Left", message: "this node has left" })
        if (refused !== undefined) {
          return yield* new MessageError({
            reason: "TooLarge",
            message: `${payload.length} bytes (with framing) do not fit the ${refused.budget} bytes one gossip message may take`
          })
        }
      })

      // From the table at once, not through the actor: a send must not queue behind the protocol.
      const addressOf = (name: string) =>
        Effect.suspend(() => {
          const address = node.liveAddress(name)
          return address === undefined
            ? Effect.fail(new MessageError({ reason: "UnknownNode", message: `no live member named "${name}"` }))
            : Effect.succeed(address)
        })

      const sendToAddress = Effect.fnUntraced(function*(to: string, payload: Uint8Array) {
        const bytes = codec.encodePacket([codec.encodeMessage(Msg.user(payload))], { checksum: false })
        if (bytes.length > transport.maxPacketSize) {
          return yield* new MessageError({
            reason: "TooLarge",
            message: `${bytes.length} bytes exceed the packet size limit ${transport.maxPacketSize}`
          })
        }
        yield* transport.sendPacket(to, bytes).pipe(
          Effect.mapError((e) => new MessageError({ reason: "Transport", message: e.message }))
        )
      })

      const sendBestEffort = (member: string, payload: Uint8Array) =>
        Effect.flatMap(addressOf(member), (to) => sendToAddress(to, payload))

      const sendReliable = Effect.fnUntraced(function*(member: string, payload: Uint8Array) {
        const to = yield* addressOf(member)
        yield* Effect.scoped(Effect.gen(function*() {
          const conn = yield* transport.dial(to, config.tcpTimeout)
          yield* conn.write(codec.encodeStream(Msg.user(payload), { initiator: true }))
        })).pipe(Effect.mapError((e) => new MessageError({ reason: "Transport", message: e.message })))
      })

      // A datagram within the packet budget is unlikely to be fragmented or dropped for its size.
      const send = (member: string, payload: Uint8Array) =>
        fitsBare(codec.encodeMessage(Msg.user(payload)).length, codec.packetOverhead, config.udpBufferSize)
          ? sendBestEffort(member, payload)
          : sendReliable(member, payload)

      const openChannel = (member: string, channel: string) =>
        addressOf(member).pipe(
          Effect.mapError((e) => new ChannelError({ reason: "UnknownMember", channel, message: e.message })),
          Effect.flatMap((address) =>
            openChannelOn(transport, codec, { address, channel, self: config.name, timeoutMillis: config.tcpTimeout })
          )
        )

      const serveChannel = (
        channel: string,
        handle: (channel: Channel) => Effect.Effect<void>,
        options?: { readonly maxConnections?: number }
      ) =>
        Effect.suspend(() => {
          if (channel === "" || new TextEncoder().encode(channel).length > MAX_HELLO_FIELD) {
            return Effect.fail(new ChannelError({ reason: "BadName", channel, message: "channel names are 1 to 255 bytes" }))
          }
          const handler = { handle, maxConnections: Math.max(1, options?.maxConnections ?? 256) }
          return node.channels.register(channel, handler)
            ? Effect.addFinalizer(() => Effect.sync(() => node.channels.unregister(channel, handler)))
            : Effect.fail(new ChannelError({ reason: "InUse", channel, message: `channel "${channel}" is already served` }))
        })

      return Membership.of({
        members: node.members.changes,
        currentMembers: Effect.sync(() => node.members.current),
        events: node.events.stream,
        subscribeEvents: Effect.map(node.events.subscribe(), (s) => s.stream),
        localMember: node.localMember,
        numMembers: node.numMembers,
        healthScore: node.healthScore,
        join,
        leave,
        updateMetadata,
        broadcast: (payload) => queueBroadcast(payload, true),
        broadcastUnrelayed: (payload) => queueBroadcast(payload, false),
        sendBestEffort,
        sendToAddress,
        sendReliable,
        send,
        refusals: node.refusals.stream,
        messages: node.messages.stream,
        subscribeMessages: Effect.map(node.messages.subscribe(), (s) => s.stream),
        subscribeRemoteStates: Effect.map(node.remoteStates.subscribe(), (s) => s.stream),
        openChannel,
        serveChannel,
        config,
        stats: Effect.map(node.stats, (stats) => ({ ...stats, topics: topics.stats() })),
        topics
      })
    })
  )

  /** The member table as a stream, from the `Membership` in context. */
  static readonly members: Stream.Stream<ReadonlyArray<Member>, never, Membership> = Stream.unwrap(
    Membership.useSync((m) => m.members)
  )

  /** Membership events as a stream, from the `Membership` in context. */
  static readonly events: Stream.Stream<MemberEvent, never, Membership> = Stream.unwrap(
    Membership.useSync((m) => m.events)
  )
}


