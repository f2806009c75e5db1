/**
 * What travels inside serf queries and their responses: query filters (which
 * members should answer), the key-management request and response of
 * `_serf_install-key`, `_serf_use-key`, `_serf_remove-key` and
 * `_serf_list-keys`, and the member description answering `_serf_conflict`.
 * Each is a serf type byte followed by a msgpack value, as serf's
 * `encodeMessage` / `encodeFilter` write them. Decoders never throw: a
 * malformed payload decodes to `undefined`.
 */
import { keyTable, MsgpackReader } from "../codec/msgpack/Reader.ts"
import { encodedKey, MsgpackWriter } from "../codec/msgpack/Writer.ts"
import { SerfMessageType } from "./Messages.ts"

/** serf's filter type codes (the first byte of a filter). */
export const FilterType = { node: 0, tag: 1 } as const

/** A query filter: only the named nodes answer, or only nodes whose tag matches a regular expression. */
export type QueryFilter =
  | { readonly _tag: "Node"; readonly names: ReadonlyArray<string> }
  | { readonly _tag: "Tag"; readonly tag: string; readonly expr: string }

const K = {
  Addr: encodedKey("Addr"),
  DelegateCur: encodedKey("DelegateCur"),
  DelegateMax: encodedKey("DelegateMax"),
  DelegateMin: encodedKey("DelegateMin"),
  Expr: encodedKey("Expr"),
  Key: encodedKey("Key"),
  Keys: encodedKey("Keys"),
  Message: encodedKey("Message"),
  Name: encodedKey("Name"),
  Port: encodedKey("Port"),
  PrimaryKey: encodedKey("PrimaryKey"),
  ProtocolCur: encodedKey("ProtocolCur"),
  ProtocolMax: encodedKey("ProtocolMax"),
  ProtocolMin: encodedKey("ProtocolMin"),
  Result: encodedKey("Result"),
  Status: encodedKey("Status"),
  Tag: encodedKey("Tag"),
  Tags: encodedKey("Tags")
}

/** Encodes a filter: `0x00 [names…]` or `0x01 {Tag, Expr}`. */
export const encodeFilter = (filter: QueryFilter): Uint8Array => {
  const w = new MsgpackWriter(64)
  if (filter._tag === "Node") {
    w.byte(FilterType.node)
    w.arrayHeader(filter.names.length)
    for (const name of filter.names) w.str(name)
  } else {
    w.byte(FilterType.tag)
    w.mapHeader(2)
    w.key(K.Tag)
    w.str(filter.tag)
    w.key(K.Expr)
    w.str(filter.expr)
  }
  return w.toBytes()
}

const TAG_FILTER = keyTable(["Expr", "Tag"])
const TAG_FILTER_DECL = [1, 0]

/** Decodes a filter; `undefined` for an unknown filter type or a malformed body (serf then does not process the query). */
export const decodeFilter = (bytes: Uint8Array): QueryFilter | undefined => {
  if (bytes.length === 0) return undefined
  const r = new MsgpackReader(bytes, 1, bytes.length, 4096)
  switch (bytes[0]) {
    case FilterType.node: {
      const n = r.readArrayHeader()
      const names: Array<string> = []
      for (let i = 0; i < n && r.ok; i++) names.push(r.readString())
      return r.ok ? { _tag: "Node", names } : undefined
    }
    case FilterType.tag: {
      let tag = ""
      let expr = ""
      const n = r.readStructHeader()
      for (let i = 0; i < n && r.ok; i++) {
        switch (r.field(TAG_FILTER, TAG_FILTER_DECL, i)) {
          case 0:
            expr = r.readString()
            break
          case 1:
            tag = r.readString()
            break
          default:
            r.skip()
        }
      }
      return r.ok ? { _tag: "Tag", tag, expr } : undefined
    }
    default:
      return undefined
  }
}

/** Encodes a key-management request: `0x07 {Key}` (raw key bytes; empty for list-keys). */
export const encodeKeyRequest = (key: Uint8Array): Uint8Array => {
  const w = new MsgpackWriter(48)
  w.byte(SerfMessageType.keyRequest)
  w.mapHeader(1)
  w.key(K.Key)
  w.bytes(key)
  return w.toBytes()
}

const KEY_REQUEST = keyTable(["Key"])
const KEY_REQUEST_DECL = [0]

/**
 * The key of a key-management query payload. Like serf, the type byte is not
 * checked, only skipped; an empty or malformed payload gives `undefined`.
 */
export const decodeKeyRequest = (payload: Uint8Array | null): Uint8Array | undefined => {
  if (payload === null || payload.length < 1) return undefined
  const r = new MsgpackReader(payload, 1, payload.length, 4096)
  let key: Uint8Array | null = null
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    if (r.field(KEY_REQUEST, KEY_REQUEST_DECL, i) === 0) key = r.readBytes()
    else r.skip()
  }
  return r.ok ? key ?? new Uint8Array(0) : undefined
}

/** One member's answer to a key-management query (serf's `nodeKeyResponse`). */
export interface KeyResponse {
  /** false when the operation failed on that member (`message` says why). */
  readonly result: boolean
  readonly message: string
  /** list-keys: the member's keys in base64, primary first. */
  readonly keys: ReadonlyArray<string>
  /** list-keys: the member's primary key in base64 ("" otherwise). */
  readonly primaryKey: string
}

/** Encodes a key-management response: `0x08 {Keys, Message, PrimaryKey, Result}` (no keys → nil, as Go writes it). */
export const encodeKeyResponse = (response: KeyResponse): Uint8Array => {
  const w = new MsgpackWriter(64 + response.message.length + response.keys.length * 48)
  w.byte(SerfMessageType.keyResponse)
  w.mapHeader(4)
  w.key(K.Keys)
  if (response.keys.length === 0) w.nil()
  else {
    w.arrayHeader(response.keys.length)
    for (const key of response.keys) w.str(key)
  }
  w.key(K.Message)
  w.str(response.message)
  w.key(K.PrimaryKey)
  w.str(response.primaryKey)
  w.key(K.Result)
  w.bool(response.result)
  return w.toBytes()
}

const KEY_RESPONSE = keyTable(["Keys", "Message", "PrimaryKey", "Result"])
const KEY_RESPONSE_DECL = [3, 1, 0, 2]

/** Decodes a key-management response; `undefined` when it is not one (wrong type byte) or is malformed. */
export const decodeKeyResponse = (payload: Uint8Array | null): KeyResponse | undefined => {
  if (payload === null || payload.length < 1 || payload[0] !== SerfMessageType.keyResponse) return undefined
  const r = new MsgpackReader(payload, 1, payload.length, 64 * 1024)
  let result = false
  let message = ""
  let primaryKey = ""
  const keys: Array<string> = []
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(KEY_RESPONSE, KEY_RESPONSE_DECL, i)) {
      case 0: {
        const count = r.readArrayHeader()
        for (let j = 0; j < count && r.ok; j++) keys.push(r.readString())
        break
      }
      case 1:
        message = r.readString()
        break
      case 2:
        primaryKey = r.readString()
        break
      case 3:
        result = r.readBool()
        break
      default:
        r.skip()
    }
  }
  return r.ok ? { result, message, keys, primaryKey } : undefined
}

/** serf's member status codes (`MemberStatus`). */
export const SerfStatus = { none: 0, alive: 1, leaving: 2, left: 3, failed: 4 } as const

/** A member as serf describes it in a `_serf_conflict` answer (serf's `Member`). */
export interface SerfMember {
  readonly name: string
  readonly addr: Uint8Array
  readonly port: number
  readonly tags: Readonly<Record<string, string>>
  readonly status: number
  readonly protocolMin: number
  readonly protocolMax: number
  readonly protocolCur: number
  readonly delegateMin: number
  readonly delegateMax: number
  readonly delegateCur: number
}

/** Encodes a `_serf_conflict` answer: `0x06` then the member, or nil when this node does not know it. */
export const encodeConflictResponse = (member: SerfMember | undefined): Uint8Array => {
  const w = new MsgpackWriter(128)
  w.byte(SerfMessageType.conflictResponse)
  if (member === undefined) {
    w.nil()
    return w.toBytes()
  }
  w.mapHeader(11)
  w.key(K.Name)
  w.str(member.name)
  w.key(K.Addr)
  w.bytes(member.addr)
  w.key(K.Port)
  w.uint(member.port)
  w.key(K.Tags)
  const tags = Object.entries(member.tags)
  w.mapHeader(tags.length)
  for (const [k, v] of tags) {
    w.str(k)
    w.str(v)
  }
  w.key(K.Status)
  w.int(member.status)
  w.key(K.ProtocolMin)
  w.uint(member.protocolMin)
  w.key(K.ProtocolMax)
  w.uint(member.protocolMax)
  w.key(K.ProtocolCur)
  w.uint(member.protocolCur)
  w.key(K.DelegateMin)
  w.uint(member.delegateMin)
  w.key(K.DelegateMax)
  w.uint(member.delegateMax)
  w.key(K.DelegateCur)
  w.uint(member.delegateCur)
  return w.toBytes()
}

const MEMBER = keyTable([
  "Addr",
  "DelegateCur",
  "DelegateMax",
  "DelegateMin",
  "Name",
  "Port",
  "ProtocolCur",
  "ProtocolMax",
  "ProtocolMin",
  "Status",
  "Tags"
])
// Go declaration order: Name, Addr, Port, Tags, Status, ProtocolMin, ProtocolMax, ProtocolCur, DelegateMin, DelegateMax, DelegateCur
const MEMBER_DECL = [4, 0, 5, 10, 9, 8, 7, 6, 3, 2, 1]
// key index → slot in [protocolMin, protocolMax, protocolCur, delegateMin, delegateMax, delegateCur]
const VERSION_SLOT: Readonly<Record<number, number>> = { 8: 0, 7: 1, 6: 2, 3: 3, 2: 4, 1: 5 }

/**
 * Decodes a `_serf_conflict` answer: the member, `null` when the responder does
 * not know it (nil), `undefined` when it is not a conflict response or is malformed.
 */
export const decodeConflictResponse = (payload: Uint8Array | null): SerfMember | null | undefined => {
  if (payload === null || payload.length < 2 || payload[0] !== SerfMessageType.conflictResponse) return undefined
  const r = new MsgpackReader(payload, 1, payload.length, 4096)
  if (r.tryNil()) return null
  let name = ""
  let addr: Uint8Array = new Uint8Array(0)
  let port = 0
  const tags: Record<string, string> = {}
  let status = 0
  const versions = [0, 0, 0, 0, 0, 0]
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    const f = r.field(MEMBER, MEMBER_DECL, i)
    switch (f) {
      case 0:
        addr = r.readBytes() ?? new Uint8Array(0)
        break
      case 1:
      case 2:
      case 3:
      case 6:
      case 7:
      case 8:
        versions[VERSION_SLOT[f]!] = r.readUint(0xff)
        break
      case 4:
        name = r.readString()
        break
      case 5:
        port = r.readUint(0xffff)
        break
      case 9:
        status = r.readInt(-0x80000000, 0x7fffffff)
        break
      case 10: {
        const m = r.readMapHeader()
        for (let j = 0; j < m && r.ok; j++) {
          const k = r.readString()
          const v = r.readString()
          if (r.ok) Object.defineProperty(tags, k, { value: v, enumerable: true, writable: true, configurable: true })
        }
        break
      }
      default:
        r.skip()
    }
  }
  if (!r.ok) return undefined
  // versions: [protocolMin, protocolMax, protocolCur, delegateMin, delegateMax, delegateCur]
  return {
    name,
    addr,
    port,
    tags,
    status,
    protocolMin: versions[0]!,
    protocolMax: versions[1]!,
    protocolCur: versions[2]!,
    delegateMin: versions[3]!,
    delegateMax: versions[4]!,
    delegateCur: versions[5]!
  }
}

/** Longest tag-filter expression this node evaluates (serf sends whatever the user typed). */
export const MAX_FILTER_EXPR = 256

/**
 * Nested quantifiers (`(a+)+`, `(.*)*`, `(x|y+){2,}`): the patterns that make a
 * backtracking engine (JavaScript's, unlike Go's RE2) take exponential time.
 */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)\s*[*+{?]/

/**
 * A tag filter's expression as a JavaScript RegExp, or why it is refused: too
 * long, not a valid pattern, or one that could backtrack without end. Go's RE2
 * and JavaScript agree on the common syntax; like serf, the match is a search
 * anywhere in the value (anchor with ^…$ for an exact match).
 */
export const compileTagExpr = (expr: string): RegExp | string => {
  if (expr.length > MAX_FILTER_EXPR) return `expression longer than ${MAX_FILTER_EXPR} characters`
  if (NESTED_QUANTIFIER.test(expr)) return "nested quantifiers are refused (they can backtrack without end)"
  try {
    return new RegExp(expr)
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

/**
 * serf's `shouldProcessQuery`: every filter must pass. A node filter lists this
 * node's name; a tag filter's expression matches this node's tag (an absent tag
 * is the empty string). `"malformed"` for a filter that does not decode or an
 * expression that cannot be used; serf does not process those queries either.
 */
export const shouldProcessQuery = (
  filters: ReadonlyArray<Uint8Array> | null,
  name: string,
  tags: Readonly<Record<string, string>>
): boolean | "malformed" => {
  for (const bytes of filters ?? []) {
    const filter = decodeFilter(bytes)
    if (filter === undefined) return "malformed"
    if (filter._tag === "Node") {
      if (!filter.names.includes(name)) return false
    } else {
      const re = compileTagExpr(filter.expr)
      if (typeof re === "string") return "malformed"
      const value = Object.hasOwn(tags, filter.tag) ? tags[filter.tag]! : ""
      if (!re.test(value)) return false
    }
  }
  return true
}
