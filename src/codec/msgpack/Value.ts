/**
 * Schema-less msgpack decoding, for data whose shape is not a fixed struct
 * (serf's push/pull state, diagnostics, tests). Raw strings stay bytes, because
 * Go's old-spec encoder uses the same family for text and binary; map keys are
 * decoded as UTF-8 text.
 */
import { MAX_DEPTH, type MsgpackReader } from "./Reader.ts"

/** A decoded msgpack value. Integers beyond ±2^53 come back as `bigint`. */
export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | Uint8Array
  | ReadonlyArray<MsgpackValue>
  | ReadonlyMap<string, MsgpackValue>

/** Reads one value of any type; on failure `r.ok` is false and the result is `null`. */
export const readValue = (r: MsgpackReader): MsgpackValue => readAt(r, 0)

const readAt = (r: MsgpackReader, depth: number): MsgpackValue => {
  if (depth > MAX_DEPTH) {
    r.fail("Malformed", "nesting too deep")
    return null
  }
  const b = r.peek()
  if (b < 0) {
    r.fail("Truncated", "unexpected end of data")
    return null
  }
  if (b === 0xc0) {
    r.pos++
    return null
  }
  if (b === 0xc2 || b === 0xc3) return r.readBool()
  if (b === 0xca || b === 0xcb) return r.readFloat()
  if (b === 0xcf || b === 0xd3) return read64(r, b === 0xd3)
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd2)) {
    return r.readInt(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  }
  if ((b & 0xe0) === 0xa0 || b === 0xd9 || b === 0xda || b === 0xdb || (b >= 0xc4 && b <= 0xc6)) {
    return r.readBytes()
  }
  if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
    const n = r.readArrayHeader()
    const out: Array<MsgpackValue> = []
    for (let i = 0; i < n && r.ok; i++) out.push(readAt(r, depth + 1))
    return out
  }
  if ((b & 0xf0) === 0x80 || b === 0xde || b === 0xdf) {
    const n = r.readMapHeader()
    const out = new Map<string, MsgpackValue>()
    for (let i = 0; i < n && r.ok; i++) {
      const k = r.peek()
      const key = (k & 0xe0) === 0xa0 || k === 0xd9 || k === 0xda || k === 0xdb
        ? r.readString()
        : String(readAt(r, depth + 1))
      const value = readAt(r, depth + 1)
      out.set(key, value)
    }
    return out
  }
  r.fail("Malformed", `unsupported type byte 0x${b.toString(16)}`)
  return null
}

const read64 = (r: MsgpackReader, signed: boolean): number | bigint => {
  if (r.remaining < 9) {
    r.fail("Truncated", "unexpected end of data")
    return 0
  }
  const view = new DataView(r.buf.buffer, r.buf.byteOffset + r.pos + 1, 8)
  r.pos += 9
  const big = signed ? view.getBigInt64(0) : view.getBigUint64(0)
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big
}
