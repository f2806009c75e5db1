/**
 * `SimNetwork`: an in-memory network for running whole clusters in one
 * process, with latency, jitter, loss, partitions, crashed and paused nodes.
 * Each node gets an ordinary `Transport` from `SimNetwork.transport(address)`,
 * so the code under test cannot tell it from UDP/TCP. Streams are reliable
 * unless a link sets `streamLoss` (lost dials, reset connections) or a
 * partition cuts them.
 *
 * Time comes only from Effect's `Clock` and randomness only from Effect's
 * `Random`: under `TestClock` with `Random.withSeed` every run is identical,
 * to the millisecond. Delays are whole milliseconds, and arrivals due at the
 * same millisecond keep their send order.
 *
 * @example
 * ```ts
 * const cluster = Layer.mergeAll(nodeA, nodeB).pipe(Layer.provideMerge(SimNetwork.layer({ link: { latency: 5 } })))
 * // where nodeA = MyApp.layer.pipe(Layer.provide(SimNetwork.transport("10.0.0.1:7946")))
 * ```
 */
import { Cause, Clock, Context, Duration, Effect, Layer, Queue, Random } from "effect"
import type { Scope } from "effect"
import { parseIp, splitHostPort } from "../Address.ts"
import { BadAddress, canonicalAddress, Hub } from "./sim/Hub.ts"
import type { Delivery, SimNode, SimNodeStats } from "./sim/Node.ts"
import { defaultLink, drawDelay, drawStreamLoss, resolveLink } from "./sim/Link.ts"
import type { SimLink } from "./sim/Link.ts"
import { makeScheduler } from "./sim/Scheduler.ts"
import { Handshake, makePair } from "./sim/SimStream.ts"
import { isPositiveInt } from "./Options.ts"
import { Transport, TransportError } from "./Transport.ts"
import type { InboundPacket, StreamConnection, TransportShape } from "./Transport.ts"

export type { SimLink } from "./sim/Link.ts"
export type { SimNodeStats } from "./sim/Node.ts"

/** Settings of a simulated network. */
export interface SimNetworkOptions {
  /** Conditions on every link without its own `setLink`. Default: 1 ms latency, no jitter, no loss, no stream loss. */
  readonly link?: Partial<SimLink>
  /**
   * Largest datagram, in bytes; bigger sends fail with `TooLarge`. Default 65,507,
   * the most a UDP/IPv4 socket carries, so the simulator accepts exactly what the
   * live transport accepts. Set 1400 or so to catch packets that would exceed an
   * Ethernet MTU.
   */
  readonly maxPacketSize?: number
  /**
   * Inbound packets a node can have waiting (its socket buffer). Arrivals beyond
   * it are dropped and counted in `queueOverflows`. Default 1024.
   */
  readonly packetQueueCapacity?: number
  /** Accepted streams a node can have waiting (its listen backlog). Default 128. */
  readonly streamBacklog?: number
  /**
   * Chunks one end of a stream can have unread (its receive window). A writer cannot be
   * made to wait here, so a chunk that finds the window full resets the connection, as a
   * peer that stopped reading eventually does; counted in the receiver's `queueOverflows`
   * and both ends' `streamsReset`. Default 4096.
   */
  readonly streamInboxCapacity?: number
  /**
   * Receivers get the very arrays senders passed (datagrams and stream chunks) rather than
   * copies, as a kernel would make. Only for senders that never write into an array once sent
   * and receivers that never write into one they got, as the node stack does; it lets one
   * codec serve a whole network and its receivers read the messages its senders encoded
   * (`CompactCodec.layerInMemory`). Default false.
   */
  readonly shareBytes?: boolean
}

/**
 * The simulated network: creates node transports and injects faults. All
 * addresses are `ip:port` (IPv6 as `[ip]:port`); any spelling of an address works.
 */
export interface SimNetworkShape {
  /**
   * A node's transport at `address`, registered until the scope closes. Fails
   * with `BadAddress` for anything but an IP literal with a non-zero port, and
   * with `Bind` when the address is taken.
   */
  bind(address: string): Effect.Effect<TransportShape, TransportError, Scope.Scope>
  /** Sets the conditions on the link from `from` to `to` (one direction); omitted fields keep their current value. */
  setLink(from: string, to: string, link: Partial<SimLink>): Effect.Effect<void>
  /** Sets the conditions on every link without its own `setLink`; omitted fields keep their current value. */
  setDefaultLink(link: Partial<SimLink>): Effect.Effect<void>
  /**
   * Cuts every link between the two groups, both ways: packets are lost, dials
   * time out, and open streams across the cut are reset at once (both ends
   * fail with `Closed`, as behind a firewall that answers with RSTs); they stay
   * broken after `heal`. Partitions add up until `heal`.
   */
  partition(groupA: ReadonlyArray<string>, groupB: ReadonlyArray<string>): Effect.Effect<void>
  /** Removes every partition. */
  heal(): Effect.Effect<void>
  /**
   * Powers the node off without telling anyone: everything to and from it is
   * lost, dials to or from it time out, its open streams go silent (no reset
   * reaches the peer), and its queues stay idle. Its transport stays bound,
   * so the code under test keeps running.
   */
  crash(address: string): Effect.Effect<void>
  /** Undoes `crash`. Streams broken by the crash stay broken. */
  restore(address: string): Effect.Effect<void>
  /**
   * Starves the node's inbound processing: arrivals are held (up to its queue
   * capacity for packets) and handed over in arrival order when the pause ends,
   * stamped with that time. With `millis` the pause ends by itself; a new pause
   * replaces the previous one. Sending is not affected.
   */
  pause(address: string, millis?: number): Effect.Effect<void>
  /** Ends a pause now, handing over what was held. */
  resume(address: string): Effect.Effect<void>
  /** The counters of one address (zeros if it never took part). */
  stats(address: string): Effect.Effect<SimNodeStats>
  /** The counters summed over every address. */
  totals(): Effect.Effect<SimNodeStats>
}

const badAddress = (address: string) =>
  new TransportError({ reason: "BadAddress", address, message: "expected an IP literal with a non-zero port" })

/** Builds a network whose scheduler fiber lives in the current scope. Invalid options are defects. */
const make = Effect.fnUntraced(function*(options?: SimNetworkOptions) {
  const link = resolveLink(defaultLink, options?.link)
  if (typeof link === "string") throw new Cause.IllegalArgumentError(`SimNetwork link: ${link}`)
  const maxPacketSize = sizeOption("maxPacketSize", options?.maxPacketSize ?? 65_507)
  const packetQueueCapacity = sizeOption("packetQueueCapacity", options?.packetQueueCapacity ?? 1024)
  const streamBacklog = sizeOption("streamBacklog", options?.streamBacklog ?? 128)
  const streamInboxCapacity = sizeOption("streamInboxCapacity", options?.streamInboxCapacity ?? 4096)

  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const sleep = (millis: number) => clock.sleep(Duration.millis(Math.max(0, millis)))
  // the hub schedules deliveries, the scheduler hands them back to the hub when due
  const scheduler = makeScheduler<Delivery>(clock, (d, at) => hub.deliver(d, at))
  const shareBytes = options?.shareBytes === true
  const hub = new Hub({ link, maxPacketSize, packetQueueCapacity, streamBacklog, shareBytes }, now, scheduler.schedule)
  yield* Effect.forkScoped(scheduler.run)

  const dial = Effect.fnUntraced(function*(self: SimNode, to: string, timeoutMillis: number) {
    if (!self.open) {
      return yield* new TransportError({ reason: "Closed", address: self.address, message: "transport is closed" })
    }
    const target = hub.find(to)
    if (target === BadAddress) return yield* badAddress(to)
    if (target === undefined || !target.open) {
      return yield* new TransportError({ reason: "Refused", address: to, message: "no node listens at this address" })
    }
    const timedOut = new TransportError({
      reason: "Timeout",
      address: to,
      message: `no answer within ${timeoutMillis} ms`
    })
    if (self.crashed || target.crashed || hub.blocked(self, target)) {
      yield* sleep(timeoutMillis)
      return yield* timedOut
    }
    const random = yield* Random.Random
    if (drawStreamLoss(hub.link(self, target), random)) {
      self.stats.dialsLost++
      yield* sleep(timeoutMillis)
      return yield* timedOut
    }
    const there = drawDelay(hub.link(self, target), random)
    const back = drawDelay(hub.link(target, self), random)
    const roundTrip = there + back
    if (roundTrip > timeoutMillis) {
      yield* sleep(timeoutMillis)
      return yield* timedOut
    }
    const [local] = yield* makePair(self, target, hub, streamInboxCapacity)
    self.endpoints.add(local)
    yield* Effect.addFinalizer(() => local.close)
    hub.sendAccept(local, there)
    // connect() returns after one round trip; a paused peer's kernel still answers
    yield* Effect.onInterrupt(sleep(roundTrip), () => local.close)
    // a partition or stream fault during the handshake: connect() fails as the round trip ends
    if (local.reset) {
      return yield* new TransportError({ reason: "Closed", address: to, message: "connection reset" })
    }
    if (local.handshake === Handshake.Refused) {
      yield* local.close
      return yield* new TransportError({ reason: "Refused", address: to, message: "the node went away" })
    }
    if (local.handshake === Handshake.Lost) {
      yield* local.close
      yield* sleep(timeoutMillis - roundTrip)
      return yield* timedOut
    }
    self.stats.streamsOpened++
    return local as StreamConnection
  })

  const bind = Effect.fnUntraced(function*(address: string) {
    const { host, port } = splitHostPort(address)
    const ip = parseIp(host)
    const canonical = canonicalAddress(address)
    if (ip === undefined || port === undefined || canonical === undefined) return yield* badAddress(address)
    const packets = yield* Queue.dropping<InboundPacket>(packetQueueCapacity)
    const streams = yield* Queue.dropping<StreamConnection>(streamBacklog)
    const node = hub.node(canonical)
    if (node.open) return yield* new TransportError({ reason: "Bind", address, message: "address already in use" })
    const random = yield* Random.Random
    hub.bind(node, packets, streams)
    yield* Effect.addFinalizer(() =>
      Effect.withFiber((fiber) => {
        hub.unbind(node, fiber.getRef(Random.Random))
        return Effect.void
      })
    )
    return Transport.of({
      advertise: { addr: ip, port },
      maxPacketSize,
      packets,
      streams,
      sendPacket: (to, bytes) =>
        Effect.withFiber((fiber) => {
          const error = hub.sendPacket(node, to, bytes, fiber.getRef(Random.Random))
          return error === undefined ? Effect.void : Effect.fail(error)
        }),
      // the Random of the fiber that bound the transport: the node's own, as its actor sees it
      sendPacketNow: (to, bytes) => hub.sendPacket(node, to, bytes, random),
      receivePacketsWith: (receive) => {
        // only while this binding lasts: a later one at the address has other queues
        if (node.packets === packets) node.receive = receive
      },
      dial: (to, timeoutMillis) => dial(node, to, timeoutMillis)
    })
  })

  // fault methods: a bad address or value throws IllegalArgumentError, which Effect.sync turns into a defect
  return SimNetwork.of({
    bind,
    setLink: (from, to, link) => Effect.sync(() => hub.setLink(hub.node(from), hub.node(to), link)),
    setDefaultLink: (link) => Effect.sync(() => hub.setDefaultLink(link)),
    partition: (groupA, groupB) =>
      Effect.sync(() => hub.partition(groupA.map((a) => hub.node(a)), groupB.map((b) => hub.node(b)))),
    heal: () => Effect.sync(() => hub.heal()),
    crash: (address) => Effect.sync(() => hub.crash(hub.node(address))),
    restore: (address) => Effect.sync(() => hub.restore(hub.node(address))),
    pause: (address, millis) => Effect.sync(() => hub.pause(hub.node(address), millis)),
    resume: (address) => Effect.sync(() => hub.resume(hub.node(address), now())),
    stats: (address) => Effect.sync(() => hub.stats(address)),
    totals: () => Effect.sync(() => hub.totals())
  })
})

const sizeOption = (name: string, value: number): number => {
  if (!isPositiveInt(value)) {
    throw new Cause.IllegalArgumentError(`SimNetwork: ${name} must be a positive integer, got ${value}`)
  }
  return value
}

/**
 * The simulated network. Provide `SimNetwork.layer()` once, then one
 * `SimNetwork.transport(address)` per node; drive time with `TestClock` and seed
 * `Random` for repeatable runs.
 */
export class SimNetwork extends Context.Service<SimNetwork, SimNetworkShape>()("effect-gossip/SimNetwork") {
  /** Builds a network in the current scope (for code that manages scopes itself). */
  static readonly make: (options?: SimNetworkOptions) => Effect.Effect<SimNetworkShape, never, Scope.Scope> = make

  /** A network for the layer's lifetime; its scheduler fiber stops when the layer is released. */
  static readonly layer = (options?: SimNetworkOptions): Layer.Layer<SimNetwork> =>
    Layer.effect(SimNetwork, make(options))

  /**
   * One node's `Transport` at `address` (`"10.0.0.1:7946"`, `"[fd00::1]:7946"`).
   * Releasing the layer unregisters the node: later packets to it are lost and
   * dials to it are refused.
   */
  static readonly transport = (address: string): Layer.Layer<Transport, TransportError, SimNetwork> =>
    Layer.effect(Transport, SimNetwork.use((network) => network.bind(address)))
}
