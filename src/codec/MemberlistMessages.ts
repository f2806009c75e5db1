/**
 * memberlist's message bodies as msgpack: one writer and one
 * reader per Go struct. Writers emit the keys in byte order and leave out the
 * `omitempty` fields exactly as Go does, so the output matches the captures
 * byte for byte. Readers take maps (any key order, unknown keys skipped) or
 * arrays (Go declaration order), and any integer form newer memberlist writes.
 *
 * `Vsn` policy. memberlist 0.2.2 indexes `Vsn[5]` whenever Vsn is non-empty,
 * so a 1–5-byte Vsn kills the receiving agent, and a missing one stores the
 * node with version 0, which then fails every join's version check. The engine always passes 6 bytes. Should anything else
 * reach the writer, it does not throw: it sends the first 6 bytes of a longer
 * Vsn (all Go reads), and replaces a missing or shorter one with six zero
 * bytes — receivers ignore an alive whose pmin is 0 (§6.6 step 2) and a
 * push/pull holding one fails their version check cleanly. Neither crashes
 * nor poisons a peer. On receipt a 1–5-byte Vsn is a decode error (it came
 * from a broken sender), and an empty one reads as `null` (no versions).
 */
import type {
  Ack,
  Alive,
  Dead,
  ErrResp,
  IndirectPing,
  Nack,
  Ping,
  PushNodeState,
  Suspect,
  WireState
} from "../protocol/Messages.ts"
import { keyTable, type MsgpackReader } from "./msgpack/Reader.ts"
import { encodedKey, type MsgpackWriter } from "./msgpack/Writer.ts"

const MAX_U16 = 0xffff
const MAX_U32 = 0xffffffff
const MAX_INT = Number.MAX_SAFE_INTEGER

const K = {
  Addr: encodedKey("Addr"),
  Algo: encodedKey("Algo"),
  Buf: encodedKey("Buf"),
  Error: encodedKey("Error"),
  From: encodedKey("From"),
  Incarnation: encodedKey("Incarnation"),
  Join: encodedKey("Join"),
  Meta: encodedKey("Meta"),
  Nack: encodedKey("Nack"),
  Name: encodedKey("Name"),
  Node: encodedKey("Node"),
  Nodes: encodedKey("Nodes"),
  Payload: encodedKey("Payload"),
  Port: encodedKey("Port"),
  SeqNo: encodedKey("SeqNo"),
  SourceAddr: encodedKey("SourceAddr"),
  SourceNode: encodedKey("SourceNode"),
  SourcePort: encodedKey("SourcePort"),
  State: encodedKey("State"),
  Target: encodedKey("Target"),
  UserMsgLen: encodedKey("UserMsgLen"),
  UserStateLen: encodedKey("UserStateLen"),
  Vsn: encodedKey("Vsn")
}

const ZERO_VSN = new Uint8Array(6)

/** The Vsn to put on the wire: always exactly 6 bytes (see the policy above). */
export const wireVsn = (vsn: Uint8Array | null): Uint8Array =>
  vsn === null || vsn.length < 6 ? ZERO_VSN : vsn.length === 6 ? vsn : vsn.subarray(0, 6)

/** A received Vsn: null when absent or empty; a 1–5-byte one fails the read. */
const checkVsn = (r: MsgpackReader, vsn: Uint8Array | null): Uint8Array | null => {
  if (vsn === null || vsn.length === 0) return null
  if (vsn.length < 6) r.fail("Malformed", `Vsn has ${vsn.length} bytes, 6 expected`)
  return vsn
}

const nonEmpty = (b: Uint8Array | null): b is Uint8Array => b !== null && b.length > 0

/** How many of the optional `Source*` fields (omitempty in Go) a ping or indirect ping carries. */
const sourceFields = (m: Ping | IndirectPing): number =>
  (nonEmpty(m.sourceAddr) ? 1 : 0) + (m.sourceNode !== "" ? 1 : 0) + (m.sourcePort !== 0 ? 1 : 0)

/** The `Source*` fields that are set, in wire order (they sort together in both structs). */
const writeSource = (w: MsgpackWriter, m: Ping | IndirectPing): void => {
  if (nonEmpty(m.sourceAddr)) {
    w.key(K.SourceAddr)
    w.bytes(m.sourceAddr)
  }
  if (m.sourceNode !== "") {
    w.key(K.SourceNode)
    w.str(m.sourceNode)
  }
  if (m.sourcePort !== 0) {
    w.key(K.SourcePort)
    w.uint(m.sourcePort)
  }
}

// ---------------------------------------------------------------------------------------------
// ping: Node, SeqNo, SourceAddr?, SourceNode?, SourcePort?

/** Writes a `ping` body (no type byte). */
export const writePing = (w: MsgpackWriter, m: Ping): void => {
  w.mapHeader(2 + sourceFields(m))
  w.key(K.Node)
  w.str(m.node)
  w.key(K.SeqNo)
  w.uint(m.seqNo)
  writeSource(w, m)
}

const PING = keyTable(["Node", "SeqNo", "SourceAddr", "SourceNode", "SourcePort"])
const PING_DECL = [1, 0, 2, 4, 3]

/** Reads a `ping` body; undefined (with `r.failure` set) when it is not one. */
export const readPing = (r: MsgpackReader): Ping | undefined => {
  let node = ""
  let seqNo = 0
  let sourceAddr: Uint8Array | null = null
  let sourceNode = ""
  let sourcePort = 0
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(PING, PING_DECL, i)) {
      case 0:
        node = r.readString()
        break
      case 1:
        seqNo = r.readUint(MAX_U32)
        break
      case 2:
        sourceAddr = r.readBytes()
        break
      case 3:
        sourceNode = r.readString()
        break
      case 4:
        sourcePort = r.readUint(MAX_U16)
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { _tag: "Ping", seqNo, node, sourceAddr, sourceNode, sourcePort } : undefined
}

// ---------------------------------------------------------------------------------------------
// indirectPingReq: Nack, Node, Port, SeqNo, SourceAddr?, SourceNode?, SourcePort?, Target

/** Writes an `indirectPingReq` body. */
export const writeIndirectPing = (w: MsgpackWriter, m: IndirectPing): void => {
  w.mapHeader(5 + sourceFields(m))
  w.key(K.Nack)
  w.bool(m.nack)
  w.key(K.Node)
  w.str(m.node)
  w.key(K.Port)
  w.uint(m.port)
  w.key(K.SeqNo)
  w.uint(m.seqNo)
  writeSource(w, m)
  w.key(K.Target)
  w.bytes(m.target)
}

const INDIRECT = keyTable(["Nack", "Node", "Port", "SeqNo", "SourceAddr", "SourceNode", "SourcePort", "Target"])
const INDIRECT_DECL = [3, 7, 2, 1, 0, 4, 6, 5]
const EMPTY = new Uint8Array(0)

/** Reads an `indirectPingReq` body (a nil `Target` reads as empty). */
export const readIndirectPing = (r: MsgpackReader): IndirectPing | undefined => {
  let nack = false
  let node = ""
  let port = 0
  let seqNo = 0
  let sourceAddr: Uint8Array | null = null
  let sourceNode = ""
  let sourcePort = 0
  let target: Uint8Array = EMPTY
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(INDIRECT, INDIRECT_DECL, i)) {
      case 0:
        nack = r.readBool()
        break
      case 1:
        node = r.readString()
        break
      case 2:
        port = r.readUint(MAX_U16)
        break
      case 3:
        seqNo = r.readUint(MAX_U32)
        break
      case 4:
        sourceAddr = r.readBytes()
        break
      case 5:
        sourceNode = r.readString()
        break
      case 6:
        sourcePort = r.readUint(MAX_U16)
        break
      case 7:
        target = r.readBytes() ?? EMPTY
        break
      default:
        r.skip()
    }
  }
  return r.ok
    ? { _tag: "IndirectPing", seqNo, target, port, node, nack, sourceAddr, sourceNode, sourcePort }
    : undefined
}

// ---------------------------------------------------------------------------------------------
// ackResp: Payload, SeqNo — nackResp: SeqNo — errResp: Error

/** Writes an `ackResp` body (nil payload → 0xc0, as Go sends on TCP). */
export const writeAck = (w: MsgpackWriter, m: Ack): void => {
  w.mapHeader(2)
  w.key(K.Payload)
  w.bytes(m.payload)
  w.key(K.SeqNo)
  w.uint(m.seqNo)
}

const ACK = keyTable(["Payload", "SeqNo"])
const ACK_DECL = [1, 0]

/** Reads an `ackResp` body. */
export const readAck = (r: MsgpackReader): Ack | undefined => {
  let payload: Uint8Array | null = null
  let seqNo = 0
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(ACK, ACK_DECL, i)) {
      case 0:
        payload = r.readBytes()
        break
      case 1:
        seqNo = r.readUint(MAX_U32)
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { _tag: "Ack", seqNo, payload } : undefined
}

/** Writes a `nackResp` body. */
export const writeNack = (w: MsgpackWriter, m: Nack): void => {
  w.mapHeader(1)
  w.key(K.SeqNo)
  w.uint(m.seqNo)
}

const SEQ = keyTable(["SeqNo"])
const ONE_DECL = [0]

/** Reads a `nackResp` body. */
export const readNack = (r: MsgpackReader): Nack | undefined => {
  let seqNo = 0
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    if (r.field(SEQ, ONE_DECL, i) === 0) seqNo = r.readUint(MAX_U32)
    else r.skip()
  }
  return r.ok ? { _tag: "Nack", seqNo } : undefined
}

/** Writes an `errResp` body. */
export const writeErr = (w: MsgpackWriter, m: ErrResp): void => {
  w.mapHeader(1)
  w.key(K.Error)
  w.str(m.error)
}

const ERR = keyTable(["Error"])

/** Reads an `errResp` body. */
export const readErr = (r: MsgpackReader): ErrResp | undefined => {
  let error = ""
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    if (r.field(ERR, ONE_DECL, i) === 0) error = r.readString()
    else r.skip()
  }
  return r.ok ? { _tag: "Err", error } : undefined
}

// ---------------------------------------------------------------------------------------------
// suspect / dead: From, Incarnation, Node

/** Writes a `suspect` or `dead` body (same struct shape). */
export const writeSuspectOrDead = (w: MsgpackWriter, m: Suspect | Dead): void => {
  w.mapHeader(3)
  w.key(K.From)
  w.str(m.from)
  w.key(K.Incarnation)
  w.uint(m.incarnation)
  w.key(K.Node)
  w.str(m.node)
}

const ACCUSATION = keyTable(["From", "Incarnation", "Node"])
const ACCUSATION_DECL = [1, 2, 0]

/** Reads a `suspect` (`tag` "Suspect") or `dead` (`tag` "Dead") body. */
export const readSuspectOrDead = <T extends "Suspect" | "Dead">(
  r: MsgpackReader,
  tag: T
): (T extends "Suspect" ? Suspect : Dead) | undefined => {
  let from = ""
  let incarnation = 0
  let node = ""
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(ACCUSATION, ACCUSATION_DECL, i)) {
      case 0:
        from = r.readString()
        break
      case 1:
        incarnation = r.readUint(MAX_U32)
        break
      case 2:
        node = r.readString()
        break
      default:
        r.skip()
    }
  }
  return r.ok ? ({ _tag: tag, incarnation, node, from } as T extends "Suspect" ? Suspect : Dead) : undefined
}

// ---------------------------------------------------------------------------------------------
// alive: Addr, Incarnation, Meta, Node, Port, Vsn

/** Writes an `alive` body; `Vsn` is always 6 bytes (see the policy above). */
export const writeAlive = (w: MsgpackWriter, m: Alive): void => {
  w.mapHeader(6)
  w.key(K.Addr)
  w.bytes(m.addr)
  w.key(K.Incarnation)
  w.uint(m.incarnation)
  w.key(K.Meta)
  w.bytes(m.meta)
  w.key(K.Node)
  w.str(m.node)
  w.key(K.Port)
  w.uint(m.port)
  w.key(K.Vsn)
  w.bytes(wireVsn(m.vsn))
}

const ALIVE = keyTable(["Addr", "Incarnation", "Meta", "Node", "Port", "Vsn"])
const ALIVE_DECL = [1, 3, 0, 4, 2, 5]

/** Reads an `alive` body (nil `Addr` reads as empty). */
export const readAlive = (r: MsgpackReader): Alive | undefined => {
  let addr: Uint8Array = EMPTY
  let incarnation = 0
  let meta: Uint8Array | null = null
  let node = ""
  let port = 0
  let vsn: Uint8Array | null = null
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(ALIVE, ALIVE_DECL, i)) {
      case 0:
        addr = r.readBytes() ?? EMPTY
        break
      case 1:
        incarnation = r.readUint(MAX_U32)
        break
      case 2:
        meta = r.readBytes()
        break
      case 3:
        node = r.readString()
        break
      case 4:
        port = r.readUint(MAX_U16)
        break
      case 5:
        vsn = r.readBytes()
        break
      default:
        r.skip()
    }
  }
  if (r.ok) vsn = checkVsn(r, vsn)
  return r.ok ? { _tag: "Alive", incarnation, node, addr, port, meta, vsn } : undefined
}

// ---------------------------------------------------------------------------------------------
// push/pull (stream): header Join, Nodes, UserStateLen; node states; raw user state

/** The `pushPullHeader` struct. */
export interface PushPullHeader {
  readonly join: boolean
  readonly nodes: number
  readonly userStateLen: number
}

/** Writes a `pushPullHeader` body. */
export const writePushPullHeader = (w: MsgpackWriter, h: PushPullHeader): void => {
  w.mapHeader(3)
  w.key(K.Join)
  w.bool(h.join)
  w.key(K.Nodes)
  w.uint(h.nodes)
  w.key(K.UserStateLen)
  w.uint(h.userStateLen)
}

const PP_HEADER = keyTable(["Join", "Nodes", "UserStateLen"])
const PP_HEADER_DECL = [1, 2, 0]

/** Reads a `pushPullHeader` body (negative counts are refused: Go would panic allocating them). */
export const readPushPullHeader = (r: MsgpackReader): PushPullHeader | undefined => {
  let join = false
  let nodes = 0
  let userStateLen = 0
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(PP_HEADER, PP_HEADER_DECL, i)) {
      case 0:
        join = r.readBool()
        break
      case 1:
        nodes = r.readUint(MAX_INT)
        break
      case 2:
        userStateLen = r.readUint(MAX_INT)
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { join, nodes, userStateLen } : undefined
}

/** Writes a `pushNodeState` body; `Vsn` is always 6 bytes (see the policy above). */
export const writePushNodeState = (w: MsgpackWriter, s: PushNodeState): void => {
  w.mapHeader(7)
  w.key(K.Addr)
  w.bytes(s.addr)
  w.key(K.Incarnation)
  w.uint(s.incarnation)
  w.key(K.Meta)
  w.bytes(s.meta)
  w.key(K.Name)
  w.str(s.name)
  w.key(K.Port)
  w.uint(s.port)
  w.key(K.State)
  w.uint(s.state)
  w.key(K.Vsn)
  w.bytes(wireVsn(s.vsn))
}

const NODE_STATE = keyTable(["Addr", "Incarnation", "Meta", "Name", "Port", "State", "Vsn"])
const NODE_STATE_DECL = [3, 0, 4, 2, 1, 5, 6]

/**
 * Reads a `pushNodeState` body. A state number outside 0..3 yields `null`
 * (the entry is valid msgpack but memberlist's merge ignores such states).
 */
export const readPushNodeState = (r: MsgpackReader): PushNodeState | null | undefined => {
  let addr: Uint8Array = EMPTY
  let incarnation = 0
  let meta: Uint8Array | null = null
  let name = ""
  let port = 0
  let state = 0
  let vsn: Uint8Array | null = null
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(NODE_STATE, NODE_STATE_DECL, i)) {
      case 0:
        addr = r.readBytes() ?? EMPTY
        break
      case 1:
        incarnation = r.readUint(MAX_U32)
        break
      case 2:
        meta = r.readBytes()
        break
      case 3:
        name = r.readString()
        break
      case 4:
        port = r.readUint(MAX_U16)
        break
      case 5:
        state = r.readInt(Number.MIN_SAFE_INTEGER, MAX_INT)
        break
      case 6:
        vsn = r.readBytes()
        break
      default:
        r.skip()
    }
  }
  if (r.ok) vsn = checkVsn(r, vsn)
  if (!r.ok) return undefined
  if (state < 0 || state > 3) return null
  return { name, addr, port, meta, incarnation, state: state as WireState, vsn }
}

// ---------------------------------------------------------------------------------------------
// userMsgHeader (stream): UserMsgLen — compress: Algo, Buf

/** Writes a `userMsgHeader` body. */
export const writeUserMsgHeader = (w: MsgpackWriter, userMsgLen: number): void => {
  w.mapHeader(1)
  w.key(K.UserMsgLen)
  w.uint(userMsgLen)
}

const USER_HEADER = keyTable(["UserMsgLen"])

/** Reads a `userMsgHeader` body; the announced length, or -1 on failure. */
export const readUserMsgHeader = (r: MsgpackReader): number => {
  let len = 0
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    if (r.field(USER_HEADER, ONE_DECL, i) === 0) len = r.readUint(MAX_INT)
    else r.skip()
  }
  return r.ok ? len : -1
}

/** Bytes of a `compress` message (type byte included) around `buf` compressed bytes. */
export const compressMessageLength = (bufLength: number): number =>
  1 + 1 + K.Algo.length + 1 + K.Buf.length + (bufLength < 32 ? 1 : bufLength < 0x10000 ? 3 : 5) + bufLength

/** Writes a whole `compress` message: `0x09 {Algo: 0, Buf: lzw}`. */
export const writeCompressMessage = (w: MsgpackWriter, lzw: Uint8Array): void => {
  w.byte(9)
  w.mapHeader(2)
  w.key(K.Algo)
  w.uint(0)
  w.key(K.Buf)
  w.bytes(lzw)
}

const COMPRESS = keyTable(["Algo", "Buf"])
const COMPRESS_DECL = [0, 1]

/** A `compress` body: the algorithm number and a view of the compressed bytes. */
export interface CompressBody {
  readonly algo: number
  readonly buf: Uint8Array
}

/** Reads a `compress` body (the buffer is a view into the input, consumed at once). */
export const readCompress = (r: MsgpackReader): CompressBody | undefined => {
  let algo = 0
  let buf: Uint8Array = EMPTY
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(COMPRESS, COMPRESS_DECL, i)) {
      case 0:
        algo = r.readUint(0xff)
        break
      case 1:
        buf = r.readBytesView() ?? EMPTY
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { algo, buf } : undefined
}
