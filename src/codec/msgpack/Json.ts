/**
 * msgpack for JSON-shaped data (null, booleans, numbers, strings, arrays,
 * objects), in the current msgpack spec, so that any msgpack library reads it:
 * strings in the str family, whole numbers as integers, others as float64,
 * objects as maps with string keys.
 */
import { MAX_DEPTH, MsgpackReader } from "./Reader.ts"
import { MsgpackWriter } from "./Writer.ts"

/** A value of the JSON data model. */
export type JsonValue = null | boolean | number | string | ReadonlyArray<JsonValue> | { readonly [key: string]: JsonValue }

const writeValue = (w: MsgpackWriter, v: unknown, depth: number): void => {
  if (depth > MAX_DEPTH) throw new Error("nesting too deep")
  if (v === null || v === undefined) return w.nil()
  switch (typeof v) {
    case "boolean":
      return w.bool(v)
    case "number":
      return Number.isSafeInteger(v) ? w.int(v) : w.float64(v)
    case "string":
      return w.str(v)
    case "object": {
      if (Array.isArray(v)) {
        w.arrayHeader(v.length)
        for (const x of v) writeValue(w, x, depth + 1)
        return
      }
      const entries = Object.entries(v).filter(([, x]) => x !== undefined)
      w.mapHeader(entries.length)
      for (const [k, x] of entries) {
        w.str(k)
        writeValue(w, x, depth + 1)
      }
      return
    }
    default:
      throw new Error(`${typeof v} is not JSON data`)
  }
}

/** Encodes JSON-shaped data; throws on anything else (functions, bigints, symbols). */
export const encodeJsonMsgpack = (value: unknown): Uint8Array => {
  const w = new MsgpackWriter(256)
  writeValue(w, value, 0)
  return w.toBytes()
}

const readValue = (r: MsgpackReader, depth: number): JsonValue => {
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
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) {
    return r.readInt(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  }
  if ((b & 0xe0) === 0xa0 || b === 0xd9 || b === 0xda || b === 0xdb) return r.readString()
  if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
    const n = r.readArrayHeader()
    const out: Array<JsonValue> = []
    for (let i = 0; i < n && r.ok; i++) out.push(readValue(r, depth + 1))
    return out
  }
  if ((b & 0xf0) === 0x80 || b === 0xde || b === 0xdf) {
    const n = r.readMapHeader()
    const out: Record<string, JsonValue> = {}
    for (let i = 0; i < n && r.ok; i++) {
      const key = r.readString()
      // Own data properties only: a key like "__proto__" must not reach the prototype.
      Object.defineProperty(out, key, { value: readValue(r, depth + 1), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  r.fail("Malformed", `0x${b.toString(16)} is not a JSON-shaped msgpack value`)
  return null
}

/** Decodes one JSON-shaped value that spans all of `bytes`, or says why it cannot. */
export const decodeJsonMsgpack = (
  bytes: Uint8Array
): { readonly ok: true; readonly value: JsonValue } | { readonly ok: false; readonly error: string } => {
  const r = new MsgpackReader(bytes, 0, bytes.length, bytes.length)
  const value = readValue(r, 0)
  if (!r.ok) return { ok: false, error: `${r.failure}: ${r.detail}` }
  if (r.pos !== bytes.length) return { ok: false, error: `${bytes.length - r.pos} trailing bytes` }
  return { ok: true, value }
}
