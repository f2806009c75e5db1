/**
 * serf's own messages, carried as memberlist user messages:
 * one serf type byte, then a msgpack struct with sorted keys. A node that is
 * not serf still wants two of them: the leave intent, sent before its
 * memberlist leave so serf shows it as *left* rather than *failed*, and the
 * join intent; events, queries and query responses are here too (a node
 * that answers serf queries needs the response). The decoder reports any
 * other type as `Unknown` for the caller to ignore.
 */
import { keyTable, MsgpackReader } from "../codec/msgpack/Reader.ts"
import { encodedKey, MsgpackWriter } from "../codec/msgpack/Writer.ts"
import { user, type UserMsg } from "../protocol/Messages.ts"

/** serf message type codes (the first byte of a serf user message). */
export const SerfMessageType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9
} as const

/** `node` intends to leave; `ltime` must be newer than the status time serf holds for it. */
export interface LeaveIntent {
  readonly _tag: "Leave"
  readonly ltime: number
  readonly node: string
  readonly prune: boolean
}

/** `node` joined at member-clock time `ltime`. */
export interface JoinIntent {
  readonly _tag: "Join"
  readonly ltime: number
  readonly node: string
}

/** A serf user event (`cc`: may be coalesced). */
export interface UserEvent {
  readonly _tag: "UserEvent"
  readonly ltime: number
  readonly name: string
  readonly payload: Uint8Array | null
  readonly cc: boolean
}

/** A serf query (`timeout` in nanoseconds; `flags` 1 = ack wanted, 2 = no rebroadcast). */
export interface Query {
  readonly _tag: "Query"
  readonly ltime: number
  readonly id: number
  readonly addr: Uint8Array | null
  readonly port: number
  readonly sourceNode: string
  readonly filters: ReadonlyArray<Uint8Array> | null
  readonly flags: number
  readonly relayFactor: number
  readonly timeout: number
  readonly name: string
  readonly payload: Uint8Array | null
}

/** An answer (or, with `flags` 1, an ack) to a serf query. */
export interface QueryResponse {
  readonly _tag: "QueryResponse"
  readonly ltime: number
  readonly id: number
  readonly from: string
  readonly flags: number
  readonly payload: Uint8Array | null
}

/**
 * A message another member asks this one to pass on to `destName` at
 * `destAddr:destPort` (serf's relayed query responses): `message` is the
 * whole serf message to forward, type byte included.
 */
export interface RelayMessage {
  readonly _tag: "Relay"
  readonly destAddr: Uint8Array | null
  readonly destPort: number
  readonly destName: string
  readonly message: Uint8Array
}

/** Any other serf type: not interpreted, safe to ignore. */
export interface UnknownSerfMessage {
  readonly _tag: "Unknown"
  readonly type: number
}

/** What `decodeSerfMessage` returns for a well-formed payload. */
export type SerfMessage =
  | LeaveIntent
  | JoinIntent
  | UserEvent
  | Query
  | QueryResponse
  | RelayMessage
  | UnknownSerfMessage

const K = {
  CC: encodedKey("CC"),
  LTime: encodedKey("LTime"),
  Name: encodedKey("Name"),
  Node: encodedKey("Node"),
  Payload: encodedKey("Payload"),
  Prune: encodedKey("Prune")
}

/** Encodes a leave intent: `0x00 {LTime, Node, Prune}`. */
export const encodeLeaveIntent = (m: Omit<LeaveIntent, "_tag">): Uint8Array => {
  const w = new MsgpackWriter(64)
  w.byte(SerfMessageType.leave)
  w.mapHeader(3)
  w.key(K.LTime)
  w.uint(m.ltime)
  w.key(K.Node)
  w.str(m.node)
  w.key(K.Prune)
  w.bool(m.prune)
  return w.toBytes()
}

/** Encodes a join intent: `0x01 {LTime, Node}`. */
export const encodeJoinIntent = (m: Omit<JoinIntent, "_tag">): Uint8Array => {
  const w = new MsgpackWriter(64)
  w.byte(SerfMessageType.join)
  w.mapHeader(2)
  w.key(K.LTime)
  w.uint(m.ltime)
  w.key(K.Node)
  w.str(m.node)
  return w.toBytes()
}

/** Encodes a user event: `0x03 {CC, LTime, Name, Payload}`. */
export const encodeUserEvent = (m: Omit<UserEvent, "_tag">): Uint8Array => {
  const w = new MsgpackWriter(64 + (m.payload?.length ?? 0))
  w.byte(SerfMessageType.userEvent)
  w.mapHeader(4)
  w.key(K.CC)
  w.bool(m.cc)
  w.key(K.LTime)
  w.uint(m.ltime)
  w.key(K.Name)
  w.str(m.name)
  w.key(K.Payload)
  w.bytes(m.payload)
  return w.toBytes()
}

const QK = {
  Addr: encodedKey("Addr"),
  Filters: encodedKey("Filters"),
  Flags: encodedKey("Flags"),
  From: encodedKey("From"),
  ID: encodedKey("ID"),
  Port: encodedKey("Port"),
  RelayFactor: encodedKey("RelayFactor"),
  SourceNode: encodedKey("SourceNode"),
  Timeout: encodedKey("Timeout")
}

/** Encodes a query: `0x04 {Addr, Filters, Flags, ID, LTime, Name, Payload, Port, RelayFactor, SourceNode, Timeout}`. */
export const encodeQuery = (m: Omit<Query, "_tag">): Uint8Array => {
  const w = new MsgpackWriter(128 + (m.payload?.length ?? 0))
  w.byte(SerfMessageType.query)
  w.mapHeader(11)
  w.key(QK.Addr)
  w.bytes(m.addr)
  w.key(QK.Filters)
  if (m.filters === null) w.nil()
  else {
    w.arrayHeader(m.filters.length)
    for (const f of m.filters) w.bytes(f)
  }
  w.key(QK.Flags)
  w.uint(m.flags)
  w.key(QK.ID)
  w.uint(m.id)
  w.key(K.LTime)
  w.uint(m.ltime)
  w.key(K.Name)
  w.str(m.name)
  w.key(K.Payload)
  w.bytes(m.payload)
  w.key(QK.Port)
  w.uint(m.port)
  w.key(QK.RelayFactor)
  w.uint(m.relayFactor)
  w.key(QK.SourceNode)
  w.str(m.sourceNode)
  w.key(QK.Timeout)
  w.int(m.timeout)
  return w.toBytes()
}

/** Encodes a query response or ack (`flags` 1): `0x05 {Flags, From, ID, LTime, Payload}`. */
export const encodeQueryResponse = (m: Omit<QueryResponse, "_tag">): Uint8Array => {
  const w = new MsgpackWriter(64 + (m.payload?.length ?? 0))
  w.byte(SerfMessageType.queryResponse)
  w.mapHeader(5)
  w.key(QK.Flags)
  w.uint(m.flags)
  w.key(QK.From)
  w.str(m.from)
  w.key(QK.ID)
  w.uint(m.id)
  w.key(K.LTime)
  w.uint(m.ltime)
  w.key(K.Payload)
  w.bytes(m.payload)
  return w.toBytes()
}

/**
 * The memberlist user message that tells serf this node is leaving: send it
 * to the serf members (or gossip it), then do the memberlist leave. `ltime` 1
 * suffices for a node that never sent a join intent.
 */
export const leaveIntentMessage = (node: string, ltime = 1, prune = false): UserMsg =>
  user(encodeLeaveIntent({ ltime, node, prune }))

const MAX_LTIME = Number.MAX_SAFE_INTEGER
const MAX_U32 = 0xffffffff

const LEAVE = keyTable(["LTime", "Node", "Prune"])
const JOIN = keyTable(["LTime", "Node"])
const EVENT = keyTable(["CC", "LTime", "Name", "Payload"])
const QUERY = keyTable([
  "Addr",
  "Filters",
  "Flags",
  "ID",
  "LTime",
  "Name",
  "Payload",
  "Port",
  "RelayFactor",
  "SourceNode",
  "Timeout"
])
const RESPONSE = keyTable(["Flags", "From", "ID", "LTime", "Payload"])
// Go declaration order (array-encoded structs) as indexes into the sorted key tables.
const LEAVE_DECL = [0, 1, 2]
const JOIN_DECL = [0, 1]
const EVENT_DECL = [1, 2, 3, 0]
const QUERY_DECL = [4, 3, 0, 7, 9, 1, 2, 8, 10, 5, 6]
const RESPONSE_DECL = [3, 2, 1, 0, 4]

const readLeave = (r: MsgpackReader): LeaveIntent | undefined => {
  let ltime = 0
  let node = ""
  let prune = false
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(LEAVE, LEAVE_DECL, i)) {
      case 0:
        ltime = r.readUint(MAX_LTIME)
        break
      case 1:
        node = r.readString()
        break
      case 2:
        prune = r.readBool()
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { _tag: "Leave", ltime, node, prune } : undefined
}

const readJoin = (r: MsgpackReader): JoinIntent | undefined => {
  let ltime = 0
  let node = ""
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(JOIN, JOIN_DECL, i)) {
      case 0:
        ltime = r.readUint(MAX_LTIME)
        break
      case 1:
        node = r.readString()
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { _tag: "Join", ltime, node } : undefined
}

const readEvent = (r: MsgpackReader): UserEvent | undefined => {
  let cc = false
  let ltime = 0
  let name = ""
  let payload: Uint8Array | null = null
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(EVENT, EVENT_DECL, i)) {
      case 0:
        cc = r.readBool()
        break
      case 1:
        ltime = r.readUint(MAX_LTIME)
        break
      case 2:
        name = r.readString()
        break
      case 3:
        payload = r.readBytes()
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { _tag: "UserEvent", ltime, name, payload, cc } : undefined
}

const readFilters = (r: MsgpackReader): ReadonlyArray<Uint8Array> | null => {
  if (r.tryNil()) return null
  const count = r.readArrayHeader()
  const out: Array<Uint8Array> = []
  for (let i = 0; i < count && r.ok; i++) out.push(r.readBytes() ?? new Uint8Array(0))
  return out
}

const readQuery = (r: MsgpackReader): Query | undefined => {
  let addr: Uint8Array | null = null
  let filters: ReadonlyArray<Uint8Array> | null = null
  let flags = 0
  let id = 0
  let ltime = 0
  let name = ""
  let payload: Uint8Array | null = null
  let port = 0
  let relayFactor = 0
  let sourceNode = ""
  let timeout = 0
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(QUERY, QUERY_DECL, i)) {
      case 0:
        addr = r.readBytes()
        break
      case 1:
        filters = readFilters(r)
        break
      case 2:
        flags = r.readUint(MAX_U32)
        break
      case 3:
        id = r.readUint(MAX_U32)
        break
      case 4:
        ltime = r.readUint(MAX_LTIME)
        break
      case 5:
        name = r.readString()
        break
      case 6:
        payload = r.readBytes()
        break
      case 7:
        port = r.readUint(0xffff)
        break
      case 8:
        relayFactor = r.readUint(0xff)
        break
      case 9:
        sourceNode = r.readString()
        break
      case 10:
        timeout = r.readInt(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
        break
      default:
        r.skip()
    }
  }
  return r.ok
    ? { _tag: "Query", ltime, id, addr, port, sourceNode, filters, flags, relayFactor, timeout, name, payload }
    : undefined
}

const readResponse = (r: MsgpackReader): QueryResponse | undefined => {
  let flags = 0
  let from = ""
  let id = 0
  let ltime = 0
  let payload: Uint8Array | null = null
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(RESPONSE, RESPONSE_DECL, i)) {
      case 0:
        flags = r.readUint(MAX_U32)
        break
      case 1:
        from = r.readString()
        break
      case 2:
        id = r.readUint(MAX_U32)
        break
      case 3:
        ltime = r.readUint(MAX_LTIME)
        break
      case 4:
        payload = r.readBytes()
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { _tag: "QueryResponse", ltime, id, from, flags, payload } : undefined
}

const RELAY = keyTable(["DestAddr", "DestName"])
const RELAY_DECL = [0, 1]
const UDP_ADDR = keyTable(["IP", "Port", "Zone"])
const UDP_ADDR_DECL = [0, 1, 2]

const readRelay = (r: MsgpackReader, payload: Uint8Array): RelayMessage | undefined => {
  let destAddr: Uint8Array | null = null
  let destPort = 0
  let destName = ""
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(RELAY, RELAY_DECL, i)) {
      case 0: {
        const m = r.readStructHeader()
        for (let j = 0; j < m && r.ok; j++) {
          switch (r.field(UDP_ADDR, UDP_ADDR_DECL, j)) {
            case 0:
              destAddr = r.readBytes()
              break
            case 1:
              destPort = r.readInt(0, 0xffff)
              break
            default:
              r.skip()
          }
        }
        break
      }
      case 1:
        destName = r.readString()
        break
      default:
        r.skip()
    }
  }
  // the forwarded message follows the header; an empty one is nothing to forward
  if (!r.ok || r.pos >= payload.length) return undefined
  return { _tag: "Relay", destAddr, destPort, destName, message: payload.slice(r.pos) }
}

/**
 * Decodes the payload of a memberlist user message as a serf message. Never
 * throws: `undefined` for an empty payload or a malformed body of a known
 * type, `Unknown` for types this library does not interpret.
 */
export const decodeSerfMessage = (payload: Uint8Array): SerfMessage | undefined => {
  if (payload.length === 0) return undefined
  const r = new MsgpackReader(payload, 1)
  switch (payload[0]) {
    case SerfMessageType.leave:
      return readLeave(r)
    case SerfMessageType.join:
      return readJoin(r)
    case SerfMessageType.userEvent:
      return readEvent(r)
    case SerfMessageType.query:
      return readQuery(r)
    case SerfMessageType.queryResponse:
      return readResponse(r)
    case SerfMessageType.relay:
      return readRelay(r, payload)
    default:
      return { _tag: "Unknown", type: payload[0]! }
  }
}

const RK = {
  DestAddr: encodedKey("DestAddr"),
  DestName: encodedKey("DestName"),
  IP: encodedKey("IP"),
  Port: encodedKey("Port"),
  Zone: encodedKey("Zone")
}

/**
 * Wraps `message` (a whole serf message) for a member to forward to `destName`
 * at `destAddr:destPort`: `0x09 {DestAddr: {IP, Port, Zone}, DestName}` then the message.
 */
export const encodeRelay = (
  dest: { readonly addr: Uint8Array; readonly port: number; readonly name: string },
  message: Uint8Array
): Uint8Array => {
  const w = new MsgpackWriter(64 + message.length)
  w.byte(SerfMessageType.relay)
  w.mapHeader(2)
  w.key(RK.DestAddr)
  w.mapHeader(3)
  w.key(RK.IP)
  w.bytes(dest.addr)
  w.key(RK.Port)
  w.uint(dest.port)
  w.key(RK.Zone)
  w.str("")
  w.key(RK.DestName)
  w.str(dest.name)
  w.raw(message)
  return w.toBytes()
}
