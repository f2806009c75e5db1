/**
 * The Effect shell around `NodeCore`: one actor fiber owns the core and feeds it
 * one mailbox input at a time; everything the core asks for (packets, timers,
 * stream exchanges, events) is carried out here. While the actor waits on an empty
 * mailbox, an input from plain code (a timer, a datagram a transport hands over) is
 * handled where it arrives instead (`handleNow`): still one input at a time, in order.
 * Every fiber lives in the scope the node is built in, so closing it stops the node
 * completely.
 */
import { Cause, Clock, Deferred, Effect, Exit, FiberSet, Queue, Random } from "effect"
import type { Scope } from "effect"
import { boundForChannel } from "../channel/Channel.ts"
import { decodeHello, isHello } from "../channel/Hello.ts"
import { ChannelRegistry } from "../channel/Registry.ts"
import type { CodecShape } from "../codec/Codec.ts"
import type { GossipConfigValues } from "../Config.ts"
import { IncompatibleMemberError, PushPullError } from "../Errors.ts"
import type { Member } from "../Member.ts"
import type { MemberEvent, MemberRefused } from "../MemberEvent.ts"
import * as Msg from "../protocol/Messages.ts"
import type { PacketMessage, PushPull, StreamMessage } from "../protocol/Messages.ts"
import { Directory } from "../protocol/Directory.ts"
import { NodeCore } from "../protocol/Node.ts"
import type { Output } from "../protocol/Outputs.ts"
import type { Timer } from "../protocol/Timer.ts"
import { TransportError } from "../transport/Transport.ts"
import type { StreamConnection, TransportShape } from "../transport/Transport.ts"
import { Fanout } from "./Fanout.ts"
import { MemberView } from "./MemberView.ts"
import { nodeMetrics } from "./Metrics.ts"
import { SharedDirectory } from "./SharedDirectory.ts"
import { readStreamMessage, StreamReader } from "./StreamIO.ts"
import { makeTimers, Timers } from "./Timers.ts"
import type { TimerEntry, TimerTarget } from "./TimerWheel.ts"

/** An application message as received. */
export interface UserMessage {
  /**
   * The address (`host:port`) it arrived from, as the transport saw it: for a datagram the
   * sender's node address, for a reliable (stream) message the connection's source address,
   * whose port is usually ephemeral. Carry a name in the payload if the receiver must know it.
   */
  readonly from: string
  /** For a broadcast, the name of the member that sent it; undefined for a direct message. */
  readonly origin: string | undefined
  readonly payload: Uint8Array
}

/**
 * The application state a member sent in a push/pull exchange (memberlist's delegate
 * `LocalState`, such as serf's clocks and member status times), once the exchange merged.
 */
export interface RemoteState {
  /** The address dialed, or for an exchange the member started, the connection's source address. */
  readonly from: string
  /** The exchange was a join. */
  readonly join: boolean
  readonly state: Uint8Array
}

/** Counters of one node. */
export interface NodeStats {
  readonly packetsReceived: number
  readonly packetsSent: number
  readonly bytesReceived: number
  readonly bytesSent: number
  readonly sendErrors: number
  readonly decodeErrors: number
  readonly streamErrors: number
  readonly internalErrors: number
  /** Inbound messages dropped because `handoffQueueDepth` of their kind were waiting for the actor. */
  readonly handoffDropped: number
  /** Events lost by subscribers that fell behind (each subscriber's loss counts). */
  readonly eventsDropped: number
  /** Application messages lost by subscribers that fell behind (each subscriber's loss counts). */
  readonly messagesDropped: number
  /** Member tables skipped by `members` streams that fell behind (each stream's skips count). */
  readonly tablesSkipped: number
  /** Inbound channels served. */
  readonly channelsAccepted: number
  /** Inbound channel hellos refused: unknown name, connection limit, malformed. */
  readonly channelsRefused: number
  readonly probes: number
  readonly probeFailures: number
  readonly suspicionsRaised: number
  readonly refutations: number
  readonly conflicts: number
  readonly rejectedAlives: number
  /** Alive messages and push/pulls refused because a member runs an incompatible application. */
  readonly incompatible: number
  /** Bytes the member table's columns hold now (names, addresses and metadata are shared, not counted). */
  readonly tableBytes: number
  /** Bytes the membership broadcast queue's columns hold now (the queued messages not counted). */
  readonly queueBytes: number
}

/** Deliveries one event or message subscriber may hold before it loses some. */
export const SUBSCRIBER_CAPACITY = 1024
const REFUSAL_CAPACITY = 256
/** Push/pull states held per subscriber: the latest say what the cluster is like now. */
const REMOTE_STATE_CAPACITY = 16
/** Mailbox room for timers, call results and calls, beyond the packets' allowance. */
const CONTROL_CAPACITY = 4096
/** Undecodable datagrams waiting to be logged at most; more are only counted. */
const MAX_UNLOGGED = 16

/** How often the node's counters are fed to its metrics. */
const REPORT_INTERVAL = 1000

/** Probes and their answers: small, time-critical, and allowed their own share of the mailbox. */
const isProbeTraffic = (m: PacketMessage): boolean =>
  m._tag === "Ping" || m._tag === "IndirectPing" || m._tag === "Ack" || m._tag === "Nack"

type Input =
  /** The messages of one datagram that were admitted (one input per datagram, not per message). */
  | { readonly _tag: "Packet"; readonly from: string; readonly messages: ReadonlyArray<PacketMessage> }
  | { readonly _tag: "Timer"; readonly timer: Timer }
  | { readonly _tag: "Report" }
  /** Nothing to do but run the actor (it has something to log). */
  | { readonly _tag: "Wake" }
  /** What an input handled on the spot left to the actor: effects to run, before anything else. */
  | { readonly _tag: "Finish"; readonly effect: Effect.Effect<void> | undefined }
  | { readonly _tag: "TcpPingResult"; readonly seqNo: number; readonly ok: boolean }
  | { readonly _tag: "Call"; readonly run: (core: NodeCore, now: number) => void }

type PacketInput = Extract<Input, { readonly _tag: "Packet" }>
const WAKE: Input = { _tag: "Wake" }

/** Why an application broadcast was not queued. */
export type BroadcastRefusal = { readonly _tag: "Left" } | { readonly _tag: "TooLarge"; readonly budget: number }

export interface NodeHandle {
  /** The member table: the current one, and the table after every change. */
  readonly members: MemberView
  readonly events: Fanout<MemberEvent>
  readonly messages: Fanout<UserMessage>
  readonly refusals: Fanout<MemberRefused>
  /** Non-empty application states received in push/pull exchanges. */
  readonly remoteStates: Fanout<RemoteState>
  /** The channels this node serves. */
  readonly channels: ChannelRegistry
  /** Bytes the application header takes out of `metaMaxSize`. */
  readonly metaHeaderSize: number
  /** This node's entry. */
  readonly localMember: Effect.Effect<Member>
  /** Members alive or suspect, self included. */
  readonly numMembers: Effect.Effect<number>
  /** Lifeguard's local health score. */
  readonly healthScore: Effect.Effect<number>
  /** Whether any other member might still hear from us. */
  readonly anyAlive: Effect.Effect<boolean>
  /** Starts a graceful leave; the broadcast to wait for, if one was queued. */
  readonly leave: Effect.Effect<number | undefined>
  /** Announces new metadata; the broadcast to wait for. */
  updateMetadata(meta: Uint8Array): Effect.Effect<number>
  /** Queues an application broadcast (passed on by receivers when `relayed`). */
  broadcast(payload: Uint8Array, relayed: boolean): Effect.Effect<BroadcastRefusal | undefined>
  /**
   * The address of a live member, read from the table at once rather than through the actor:
   * a send must not queue behind the protocol.
   */
  liveAddress(name: string): string | undefined
  /** Waits for a broadcast notification from the core. */
  awaitBroadcast(notify: number): Effect.Effect<void>
  /** A push/pull with the node at `address`; merges the answer. */
  pushPull(address: string, join: boolean): Effect.Effect<void, PushPullError | IncompatibleMemberError>
  /** The node's counters, read inside the actor. */
  readonly stats: Effect.Effect<NodeStats>
}

/** How the node's owner takes part in delivery. */
export interface NodeOptions {
  /** Sees every application message first; true means it was consumed and goes no further. */
  readonly intercept?: (message: UserMessage) => boolean
  /** Runs with the node's own metrics, once a second. */
  readonly report?: Effect.Effect<void>
}

export const makeNode = (
  config: GossipConfigValues,
  transport: TransportShape,
  codec: CodecShape,
  options: NodeOptions = {}
): Effect.Effect<NodeHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    const random = yield* Random.Random
    const clock = yield* Clock.Clock
    const start = clock.currentTimeMillisUnsafe()
    const shared = yield* Effect.serviceOption(SharedDirectory)
    // A subscriber that falls behind loses the oldest events (the newest say how things are now)
    // and the newest messages (as memberlist's handoff queue does); each loss is counted.
    const events = new Fanout<MemberEvent>(SUBSCRIBER_CAPACITY, "sliding")
    const messages = new Fanout<UserMessage>(SUBSCRIBER_CAPACITY, "dropping")
    const refusals = new Fanout<MemberRefused>(REFUSAL_CAPACITY, "sliding")
    const remoteStates = new Fanout<RemoteState>(REMOTE_STATE_CAPACITY, "sliding")
    const core = new NodeCore({
      config,
      encode: (m) => codec.encodeMessage(m),
      encoding: codec,
      compoundHeaderOverhead: codec.compoundHeaderOverhead,
      compoundPartOverhead: codec.compoundPartOverhead,
      packetOverhead: () => codec.packetOverhead,
      addr: transport.advertise.addr,
      port: transport.advertise.port,
      random: () => random.nextDoubleUnsafe(),
      directory: shared._tag === "Some" ? shared.value : new Directory(),
      listened: () => events.size > 0
    }, start)
    // Gives the interned names back to a shared directory once the actor has stopped.
    yield* Effect.addFinalizer(() => Effect.sync(() => core.release()))
    const sharedTimers = yield* Effect.serviceOption(Timers)
    const timers = sharedTimers._tag === "Some" ? sharedTimers.value : yield* makeTimers

    // Packets are admitted up to `handoffQueueDepth` waiting (see the receiver); the rest of the
    // room is for timers, call results and calls, whose producers wait when it is full.
    const mailbox = yield* Queue.bounded<Input>(2 * config.handoffQueueDepth + CONTROL_CAPACITY)
    // Timer inputs never wait: when the mailbox is full they queue here, behind its batch.
    const overflow: Array<Input> = []
    // True while the actor waits on an empty mailbox with nothing of its own left to do. An
    // input from plain code (a timer, a datagram a transport hands over) is then handled on the
    // spot (`handleNow`) instead of waking the actor's fiber for it. Every offer clears it first,
    // so that inputs are handled in the order they came.
    let waiting = false
    const post = (input: Input): void => {
      waiting = false
      if (!Queue.offerUnsafe(mailbox, input)) overflow.push(input)
    }
    const offer = (input: Input): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        waiting = false
        return Queue.offer(mailbox, input)
      })
    // The timers the core armed and has not seen fire, so that it can cancel them.
    const armed = new Map<Timer, TimerEntry<Timer>>()
    const timerTarget: TimerTarget<Timer> = {
      fire: (timer) => {
        armed.delete(timer)
        const input: Input = { _tag: "Timer", timer }
        if (waiting) handleNow(input)
        else post(input)
      }
    }
    const reportTarget: TimerTarget<number> = {
      fire: (at) => {
        reporting = timers.schedule(at + REPORT_INTERVAL, reportTarget, at + REPORT_INTERVAL)
        post({ _tag: "Report" })
      }
    }
    let reporting: TimerEntry<number> | undefined = undefined
    const background = yield* FiberSet.make()
    const members = yield* MemberView.make(() => core.members())
    let publishedVersion = core.tableVersion
    // Packet inputs waiting in the mailbox, by kind: at most `handoffQueueDepth` of each.
    let pendingProbes = 0
    let pendingGossip = 0
    const waiters = new Map<number, Deferred.Deferred<void>>()
    const done = new Set<number>()
    const counters = {
      packetsReceived: 0,
      packetsSent: 0,
      bytesReceived: 0,
      bytesSent: 0,
      sendErrors: 0,
      decodeErrors: 0,
      streamErrors: 0,
      internalErrors: 0,
      handoffDropped: 0,
      channelsAccepted: 0,
      channelsRefused: 0
    }
    const annotate = Effect.annotateLogs({ node: config.name })
    const channels = new ChannelRegistry()
    /** An application message goes to whoever claims it (topics), else to the raw subscribers. */
    const deliver = (message: UserMessage): void => {
      if (options.intercept === undefined || !options.intercept(message)) messages.publish(message)
    }
    /** For the actor only: the counters as they are between two inputs. */
    const statsNow = (): NodeStats => {
      const footprint = core.footprint
      return {
        ...counters,
        ...core.stats(),
        tableBytes: footprint.table,
        queueBytes: footprint.queue,
        eventsDropped: events.dropped,
        messagesDropped: messages.dropped,
        tablesSkipped: members.dropped
      }
    }

    const call = <A>(f: (core: NodeCore, now: number) => A): Effect.Effect<A> =>
      Effect.flatMap(Deferred.make<A>(), (deferred) =>
        offer({
          _tag: "Call",
          run: (c, now) => {
            // A defect reaches the caller instead of leaving it waiting forever.
            let result: Exit.Exit<A>
            try {
              result = Exit.succeed(f(c, now))
            } catch (defect) {
              result = Exit.die(defect)
            }
            Deferred.doneUnsafe(deferred, result)
          }
        }).pipe(Effect.andThen(Deferred.await(deferred))))

    const awaitBroadcast = (notify: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (done.delete(notify)) return Effect.void
        return Effect.flatMap(Deferred.make<void>(), (deferred) => {
          waiters.set(notify, deferred)
          return Deferred.await(deferred).pipe(Effect.ensuring(Effect.sync(() => waiters.delete(notify))))
        })
      })

    const sendPacket = (to: string, bytes: Uint8Array) =>
      transport.sendPacket(to, bytes).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            counters.packetsSent++
            counters.bytesSent += bytes.length
          })
        ),
        Effect.catch((error) =>
          Effect.sync(() => counters.sendErrors++).pipe(
            Effect.andThen(Effect.logDebug("send failed", error.reason, to))
          )
        )
      )

    const tcpPing = (seqNo: number, to: string, node: string, deadline: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const budget = Math.max(1, deadline - now)
        const ok = yield* Effect.scoped(Effect.gen(function*() {
          const conn = yield* transport.dial(to, budget)
          const ping = Msg.ping(seqNo, node, transport.advertise.addr, config.name, transport.advertise.port)
          yield* conn.write(codec.encodeStream(ping, { initiator: true }))
          const reply = yield* readStreamMessage(conn, codec, { initiator: true })
          return reply._tag === "Ack" && reply.seqNo === seqNo
        })).pipe(
          Effect.timeoutOption(budget),
          Effect.map((o) => o._tag === "Some" && o.value),
          // Whatever happens (even a defect), the probe waiting on this answer must get one.
          Effect.catchCause(() => Effect.succeed(false))
        )
        yield* offer({ _tag: "TcpPingResult", seqNo, ok })
      })

    const pushPull = (address: string, join: boolean): Effect.Effect<void, PushPullError | IncompatibleMemberError> =>
      Effect.scoped(Effect.gen(function*() {
        const conn = yield* transport.dial(address, config.tcpTimeout)
        const local = yield* call((c) => c.localState(join))
        yield* conn.write(codec.encodeStream(local, { initiator: true }))
        const reply = yield* readStreamMessage(conn, codec, { initiator: true })
        if (reply._tag === "Err") return yield* new PushPullError({ address, message: `remote error: ${reply.error}` })
        if (reply._tag !== "PushPull") {
          return yield* new PushPullError({ address, message: `expected a push/pull reply, got ${reply._tag}` })
        }
        const refused = yield* call((c, now) => c.mergeRemoteState(reply, now))
        if (refused?._tag === "Application" && config.application !== undefined) {
          return yield* new IncompatibleMemberError({
            member: refused.member,
            remote: refused.remote,
            local: config.application,
            message: refused.message
          })
        }
        if (refused !== undefined) return yield* new PushPullError({ address, message: refused.message })
        if (reply.userState.length > 0) remoteStates.publish({ from: address, join, state: reply.userState })
      })).pipe(
        Effect.timeoutOrElse({
          duration: config.tcpTimeout,
          orElse: () => Effect.fail(new PushPullError({ address, message: "timed out" }))
        }),
        Effect.mapError((e) =>
          e._tag === "PushPullError" || e._tag === "IncompatibleMemberError"
            ? e
            : new PushPullError({ address, message: `${e._tag}: ${e.message}` })
        )
      )

    /** Answers one request that fits in one exchange: push/pull, stream ping or application message. */
    const answerStream = (conn: StreamConnection, request: StreamMessage) =>
      Effect.gen(function*() {
        switch (request._tag) {
          case "PushPull": {
            const local: PushPull = yield* call((c) => c.localState(request.join))
            yield* conn.write(codec.encodeStream(local, { initiator: false }))
            const refused = yield* call((c, now) => c.mergeRemoteState(request, now))
            if (refused !== undefined) yield* Effect.logWarning("push/pull rejected", refused.message)
            else if (request.userState.length > 0) {
              remoteStates.publish({ from: conn.remote, join: request.join, state: request.userState })
            }
            return
          }
          case "Ping": {
            if (request.node !== "" && request.node !== config.name) return
            yield* conn.write(codec.encodeStream(Msg.ack(request.seqNo, null), { initiator: false }))
            return
          }
          case "User": {
            deliver({ from: conn.remote, origin: undefined, payload: request.payload })
            return
          }
          default:
            yield* conn.write(codec.encodeStream(Msg.errResp(`unexpected ${request._tag}`), { initiator: false }))
        }
      })

    /** Opens an inbound channel: refused (and counted) unless its name is served and has room. */
    const acceptChannel = (conn: StreamConnection, reader: StreamReader, payload: Uint8Array) =>
      Effect.gen(function*() {
        const hello = decodeHello(payload)
        if (hello === undefined) {
          counters.channelsRefused++
          yield* conn.write(codec.encodeStream(Msg.errResp("malformed channel hello"), { initiator: false }))
          return
        }
        boundForChannel(reader)
        const outcome = yield* channels.accept(conn, reader, codec, hello, config.name, () => counters.channelsAccepted++)
        if (outcome !== "Served") {
          counters.channelsRefused++
          yield* Effect.logDebug("channel refused", hello.channel, outcome, conn.remote)
        }
      })

    /** Serves one inbound stream: its first message says what it is. */
    const serveStream = (conn: StreamConnection) =>
      Effect.gen(function*() {
        const reader = new StreamReader(conn, codec)
        const request = yield* reader.next({ initiator: false }).pipe(
          Effect.timeoutOrElse({
            duration: config.tcpTimeout,
            orElse: () => Effect.fail(new TransportError({ reason: "Timeout", address: conn.remote, message: "no request" }))
          })
        )
        // A channel lives as long as its users keep it; every other exchange is bounded.
        if (request._tag === "User" && isHello(request.payload)) return yield* acceptChannel(conn, reader, request.payload)
        yield* answerStream(conn, request).pipe(Effect.timeoutOrElse({ duration: config.tcpTimeout, orElse: () => Effect.void }))
      }).pipe(
        Effect.catch((error) =>
          Effect.sync(() => counters.streamErrors++).pipe(
            Effect.andThen(Effect.logDebug("inbound stream failed", error.message)),
            // memberlist answers a stream it could not read with an error message.
            Effect.andThen(
              error._tag === "DecodeError"
                ? Effect.ignore(conn.write(codec.encodeStream(Msg.errResp(error.message), { initiator: false })))
                : Effect.void
            )
          )
        ),
        Effect.ensuring(conn.close),
        annotate
      )

    /**
     * Carries out one output. What needs no waiting (timers, events, finished broadcasts,
     * deliveries, and datagrams on a transport that sends at once) is done here, synchronously;
     * otherwise the effect that does it comes back, for the actor to run.
     */
    const execute = (o: Output): Effect.Effect<void> | undefined => {
      switch (o._tag) {
        case "SendPacket": {
          let bytes: Uint8Array
          try {
            bytes = codec.encodePacket(o.parts, { checksum: o.checksum })
          } catch (defect) {
            // A codec that cannot encode what the core produced is a bug: report it, lose one packet.
            counters.internalErrors++
            return Effect.logError("packet could not be encoded", defect)
          }
          if (transport.sendPacketNow === undefined) return sendPacket(o.to, bytes)
          const error = transport.sendPacketNow(o.to, bytes)
          if (error === undefined) {
            counters.packetsSent++
            counters.bytesSent += bytes.length
            return undefined
          }
          counters.sendErrors++
          return Effect.logDebug("send failed", error.reason, o.to)
        }
        case "SetTimer":
          armed.set(o.timer, timers.schedule(o.at, timerTarget, o.timer))
          return undefined
        case "CancelTimer": {
          const entry = armed.get(o.timer)
          if (entry !== undefined) {
            armed.delete(o.timer)
            timers.cancel(entry)
          }
          return undefined
        }
        case "TcpPing":
          return Effect.asVoid(FiberSet.run(background, tcpPing(o.seqNo, o.to, o.node, o.deadline)))
        case "StartPushPull":
          return Effect.asVoid(FiberSet.run(
            background,
            pushPull(o.to, o.join).pipe(
              Effect.catch((e) => Effect.logDebug(o.join ? "reconnect failed" : "periodic push/pull failed", o.node, e.message)),
              annotate
            )
          ))
        case "Publish":
          events.publish(o.event)
          return undefined
        case "Refuse":
          refusals.publish(o.refusal)
          return Effect.logWarning("member refused", o.refusal.name, o.refusal.reason)
        case "BroadcastDone": {
          const waiter = waiters.get(o.notify)
          if (waiter !== undefined) {
            Deferred.doneUnsafe(waiter, Exit.void)
            return undefined
          }
          // Finished before anyone waited (or nobody will): remember it, but not forever.
          done.add(o.notify)
          if (done.size > 1024) done.delete(done.values().next().value!)
          return undefined
        }
        case "Deliver":
          deliver({ from: o.from, origin: o.origin, payload: o.payload })
          return undefined
      }
    }

    const handle = (input: Input, now: number): void => {
      switch (input._tag) {
        case "Timer":
          // A timer that fired while its cancellation was on the way is stale: the core ignores it.
          return core.timer(input.timer, now)
        case "Report":
          reportDue = true
          return
        case "Wake":
        case "Finish":
          return
        case "TcpPingResult":
          return core.tcpPingResult(input.seqNo, input.ok, now)
        case "Call":
          return input.run(core, now)
      }
    }

    const metrics = nodeMetrics(config.name)
    let reportDue = false
    const report = Effect.suspend(() => {
      reportDue = false
      const now = statsNow()
      const sync = metrics(now, { members: core.numMembers, health: core.healthScore })
      return options.report === undefined ? sync : Effect.andThen(sync, options.report)
    })

    /** Carries out the core's outputs: what has to wait comes back as one effect, if anything does. */
    const carryOut = (): Effect.Effect<void> | undefined => {
      const outputs = core.drain()
      // The table first: whoever reacts to an event reads a table that already shows it.
      if (core.tableVersion !== publishedVersion) {
        publishedVersion = core.tableVersion
        members.changed()
      }
      // Outputs are carried out in order: once one has to wait, the rest wait behind it (a
      // finished broadcast must not wake its waiter before the datagrams ahead of it are sent).
      let later: Array<Effect.Effect<void>> | undefined = undefined
      for (const o of outputs) {
        if (later !== undefined) {
          later.push(Effect.suspend(() => execute(o) ?? Effect.void))
          continue
        }
        const effect = execute(o)
        if (effect !== undefined) later = [effect]
      }
      if (reportDue) (later ??= []).push(report)
      return later === undefined ? undefined : Effect.forEach(later, (effect) => effect, { discard: true })
    }
    const flush = (): Effect.Effect<void> => carryOut() ?? Effect.void

    // Per message of the datagram in hand: 1 when it repeats what the table holds.
    let repeated = new Uint8Array(64)

    /**
     * Hands a datagram's messages to the core one by one: a defect costs only its own message.
     * Repeats are picked out first, in a loop that only reads: a simulated cluster hears each
     * alive thousands of times, and each look is a cache miss the processor can overlap with
     * the next ones only when nothing else runs between them. Handling a message never makes a
     * later one of the datagram stop being a repeat (a table's rows only move forward).
     */
    const handleMessages = (
      from: string,
      messages: ReadonlyArray<PacketMessage>,
      now: number,
      defects: Array<readonly [string, unknown]>
    ): void => {
      const n = messages.length
      if (n > repeated.length) repeated = new Uint8Array(Math.max(n, repeated.length * 2))
      try {
        for (let i = 0; i < n; i++) repeated[i] = core.repeats(messages[i]!) ? 1 : 0
      } catch {
        // whatever went wrong shows again, message by message, below
        repeated.fill(0, 0, n)
      }
      for (let i = 0; i < n; i++) {
        const message = messages[i]!
        if (isProbeTraffic(message)) pendingProbes--
        else pendingGossip--
        if (repeated[i] === 1) continue
        try {
          core.handlePacket(from, message, now)
        } catch (defect) {
          counters.internalErrors++
          defects.push([`Packet ${message._tag}`, defect])
        }
      }
    }

    /** Hands an input other than a datagram to the core; a defect is kept for the actor to log. */
    const handleOne = (input: Input, now: number, defects: Array<readonly [string, unknown]>): void => {
      try {
        handle(input, now)
      } catch (defect) {
        // A bug must not take the node down: drop the input, keep the state, say so.
        counters.internalErrors++
        defects.push([input._tag, defect])
      }
    }

    /** Hands each input to the core; the defects it met, if any, for the actor to log. */
    const handleAll = (inputs: ReadonlyArray<Input>, now: number, defects: Array<readonly [string, unknown]>): void => {
      for (const input of inputs) {
        if (input._tag === "Packet") handleMessages(input.from, input.messages, now, defects)
        else handleOne(input, now, defects)
      }
    }

    // Defects the core met, for the actor to log.
    const defects: Array<readonly [string, unknown]> = []

    /**
     * An input handled on the spot, while the actor waits (see `waiting`): the core takes it and
     * its outputs are carried out at once. The actor is woken only when something is left for it
     * (an effect to run, something to log); it runs that before any other input.
     */
    const handleNow = (input: Input): void => {
      waiting = false
      const now = clock.currentTimeMillisUnsafe()
      if (input._tag === "Packet") handleMessages(input.from, input.messages, now, defects)
      else handleOne(input, now, defects)
      let rest: Effect.Effect<void> | undefined
      try {
        rest = carryOut()
      } catch (defect) {
        // The caller is a timer wheel or a network that serves other nodes too: keep it running.
        counters.internalErrors++
        defects.push(["outputs", defect])
      }
      if (rest !== undefined || defects.length > 0 || undecodable.length > 0) post({ _tag: "Finish", effect: rest })
      else waiting = Queue.sizeUnsafe(mailbox) === 0 && overflow.length === 0
    }

    const actor = Effect.gen(function*() {
      yield* flush()
      while (true) {
        waiting = overflow.length === 0
        const batch = yield* Queue.takeAll(mailbox)
        waiting = false
        // What inputs handled on the spot left comes first: they came before everything here.
        for (const input of batch) if (input._tag === "Finish" && input.effect !== undefined) yield* input.effect
        const now = clock.currentTimeMillisUnsafe()
        handleAll(batch, now, defects)
        if (overflow.length > 0) handleAll(overflow.splice(0), now, defects)
        if (defects.length > 0) {
          for (const [tag, defect] of defects.splice(0)) yield* Effect.logError("input dropped after an internal error", tag, defect)
        }
        if (undecodable.length > 0) yield* logUndecodable
        yield* flush()
      }
    })

    // Undecodable datagrams the actor has yet to log (a few; beyond that they are only counted).
    const undecodable: Array<readonly [string, string]> = []

    /**
     * One datagram: decoded, its messages admitted up to memberlist's handoff queue depth
     * (what the actor has not caught up with beyond it is dropped; probe traffic and gossip
     * each have their own allowance). The admitted messages as one input, if any.
     */
    const admit = (from: string, bytes: Uint8Array): PacketInput | undefined => {
      counters.packetsReceived++
      counters.bytesReceived += bytes.length
      const decoded = codec.decodePacket(bytes)
      let admitted: Array<PacketMessage> | undefined = undefined
      const messages = decoded.messages
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!
        const probe = isProbeTraffic(message)
        if ((probe ? pendingProbes : pendingGossip) >= config.handoffQueueDepth) {
          counters.handoffDropped++
          admitted ??= messages.slice(0, i)
          continue
        }
        if (probe) pendingProbes++
        else pendingGossip++
        admitted?.push(message)
      }
      if (decoded.errors.length > 0) {
        counters.decodeErrors += decoded.errors.length
        if (undecodable.length < MAX_UNLOGGED) undecodable.push([from, decoded.errors[0]!.reason])
      }
      const kept = admitted ?? messages
      return kept.length > 0 ? { _tag: "Packet", from, messages: kept } : undefined
    }

    /** Gives back the handoff allowance of messages that never reach the actor. */
    const unadmit = (messages: ReadonlyArray<PacketMessage>): void => {
      for (const message of messages) {
        if (isProbeTraffic(message)) pendingProbes--
        else pendingGossip--
      }
    }

    const logUndecodable = Effect.suspend(() =>
      Effect.forEach(undecodable.splice(0), ([from, reason]) => Effect.logDebug("dropped undecodable packet", from, reason), {
        discard: true
      })
    )

    const receiver = Effect.gen(function*() {
      while (true) {
        const packets = yield* Queue.takeAll(transport.packets)
        const inputs: Array<Input> = []
        for (const packet of packets) {
          const input = admit(packet.from, packet.bytes)
          if (input !== undefined) inputs.push(input)
        }
        if (undecodable.length > 0) yield* logUndecodable
        if (inputs.length > 0) {
          waiting = false
          yield* Queue.offerAll(mailbox, inputs)
        }
      }
    })

    /**
     * The same without a fiber, for a transport that hands datagrams over from plain code:
     * the admitted messages go straight into the mailbox, or are dropped (and counted as
     * handoff drops) when it is full. An undecodable datagram wakes the actor to log it.
     */
    const receiveNow = (from: string, bytes: Uint8Array): void => {
      const input = admit(from, bytes)
      if (input === undefined) {
        if (undecodable.length > 0) post(WAKE)
        return
      }
      if (waiting) return handleNow(input)
      if (!Queue.offerUnsafe(mailbox, input)) {
        counters.handoffDropped += input.messages.length
        unadmit(input.messages)
      }
    }

    const acceptor = Effect.gen(function*() {
      while (true) {
        const conn = yield* Queue.take(transport.streams)
        yield* FiberSet.run(background, serveStream(conn))
      }
    })

    // The loops never fail; a defect would be a bug, so it is logged and the loop restarted.
    const supervise = (name: string, loop: Effect.Effect<never>) => {
      const supervised: Effect.Effect<never> = loop.pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError(`${name} loop died, restarting`, cause).pipe(Effect.andThen(Effect.suspend(() => supervised)))
        )
      )
      return supervised.pipe(annotate, Effect.forkScoped)
    }
    yield* supervise("actor", actor as Effect.Effect<never>)
    // Once the actor is gone, nothing is handled on the spot either.
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      waiting = false
    }))
    if (transport.receivePacketsWith !== undefined) {
      const receivePacketsWith = transport.receivePacketsWith
      receivePacketsWith(receiveNow)
      yield* Effect.addFinalizer(() => Effect.sync(() => receivePacketsWith(undefined)))
    } else {
      yield* supervise("receiver", receiver as Effect.Effect<never>)
    }
    yield* supervise("acceptor", acceptor as Effect.Effect<never>)
    reporting = timers.schedule(start, reportTarget, start)
    // A shared wheel outlives the node: take its timers back when the node stops.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (reporting !== undefined) timers.cancel(reporting)
        for (const entry of armed.values()) timers.cancel(entry)
        armed.clear()
      })
    )

    const broadcast = (payload: Uint8Array, relayed: boolean) =>
      call((c): BroadcastRefusal | undefined => {
        if (c.hasLeft) return { _tag: "Left" }
        const queued = relayed ? c.broadcastUser(payload) : c.broadcastUnrelayed(payload)
        return queued ? undefined : { _tag: "TooLarge", budget: c.broadcastBudget }
      })

    return {
      members,
      events,
      messages,
      refusals,
      remoteStates,
      channels,
      metaHeaderSize: core.metaHeaderSize,
      localMember: call((c) => c.local),
      numMembers: call((c) => c.numMembers),
      healthScore: call((c) => c.healthScore),
      anyAlive: call((c) => c.anyAlive()),
      leave: call((c, now) => c.leave(now)),
      updateMetadata: (meta) => call((c, now) => c.updateMeta(meta, now)),
      broadcast,
      liveAddress: (name) => core.liveAddress(name),
      awaitBroadcast,
      pushPull,
      stats: call(() => statsNow())
    }
  })
