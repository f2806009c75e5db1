/**
 * The model of the simulated network, in plain TS: which nodes exist, the
 * conditions on each link, partitions and node faults, per-node counters, and
 * what happens to a packet or stream chunk when it is sent and when it is due.
 * The Effect shell (`SimNetwork.ts`) supplies the clock, the random source and
 * the delivery scheduler; nothing here suspends, so per-packet work is a few
 * map lookups, at most two random draws and one heap push.
 */
import { Cause, Queue } from "effect"
import type { Random } from "effect"
import { addressOf, parseIp, splitHostPort } from "../../Address.ts"
import { TransportError } from "../Transport.ts"
import type { InboundPacket, StreamConnection } from "../Transport.ts"
import { drawDelay, drawLoss, drawStreamLoss, resolveLink } from "./Link.ts"
import type { ResolvedLink, SimLink } from "./Link.ts"
import { Counters, Delivery, Kind, SimNode } from "./Node.ts"
import type { SimNodeStats } from "./Node.ts"
import { closedError, Handshake } from "./SimStream.ts"
import type { SimEndpoint, StreamHost } from "./SimStream.ts"

/** Settings fixed for the life of a network. */
export interface HubSettings {
  readonly link: ResolvedLink
  readonly maxPacketSize: number
  readonly packetQueueCapacity: number
  readonly streamBacklog: number
  /** Deliver the sender's arrays themselves (see `SimNetworkOptions.shareBytes`). */
  readonly shareBytes: boolean
}

/**
 * `host:port` in canonical form (IPv6 compressed and bracketed), so that every
 * spelling of an address finds the same node; `undefined` when it is not an IP
 * literal with a non-zero port.
 */
export const canonicalAddress = (text: string): string | undefined => {
  const { host, port } = splitHostPort(text)
  if (port === undefined || port === 0) return undefined
  const ip = parseIp(host)
  return ip === undefined ? undefined : addressOf(ip, port)
}

/** Returned by `find` for text that is not an address. */
export const BadAddress: unique symbol = Symbol("BadAddress")

/** The network model. Single-threaded like everything in one JS process: no locking needed. */
export class Hub implements StreamHost {
  readonly nodes = new Map<string, SimNode>()
  readonly settings: HubSettings
  defaultLink: ResolvedLink
  /** Partitions made since the last heal. */
  partitions = 0
  private readonly now: () => number
  private readonly schedule: (delivery: Delivery) => void

  constructor(settings: HubSettings, now: () => number, schedule: (delivery: Delivery) => void) {
    this.settings = settings
    this.defaultLink = settings.link
    this.now = now
    this.schedule = schedule
  }

  // ---------------------------------------------------------------- addresses

  /**
   * The node at `text` (any spelling of the address): `undefined` if the address
   * was never used, `BadAddress` if `text` is not an address. The exact text is
   * tried first so that the usual, canonical spelling costs one map lookup.
   */
  find(text: string): SimNode | undefined | typeof BadAddress {
    const node = this.nodes.get(text)
    if (node !== undefined) return node
    const canonical = canonicalAddress(text)
    return canonical === undefined ? BadAddress : this.nodes.get(canonical)
  }

  /** The node at `text`, created on first use; throws `IllegalArgumentError` when `text` is not an address. */
  node(text: string): SimNode {
    const canonical = canonicalAddress(text)
    if (canonical === undefined) {
      throw new Cause.IllegalArgumentError(`SimNetwork: "${text}" is not an IP literal with a port`)
    }
    let node = this.nodes.get(canonical)
    if (node === undefined) {
      node = new SimNode(canonical)
      this.nodes.set(canonical, node)
    }
    return node
  }

  // ---------------------------------------------------------------- links and partitions

  link(from: SimNode, to: SimNode): ResolvedLink {
    return from.links === undefined ? this.defaultLink : from.links.get(to) ?? this.defaultLink
  }

  setLink(from: SimNode, to: SimNode, patch: Partial<SimLink>): void {
    const link = checked(resolveLink(this.link(from, to), patch))
    if (from.links === undefined) from.links = new Map()
    from.links.set(to, link)
  }

  setDefaultLink(patch: Partial<SimLink>): void {
    this.defaultLink = checked(resolveLink(this.defaultLink, patch))
  }

  /** True when some partition puts `a` and `b` on opposite sides. */
  blocked(a: SimNode, b: SimNode): boolean {
    if (this.partitions === 0) return false
    const aa = a.sideA, ab = a.sideB, ba = b.sideA, bb = b.sideB
    const words = (this.partitions + 31) >>> 5
    for (let i = 0; i < words; i++) {
      if ((((aa[i] ?? 0) & (bb[i] ?? 0)) | ((ab[i] ?? 0) & (ba[i] ?? 0))) !== 0) return true
    }
    return false
  }

  partition(groupA: ReadonlyArray<SimNode>, groupB: ReadonlyArray<SimNode>): void {
    const inA = new Set(groupA)
    for (const node of groupB) {
      if (inA.has(node)) {
        throw new Cause.IllegalArgumentError(`SimNetwork.partition: ${node.address} is in both groups`)
      }
    }
    const k = this.partitions++
    const word = k >>> 5
    const bit = 1 << (k & 31)
    for (const node of groupA) setBit(node.sideA, word, bit)
    for (const node of groupB) setBit(node.sideB, word, bit)
    // open streams across the new cut are reset at once, on both ends
    const cut: Array<SimEndpoint> = []
    for (const node of groupA) {
      for (const end of node.endpoints) if (onSideB(end.peer.owner, word, bit)) cut.push(end)
    }
    for (const node of groupB) {
      for (const end of node.endpoints) if (onSideA(end.peer.owner, word, bit)) cut.push(end)
    }
    for (const end of cut) this.reset(end)
  }

  heal(): void {
    this.partitions = 0
    for (const node of this.nodes.values()) {
      node.sideA = []
      node.sideB = []
    }
  }

  // ---------------------------------------------------------------- node lifecycle and faults

  bind(node: SimNode, packets: Queue.Queue<InboundPacket>, streams: Queue.Queue<StreamConnection>): void {
    node.open = true
    node.packets = packets
    node.streams = streams
  }

  /** The node's transport closes: its streams close (peers see the close), queues shut down, held arrivals are lost. */
  unbind(node: SimNode, random: Random.Random): void {
    if (!node.open) return
    // ends handed to the app but never taken from `streams` are in `endpoints` too
    for (const endpoint of [...node.endpoints]) this.close(endpoint, random)
    node.open = false
    this.dropHeld(node)
    if (node.streams !== undefined) Queue.shutdownUnsafe(node.streams)
    if (node.packets !== undefined) Queue.shutdownUnsafe(node.packets)
    node.packets = undefined
    node.receive = undefined
    node.streams = undefined
  }

  crash(node: SimNode): void {
    node.crashed = true
    this.dropHeld(node)
  }

  restore(node: SimNode): void {
    node.crashed = false
  }

  /** Holds arrivals at `node`; with `millis`, schedules the end of the pause. A new pause replaces the previous one. */
  pause(node: SimNode, millis: number | undefined): void {
    if (millis !== undefined && !(millis >= 0 && Number.isFinite(millis))) {
      throw new Cause.IllegalArgumentError(`SimNetwork.pause: millis must be a finite number >= 0, got ${millis}`)
    }
    node.paused = true
    const epoch = ++node.pauseEpoch
    if (millis !== undefined) {
      this.schedule(new Delivery(Kind.Resume, this.now() + Math.round(millis), node, node, undefined, undefined, epoch))
    }
  }

  /** Ends a pause now: held arrivals are handed over in arrival order, stamped with the current time. */
  resume(node: SimNode, now: number): void {
    if (!node.paused) return
    node.paused = false
    node.pauseEpoch++
    const held = node.held
    node.held = []
    node.heldPackets = 0
    for (let i = 0; i < held.length; i++) this.arrive(held[i]!, now)
  }

  private dropHeld(node: SimNode): void {
    const held = node.held
    node.held = []
    node.heldPackets = 0
    for (let i = 0; i < held.length; i++) this.lose(held[i]!)
  }

  // ---------------------------------------------------------------- packets

  /** Sends one datagram; an error only for what a real socket would reject. */
  sendPacket(from: SimNode, to: string, bytes: Uint8Array, random: Random.Random): TransportError | undefined {
    if (bytes.length > this.settings.maxPacketSize) {
      return new TransportError({
        reason: "TooLarge",
        address: to,
        message: `packet of ${bytes.length} bytes exceeds maxPacketSize ${this.settings.maxPacketSize}`
      })
    }
    if (!from.open) return new TransportError({ reason: "Closed", address: from.address, message: "transport is closed" })
    const dest = this.find(to)
    if (dest === BadAddress) {
      return new TransportError({ reason: "BadAddress", address: to, message: "not an IP literal with a port" })
    }
    const stats = from.stats
    stats.packetsSent++
    stats.bytesSent += bytes.length
    if (dest === undefined || !dest.open || from.crashed || dest.crashed || this.blocked(from, dest)) {
      stats.packetsDropped++
      return undefined
    }
    const link = this.link(from, dest)
    if (drawLoss(link, random)) {
      stats.packetsDropped++
      return undefined
    }
    const at = this.now() + drawDelay(link, random)
    this.schedule(new Delivery(Kind.Packet, at, from, dest, this.carried(bytes), undefined, 0))
    return undefined
  }

  /**
   * What the receiver gets of `bytes`: a copy, as a kernel makes (the sender may reuse its
   * buffer, the receiver may own what it gets), unless the network's nodes promise not to.
   */
  private carried(bytes: Uint8Array): Uint8Array {
    return this.settings.shareBytes ? bytes : bytes.slice()
  }

  // ---------------------------------------------------------------- streams

  /** Schedules the accepting end to appear at `to` after `delay`. */
  sendAccept(dialing: SimEndpoint, delay: number): void {
    const at = this.now() + delay
    dialing.lastAt = at // bytes written right away still arrive after the accept
    this.schedule(new Delivery(Kind.Accept, at, dialing.owner, dialing.peer.owner, undefined, dialing.peer, 0))
  }

  write(endpoint: SimEndpoint, bytes: Uint8Array, random: Random.Random): TransportError | undefined {
    if (endpoint.reset) return closedError(endpoint.remote, "connection reset")
    if (endpoint.closed) return closedError(endpoint.remote, "the stream is closed")
    if (endpoint.peerClosed) return closedError(endpoint.remote, "the peer closed the stream")
    endpoint.owner.stats.streamBytesSent += bytes.length
    this.sendOnStream(Kind.Chunk, endpoint, this.carried(bytes), random)
    return undefined
  }

  close(endpoint: SimEndpoint, random: Random.Random): void {
    if (endpoint.closed) return
    endpoint.closed = true
    endpoint.owner.endpoints.delete(endpoint)
    endpoint.discardInbox()
    if (!endpoint.peerClosed) this.sendOnStream(Kind.Fin, endpoint, undefined, random)
  }

  /** Bytes or a close from `endpoint` to its peer, in order after everything sent before. */
  private sendOnStream(kind: number, endpoint: SimEndpoint, bytes: Uint8Array | undefined, random: Random.Random): void {
    if (endpoint.broken) return
    const from = endpoint.owner
    const to = endpoint.peer.owner
    if (from.crashed || this.blocked(from, to)) {
      breakConnection(endpoint)
      return
    }
    const link = this.link(from, to)
    const at = Math.max(this.now() + drawDelay(link, random), endpoint.lastAt)
    endpoint.lastAt = at
    // a lost chunk resets the connection when it would have arrived, after what was sent before it
    const lost = kind === Kind.Chunk && drawStreamLoss(link, random)
    this.schedule(new Delivery(lost ? Kind.Reset : kind, at, from, to, lost ? undefined : bytes, endpoint.peer, 0))
  }

  /** The network resets a connection: both ends fail with `Closed` at once, unread bytes are discarded. */
  reset(endpoint: SimEndpoint): void {
    for (const end of [endpoint, endpoint.peer]) {
      if (end.closed) continue
      end.closed = true
      end.reset = true
      // an accepting end whose accept is still on its way was never seen: not counted
      if (end.owner.endpoints.delete(end)) end.owner.stats.streamsReset++
      end.discardInbox("connection reset")
    }
    breakConnection(endpoint)
  }

  // ---------------------------------------------------------------- delivery

  /** Called by the scheduler when `d` is due. */
  deliver(d: Delivery, now: number): void {
    const to = d.to
    if (d.kind === Kind.Resume) {
      if (to.paused && to.pauseEpoch === d.epoch) this.resume(to, now)
      return
    }
    if (d.kind === Kind.Reset) {
      // the sender gives up too, so it applies whatever became of the receiver
      this.reset(d.endpoint!)
      return
    }
    if (!to.open || to.crashed || this.blocked(d.from, to)) {
      this.lose(d)
      return
    }
    if (to.paused) {
      this.hold(to, d)
      return
    }
    this.arrive(d, now)
  }

  private hold(to: SimNode, d: Delivery): void {
    if (d.kind === Kind.Packet) {
      // the socket buffer fills while the process is starved
      if (to.heldPackets >= this.settings.packetQueueCapacity) {
        to.stats.queueOverflows++
        return
      }
      to.heldPackets++
    }
    to.held.push(d)
  }

  /** Hands `d` to the receiving node's queues. */
  private arrive(d: Delivery, now: number): void {
    const to = d.to
    switch (d.kind) {
      case Kind.Packet: {
        const bytes = d.bytes!
        if (to.receive !== undefined) {
          to.stats.packetsReceived++
          to.stats.bytesReceived += bytes.length
          to.receive(d.from.address, bytes)
        } else if (to.packets !== undefined && Queue.offerUnsafe(to.packets, { from: d.from.address, bytes, at: now })) {
          to.stats.packetsReceived++
          to.stats.bytesReceived += bytes.length
        } else {
          to.stats.queueOverflows++
        }
        return
      }
      case Kind.Accept: {
        const accepting = d.endpoint!
        if (accepting.closed) return
        if (to.streams !== undefined && Queue.offerUnsafe(to.streams, accepting)) {
          to.stats.streamsAccepted++
          to.endpoints.add(accepting)
        } else {
          // a full backlog drops the SYN: the dialer times out
          to.stats.queueOverflows++
          accepting.peer.handshake = Handshake.Lost
          accepting.closed = true
        }
        return
      }
      case Kind.Chunk: {
        const endpoint = d.endpoint!
        if (endpoint.closed || endpoint.broken) return
        if (!Queue.offerUnsafe(endpoint.inbox, d.bytes!)) {
          // the receive window stayed full: the connection goes (see `streamInboxCapacity`)
          to.stats.queueOverflows++
          this.reset(endpoint)
          return
        }
        to.stats.streamBytesReceived += d.bytes!.length
        return
      }
      case Kind.Fin: {
        const endpoint = d.endpoint!
        if (endpoint.closed || endpoint.broken) return
        endpoint.peerClosed = true
        endpoint.endInbox()
        return
      }
    }
  }

  /** `d` will never arrive: count it or break its connection. */
  private lose(d: Delivery): void {
    switch (d.kind) {
      case Kind.Packet:
        d.from.stats.packetsDropped++
        return
      case Kind.Accept:
        d.endpoint!.peer.handshake = d.to.open ? Handshake.Lost : Handshake.Refused
        d.endpoint!.closed = true
        return
      case Kind.Chunk:
      case Kind.Fin:
        breakConnection(d.endpoint!)
        return
    }
  }

  // ---------------------------------------------------------------- counters

  stats(text: string): SimNodeStats {
    const node = this.find(text)
    if (node === BadAddress) throw new Cause.IllegalArgumentError(`SimNetwork: "${text}" is not an IP literal with a port`)
    return (node?.stats ?? new Counters()).snapshot()
  }

  totals(): SimNodeStats {
    const total = new Counters()
    for (const node of this.nodes.values()) node.stats.addTo(total)
    return total.snapshot()
  }
}

const breakConnection = (endpoint: SimEndpoint): void => {
  endpoint.broken = true
  endpoint.peer.broken = true
}

const onSideA = (node: SimNode, word: number, bit: number): boolean => ((node.sideA[word] ?? 0) & bit) !== 0
const onSideB = (node: SimNode, word: number, bit: number): boolean => ((node.sideB[word] ?? 0) & bit) !== 0

const setBit = (words: Array<number>, word: number, bit: number): void => {
  while (words.length <= word) words.push(0)
  words[word] = words[word]! | bit
}

const checked = (link: ResolvedLink | string): ResolvedLink => {
  if (typeof link === "string") throw new Cause.IllegalArgumentError(`SimNetwork link: ${link}`)
  return link
}
