/**
 * Reads the message bodies written by `Encode.ts`, validating semantic ranges
 * (ports, node states, vsn length, required byte fields) as well as bounds.
 * Failures throw `ReadFailure` (see `Reader.ts`). Objects are built with the
 * same key order as the factories in `Messages.ts`, so they share shapes.
 */
import type {
  Ack,
  Alive,
  Dead,
  ErrResp,
  IndirectPing,
  Nack,
  PacketMessage,
  Ping,
  PushNodeState,
  PushPull,
  StreamMessage,
  Suspect,
  UserMsg,
  WireState
} from "../../protocol/Messages.ts"
import { MessageType } from "../../protocol/Messages.ts"
import { MAX_PUSH_NODES, MAX_WIRE_STATE, MIN_PUSH_NODE_BYTES, VSN_BYTES } from "./Limits.ts"
import { fail, type Reader } from "./Reader.ts"

const vsn = (r: Reader): Uint8Array | null => {
  const v = r.bytes()
  if (v !== null && v.length !== VSN_BYTES) return fail("Malformed", `vsn of ${v.length} bytes, expected ${VSN_BYTES}`)
  return v
}

const readPing = (r: Reader): Ping => ({
  _tag: "Ping",
  seqNo: r.varint(),
  node: r.string(),
  sourceAddr: r.bytes(),
  sourceNode: r.string(),
  sourcePort: r.port()
})

const readIndirectPing = (r: Reader): IndirectPing => ({
  _tag: "IndirectPing",
  seqNo: r.varint(),
  target: r.requiredBytes("indirect ping target"),
  port: r.port(),
  node: r.string(),
  nack: r.bool(),
  sourceAddr: r.bytes(),
  sourceNode: r.string(),
  sourcePort: r.port()
})

// payloads go to the application: always copies, so a kept payload never pins a datagram
const readAck = (r: Reader): Ack => ({ _tag: "Ack", seqNo: r.varint(), payload: r.bytes(true) })

const readNack = (r: Reader): Nack => ({ _tag: "Nack", seqNo: r.varint() })

const readSuspect = (r: Reader): Suspect => ({
  _tag: "Suspect",
  incarnation: r.varint(),
  node: r.string(),
  from: r.string()
})

const readAlive = (r: Reader): Alive => ({
  _tag: "Alive",
  incarnation: r.varint(),
  node: r.string(),
  addr: r.requiredBytes("alive addr"),
  port: r.port(),
  meta: r.bytes(),
  vsn: vsn(r)
})

const readDead = (r: Reader): Dead => ({
  _tag: "Dead",
  incarnation: r.varint(),
  node: r.string(),
  from: r.string()
})

const readUser = (r: Reader): UserMsg => ({ _tag: "User", payload: r.requiredBytes("user payload", true) })

const readErr = (r: Reader): ErrResp => ({ _tag: "Err", error: r.string() })

const readWireState = (r: Reader): WireState => {
  const s = r.u8()
  return s <= MAX_WIRE_STATE ? (s as WireState) : fail("Malformed", `node state ${s} out of range`)
}

const readPushNode = (r: Reader): PushNodeState => ({
  name: r.string(),
  addr: r.requiredBytes("push node addr"),
  port: r.port(),
  meta: r.bytes(),
  incarnation: r.varint(),
  state: readWireState(r),
  vsn: vsn(r)
})

const readPushPull = (r: Reader): PushPull => {
  const join = r.bool()
  const count = r.varint()
  if (count > MAX_PUSH_NODES) return fail("TooLarge", `${count} push/pull nodes exceed ${MAX_PUSH_NODES}`)
  // Refuse a count the remaining bytes cannot possibly hold before looping over it.
  if (count * MIN_PUSH_NODE_BYTES > r.remaining) {
    return fail("Truncated", `${count} push/pull nodes cannot fit in ${r.remaining} bytes`)
  }
  const nodes: Array<PushNodeState> = []
  for (let i = 0; i < count; i++) nodes.push(readPushNode(r))
  return { _tag: "PushPull", join, nodes, userState: r.requiredBytes("push/pull user state", true) }
}

/** Reads one datagram message; types that only travel on streams are rejected. */
export const readPacketMessage = (r: Reader): PacketMessage => {
  const type = r.u8()
  switch (type) {
    case MessageType.ping:
      return readPing(r)
    case MessageType.indirectPing:
      return readIndirectPing(r)
    case MessageType.ack:
      return readAck(r)
    case MessageType.nack:
      return readNack(r)
    case MessageType.suspect:
      return readSuspect(r)
    case MessageType.alive:
      return readAlive(r)
    case MessageType.dead:
      return readDead(r)
    case MessageType.user:
      return readUser(r)
    default:
      return fail("UnknownType", `message type ${type} is not valid in a packet`)
  }
}

/** True when `type` can start a stream message; lets a stream fail before its body arrives. */
export const isStreamType = (type: number): boolean =>
  type === MessageType.pushPull ||
  type === MessageType.ping ||
  type === MessageType.ack ||
  type === MessageType.user ||
  type === MessageType.err

/** Reads one stream message body (type byte first). */
export const readStreamMessage = (r: Reader): StreamMessage => {
  const type = r.u8()
  switch (type) {
    case MessageType.pushPull:
      return readPushPull(r)
    case MessageType.ping:
      return readPing(r)
    case MessageType.ack:
      return readAck(r)
    case MessageType.user:
      return readUser(r)
    case MessageType.err:
      return readErr(r)
    default:
      return fail("UnknownType", `message type ${type} is not valid on a stream`)
  }
}
