/**
 * Message bodies of the compact format: one type byte (memberlist's numbers),
 * then the fields in the order of the structs in `Messages.ts`. `Decode.ts`
 * reads exactly this layout back.
 *
 * Field encodings: unsigned ints as LEB128 varints; strings as varint length +
 * UTF-8; byte fields as varint (length + 1), 0 meaning null; booleans as one byte;
 * push node state as one byte.
 */
import type { PacketMessage, PushNodeState, StreamMessage } from "../../protocol/Messages.ts"
import { MessageType } from "../../protocol/Messages.ts"
import { digestOf } from "../../protocol/StateDigest.ts"
import type { EntryBytes } from "./EntryBytes.ts"
import { MAX_PORT, MAX_PUSH_NODES, MAX_WIRE_STATE, VSN_BYTES } from "./Limits.ts"
import type { Writer } from "./Writer.ts"

const port = (w: Writer, value: number): void => {
  if (!(value >= 0 && value <= MAX_PORT)) throw new RangeError(`compact codec: port ${value} out of range`)
  w.varint(value)
}

const vsn = (w: Writer, value: Uint8Array | null): void => {
  if (value !== null && value.length !== VSN_BYTES) {
    throw new RangeError(`compact codec: vsn must be ${VSN_BYTES} bytes, got ${value.length}`)
  }
  w.bytes(value)
}

/** A push node state's fields before its incarnation: what its announcement fixes. */
export const pushHead = (w: Writer, n: PushNodeState): void => {
  w.string(n.name)
  w.bytes(n.addr)
  port(w, n.port)
  w.bytes(n.meta)
}

/** A push node state's incarnation and state. */
export const pushProgress = (w: Writer, incarnation: number, state: number): void => {
  w.varint(incarnation)
  if (!(state >= 0 && state <= MAX_WIRE_STATE && Number.isInteger(state))) {
    throw new RangeError(`compact codec: node state ${state} out of range`)
  }
  w.u8(state)
}

/** A push node state's last field, its version vector. */
export const pushTail = (w: Writer, n: PushNodeState): void => vsn(w, n.vsn)

const pushNode = (w: Writer, n: PushNodeState): void => {
  pushHead(w, n)
  pushProgress(w, n.incarnation, n.state)
  pushTail(w, n)
}

/** Writes a datagram message (type byte first). */
export const writePacketMessage = (w: Writer, m: PacketMessage): void => {
  switch (m._tag) {
    case "Ping":
      w.u8(MessageType.ping)
      w.varint(m.seqNo)
      w.string(m.node)
      w.bytes(m.sourceAddr)
      w.string(m.sourceNode)
      port(w, m.sourcePort)
      return
    case "IndirectPing":
      w.u8(MessageType.indirectPing)
      w.varint(m.seqNo)
      w.bytes(m.target)
      port(w, m.port)
      w.string(m.node)
      w.bool(m.nack)
      w.bytes(m.sourceAddr)
      w.string(m.sourceNode)
      port(w, m.sourcePort)
      return
    case "Ack":
      w.u8(MessageType.ack)
      w.varint(m.seqNo)
      w.bytes(m.payload)
      return
    case "Nack":
      w.u8(MessageType.nack)
      w.varint(m.seqNo)
      return
    case "Suspect":
      w.u8(MessageType.suspect)
      w.varint(m.incarnation)
      w.string(m.node)
      w.string(m.from)
      return
    case "Alive":
      w.u8(MessageType.alive)
      w.varint(m.incarnation)
      w.string(m.node)
      w.bytes(m.addr)
      port(w, m.port)
      w.bytes(m.meta)
      vsn(w, m.vsn)
      return
    case "Dead":
      w.u8(MessageType.dead)
      w.varint(m.incarnation)
      w.string(m.node)
      w.string(m.from)
      return
    case "User":
      w.u8(MessageType.user)
      w.bytes(m.payload)
      return
  }
}

/**
 * Writes a stream message body (type byte first, no length prefix). `entries`: where a codec
 * keeps the bytes of the entries of digested states (`EntryBytes`), to copy them from there.
 */
export const writeStreamMessage = (w: Writer, m: StreamMessage, entries?: EntryBytes): void => {
  switch (m._tag) {
    case "PushPull": {
      if (m.nodes.length > MAX_PUSH_NODES) {
        throw new RangeError(`compact codec: ${m.nodes.length} push/pull nodes exceed ${MAX_PUSH_NODES}`)
      }
      w.u8(MessageType.pushPull)
      w.bool(m.join)
      w.varint(m.nodes.length)
      const digest = entries === undefined ? undefined : digestOf(m)
      if (digest !== undefined) entries!.write(w, m.nodes, digest)
      else for (const n of m.nodes) pushNode(w, n)
      w.bytes(m.userState)
      return
    }
    case "Err":
      w.u8(MessageType.err)
      w.string(m.error)
      return
    case "Ping":
    case "Ack":
    case "User":
      writePacketMessage(w, m)
      return
  }
}
