/**
 * Protocol messages, modelled field for field on hashicorp/memberlist's structs
 * so that any `Codec` (the compact one, or the memberlist wire codec) maps them
 * one to one. Byte fields keep Go's distinction between nil (`null`) and empty.
 *
 * Plain readonly objects, not classes: they are built and read per packet.
 */

/** memberlist message type codes (the first byte of every wire message). */
export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
  hasLabel: 244
} as const

/** Direct probe. `node` names the intended target ("" = whoever answers). */
export interface Ping {
  readonly _tag: "Ping"
  readonly seqNo: number
  readonly node: string
  readonly sourceAddr: Uint8Array | null
  readonly sourceNode: string
  readonly sourcePort: number
}

/** Ask a helper to probe `node` at `target:port` on the requester's behalf. */
export interface IndirectPing {
  readonly _tag: "IndirectPing"
  readonly seqNo: number
  readonly target: Uint8Array
  readonly port: number
  readonly node: string
  readonly nack: boolean
  readonly sourceAddr: Uint8Array | null
  readonly sourceNode: string
  readonly sourcePort: number
}

/** Answer to a ping (or a relayed answer to an indirect ping). */
export interface Ack {
  readonly _tag: "Ack"
  readonly seqNo: number
  readonly payload: Uint8Array | null
}

/** A helper could not reach the target of an indirect ping in time. */
export interface Nack {
  readonly _tag: "Nack"
  readonly seqNo: number
}

/** Error reply on a stream. */
export interface ErrResp {
  readonly _tag: "Err"
  readonly error: string
}

/** `from` suspects `node` at `incarnation`. */
export interface Suspect {
  readonly _tag: "Suspect"
  readonly incarnation: number
  readonly node: string
  readonly from: string
}

/** `node` is alive at `incarnation`, reachable at `addr:port`, with metadata and versions. */
export interface Alive {
  readonly _tag: "Alive"
  readonly incarnation: number
  readonly node: string
  readonly addr: Uint8Array
  readonly port: number
  readonly meta: Uint8Array | null
  /** `[pmin, pmax, pcur, dmin, dmax, dcur]`: always 6 bytes when we send it. */
  readonly vsn: Uint8Array | null
}

/** `from` declares `node` dead; `from === node` is a graceful leave. */
export interface Dead {
  readonly _tag: "Dead"
  readonly incarnation: number
  readonly node: string
  readonly from: string
}

/** Application payload. */
export interface UserMsg {
  readonly _tag: "User"
  readonly payload: Uint8Array
}

/** Node states as numbered on the wire (push/pull). */
export const WireState = { alive: 0, suspect: 1, dead: 2, left: 3 } as const
export type WireState = (typeof WireState)[keyof typeof WireState]

/** One entry of a push/pull exchange. Note `name`, where gossip says `node`. */
export interface PushNodeState {
  readonly name: string
  readonly addr: Uint8Array
  readonly port: number
  readonly meta: Uint8Array | null
  readonly incarnation: number
  readonly state: WireState
  readonly vsn: Uint8Array | null
}

/** Anti-entropy: the whole member table (and application state) of one side. */
export interface PushPull {
  readonly _tag: "PushPull"
  readonly join: boolean
  readonly nodes: ReadonlyArray<PushNodeState>
  readonly userState: Uint8Array
}

/** Messages carried in one datagram (possibly several, as a compound). */
export type PacketMessage = Ping | IndirectPing | Ack | Nack | Suspect | Alive | Dead | UserMsg

/** Messages carried on a reliable stream (one request, at most one response). */
export type StreamMessage = PushPull | Ping | Ack | UserMsg | ErrResp

export const ping = (
  seqNo: number,
  node: string,
  sourceAddr: Uint8Array | null,
  sourceNode: string,
  sourcePort: number
): Ping => ({ _tag: "Ping", seqNo, node, sourceAddr, sourceNode, sourcePort })

export const ack = (seqNo: number, payload: Uint8Array | null): Ack => ({ _tag: "Ack", seqNo, payload })

export const nack = (seqNo: number): Nack => ({ _tag: "Nack", seqNo })

export const suspect = (incarnation: number, node: string, from: string): Suspect => ({
  _tag: "Suspect",
  incarnation,
  node,
  from
})

export const dead = (incarnation: number, node: string, from: string): Dead => ({
  _tag: "Dead",
  incarnation,
  node,
  from
})

export const user = (payload: Uint8Array): UserMsg => ({ _tag: "User", payload })

export const errResp = (error: string): ErrResp => ({ _tag: "Err", error })
