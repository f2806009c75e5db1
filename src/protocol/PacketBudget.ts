/**
 * How many bytes of one datagram the protocol may fill: `udpBufferSize` less
 * what the codec adds around the parts (the compound header, the packet
 * wrappers such as encryption), and per part. Every size check on outgoing
 * gossip goes through here.
 */

/** What a codec adds, as the core sees it. */
export interface PacketLayout {
  /** Bytes a compound adds once. */
  readonly compoundHeaderOverhead: number
  /** Bytes a compound adds per part. */
  readonly compoundPartOverhead: number
  /** Bytes the packet wrappers may add (read per packet: it may change with the keyring). */
  readonly packetOverhead: () => number
}

export class PacketBudget {
  readonly partOverhead: number
  private readonly udpBufferSize: number
  private readonly layout: PacketLayout

  constructor(udpBufferSize: number, layout: PacketLayout) {
    this.udpBufferSize = udpBufferSize
    this.layout = layout
    this.partOverhead = layout.compoundPartOverhead
  }

  /** Bytes for the parts of one compound datagram, each part's own overhead still to be counted. */
  get compound(): number {
    return this.udpBufferSize - this.layout.compoundHeaderOverhead - this.layout.packetOverhead()
  }

  /** What one gossiped message may take: the most an application broadcast can be. */
  get message(): number {
    return this.compound - this.partOverhead
  }

  /** Room left for piggybacked parts behind a first part of `size` bytes. */
  after(size: number): number {
    return this.compound - size
  }
}

/** Whether a datagram of one bare message of `size` bytes stays within `udpBufferSize`. */
export const fitsBare = (size: number, packetOverhead: number, udpBufferSize: number): boolean =>
  size + packetOverhead <= udpBufferSize
