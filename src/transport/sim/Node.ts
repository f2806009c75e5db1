/**
 * The state the simulated network keeps: per address (a `SimNode`) and per
 * scheduled arrival (a `Delivery`). Plain mutable objects, read and written by
 * the hub on the per-packet path.
 */
import type { Queue } from "effect"
import type { InboundPacket, StreamConnection } from "../Transport.ts"
import type { Timed } from "./DeliveryQueue.ts"
import type { ResolvedLink } from "./Link.ts"
import type { SimEndpoint } from "./SimStream.ts"

/** Traffic counters of one simulated node. */
export interface SimNodeStats {
  /** Packets this node sent, including those later lost. */
  readonly packetsSent: number
  /** Packets put on this node's inbound queue. */
  readonly packetsReceived: number
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Packets this node sent that the network lost: link loss, partition, crash, or no node at the address. */
  readonly packetsDropped: number
  /** Packets, stream accepts and stream chunks that reached this node but found their queue full. */
  readonly queueOverflows: number
  /** Streams this node dialed successfully. */
  readonly streamsOpened: number
  /** Streams this node was handed on its `streams` queue. */
  readonly streamsAccepted: number
  readonly streamBytesSent: number
  readonly streamBytesReceived: number
  /** Dials this node made that a stream fault (`streamLoss`) lost. */
  readonly dialsLost: number
  /** Stream ends of this node reset by the network: a stream fault or a partition. */
  readonly streamsReset: number
}

/** Mutable counters behind `SimNodeStats`. */
export class Counters implements SimNodeStats {
  packetsSent = 0
  packetsReceived = 0
  bytesSent = 0
  bytesReceived = 0
  packetsDropped = 0
  queueOverflows = 0
  streamsOpened = 0
  streamsAccepted = 0
  streamBytesSent = 0
  streamBytesReceived = 0
  dialsLost = 0
  streamsReset = 0

  addTo(total: Counters): void {
    total.packetsSent += this.packetsSent
    total.packetsReceived += this.packetsReceived
    total.bytesSent += this.bytesSent
    total.bytesReceived += this.bytesReceived
    total.packetsDropped += this.packetsDropped
    total.queueOverflows += this.queueOverflows
    total.streamsOpened += this.streamsOpened
    total.streamsAccepted += this.streamsAccepted
    total.streamBytesSent += this.streamBytesSent
    total.streamBytesReceived += this.streamBytesReceived
    total.dialsLost += this.dialsLost
    total.streamsReset += this.streamsReset
  }

  snapshot(): SimNodeStats {
    const copy = new Counters()
    this.addTo(copy)
    return { ...copy }
  }
}

/**
 * Everything the network knows about one address. It outlives the node's
 * transport: counters and faults (crash, pause, links, partitions) stay with the
 * address, so a node that re-binds it finds them as they were.
 */
export class SimNode {
  readonly address: string
  readonly stats = new Counters()
  /** A transport is bound at this address. */
  open = false
  packets: Queue.Queue<InboundPacket> | undefined = undefined
  /** Takes arriving datagrams instead of `packets` while set. */
  receive: ((from: string, bytes: Uint8Array) => void) | undefined = undefined
  streams: Queue.Queue<StreamConnection> | undefined = undefined
  crashed = false
  paused = false
  /** Bumped by every pause and resume, so that a stale timed resume is ignored. */
  pauseEpoch = 0
  /** Arrivals held while paused, in arrival order. */
  held: Array<Delivery> = []
  heldPackets = 0
  /** Links from this node that differ from the default. */
  links: Map<SimNode, ResolvedLink> | undefined = undefined
  /** Bit k of word k>>5 is set when this node is on side A (resp. B) of partition k. */
  sideA: Array<number> = []
  sideB: Array<number> = []
  /** Open stream ends owned by this node, closed when its transport closes. */
  readonly endpoints = new Set<SimEndpoint>()

  constructor(address: string) {
    this.address = address
  }
}

/** Kinds of scheduled work. `Reset` stands in for a stream chunk that a stream fault lost. */
export const Kind = { Packet: 0, Accept: 1, Chunk: 2, Fin: 3, Resume: 4, Reset: 5 } as const

/** One scheduled arrival (or a timed resume). A single class for every kind keeps the hot path monomorphic. */
export class Delivery implements Timed {
  seq = 0
  readonly kind: number
  readonly at: number
  readonly from: SimNode
  readonly to: SimNode
  readonly bytes: Uint8Array | undefined
  /** For stream kinds: the end that receives. */
  readonly endpoint: SimEndpoint | undefined
  /** For `Resume`: the pause it ends. */
  readonly epoch: number

  constructor(
    kind: number,
    at: number,
    from: SimNode,
    to: SimNode,
    bytes: Uint8Array | undefined,
    endpoint: SimEndpoint | undefined,
    epoch: number
  ) {
    this.kind = kind
    this.at = at
    this.from = from
    this.to = to
    this.bytes = bytes
    this.endpoint = endpoint
    this.epoch = epoch
  }
}
