/**
 * Bounds-checked reader over `[pos, end)` of a byte array. A failed read throws
 * a `ReadFailure`, which the packet and stream decoders catch at their boundary
 * and turn into a `DecodeError`; this keeps every field read a single call
 * instead of a checked result. `ReadFailure` is deliberately not an `Error`: it
 * is only thrown on bad input, and skipping the stack capture keeps garbage cheap.
 */
import { DecodeError, type DecodeReason } from "../Codec.ts"
import { type Interner, MAX_INTERNED_BYTES } from "../Interner.ts"
import { MAX_PORT, MAX_STRING_BYTES } from "./Limits.ts"

/** Shared by every empty field: an empty array costs as much to allocate as a small one. */
const EMPTY = new Uint8Array(0)

/** Why a read stopped; converted to `DecodeError` by the caller. */
export class ReadFailure {
  readonly reason: DecodeReason
  readonly message: string
  constructor(reason: DecodeReason, message: string) {
    this.reason = reason
    this.message = message
  }
}

/** Throws a `ReadFailure`; typed `never` so callers read as straight-line code. */
export const fail = (reason: DecodeReason, message: string): never => {
  throw new ReadFailure(reason, message)
}

/** A `DecodeError` for a failure found outside a `Reader` (framing). */
export const decodeError = (reason: DecodeReason, message: string): DecodeError => new DecodeError({ reason, message })

/** The public error for whatever a decode threw; anything not a `ReadFailure` is a bug surfaced as Malformed. */
export const toDecodeError = (e: unknown): DecodeError =>
  e instanceof ReadFailure ? decodeError(e.reason, e.message) : decodeError("Malformed", `compact codec: ${String(e)}`)

/**
 * A plain `Uint8Array` view of `bytes`. A Node `Buffer` is a subclass whose
 * `slice` does not copy; viewing it as a plain array makes `slice` copy and the
 * decoded byte fields plain `Uint8Array`s whatever the transport handed us.
 */
export const asPlainBytes = (bytes: Uint8Array): Uint8Array =>
  bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)

// `fatal` so that invalid UTF-8 is an error rather than silently altered names;
// `ignoreBOM` so that a leading U+FEFF is kept as part of the string.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * Cursor over one message; each method reads one field or throws `ReadFailure`.
 * With `views`, byte fields are views of the input (a datagram: small, and read
 * at once by the node, which copies what it keeps); otherwise, and always for
 * fields asked as `own`, they are copies. With an `Interner`, strings and short
 * byte fields not asked as `own` are its shared copies instead.
 */
export class Reader {
  buf: Uint8Array
  pos: number
  end: number
  private readonly views: boolean
  private readonly interner: Interner | undefined

  constructor(buf: Uint8Array, pos: number, end: number, views = false, interner?: Interner) {
    this.buf = buf
    this.pos = pos
    this.end = end
    this.views = views
    this.interner = interner
  }

  /** The same reader over another range: one reader serves every part of a packet. */
  reset(buf: Uint8Array, pos: number, end: number): this {
    this.buf = buf
    this.pos = pos
    this.end = end
    return this
  }

  get remaining(): number {
    return this.end - this.pos
  }

  u8(): number {
    if (this.pos >= this.end) return fail("Truncated", "unexpected end of message")
    return this.buf[this.pos++]!
  }

  bool(): boolean {
    const b = this.u8()
    if (b > 1) return fail("Malformed", `boolean byte ${b}`)
    return b === 1
  }

  /** Unsigned LEB128 of at most 5 bytes, holding a uint32. */
  varint(): number {
    const buf = this.buf
    let result = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= this.end) return fail("Truncated", "unexpected end of message in varint")
      const b = buf[this.pos++]!
      result |= (b & 0x7f) << shift
      if (b < 0x80) return result >>> 0
    }
    // Fifth byte: only its low four bits fit in 32 bits, and it must be the last.
    if (this.pos >= this.end) return fail("Truncated", "unexpected end of message in varint")
    const b = buf[this.pos++]!
    if (b > 0x0f) return fail("Malformed", "varint overflows uint32")
    return (result >>> 0) + b * 0x10000000
  }

  /** A port number: a varint no greater than 65535. */
  port(): number {
    const p = this.varint()
    if (p > MAX_PORT) return fail("Malformed", `port ${p} out of range`)
    return p
  }

  /**
   * Exactly `n` bytes: an interned copy when short, else a view; with `own` (or without
   * `views`) a copy of its own that does not pin the input.
   */
  take(n: number, own = false): Uint8Array {
    if (n > this.end - this.pos) {
      return fail("Truncated", `field of ${n} bytes runs past the end (${this.end - this.pos} left)`)
    }
    if (n === 0) return EMPTY
    const start = this.pos
    this.pos += n
    if (own) return this.buf.slice(start, start + n)
    if (this.interner !== undefined && n <= MAX_INTERNED_BYTES) return this.interner.bytes(this.buf, start, n)
    return this.views ? this.buf.subarray(start, start + n) : this.buf.slice(start, start + n)
  }

  /** A byte field: varint `length + 1`, 0 for `null`. */
  bytes(own = false): Uint8Array | null {
    const n = this.varint()
    return n === 0 ? null : this.take(n - 1, own)
  }

  /** A byte field that may not be `null`. */
  requiredBytes(field: string, own = false): Uint8Array {
    const b = this.bytes(own)
    return b === null ? fail("Malformed", `${field} is null`) : b
  }

  /** Varint byte length then UTF-8 (at most `MAX_STRING_BYTES`). */
  string(): string {
    const n = this.varint()
    if (n === 0) return ""
    if (n > MAX_STRING_BYTES) return fail("TooLarge", `string of ${n} bytes exceeds ${MAX_STRING_BYTES}`)
    if (n > this.end - this.pos) {
      return fail("Truncated", `string of ${n} bytes runs past the end (${this.end - this.pos} left)`)
    }
    const start = this.pos
    this.pos += n
    if (this.interner !== undefined && n <= MAX_INTERNED_BYTES) return this.interner.string(this.buf, start, n, decodeKey)
    return decodeText(this.buf, start, n)
  }
}

/** UTF-8 text of `[start, start + n)`; invalid UTF-8 is a `ReadFailure`. */
const decodeText = (buf: Uint8Array, start: number, n: number): string => {
  const ascii = asciiString(buf, start, n)
  if (ascii !== undefined) return ascii
  try {
    return utf8.decode(buf.subarray(start, start + n))
  } catch {
    return fail("Malformed", "string is not valid UTF-8")
  }
}

const decodeKey = (key: Uint8Array): string => decodeText(key, 0, key.length)

/** Short ASCII text (member names, mostly) without a call into the UTF-8 decoder. */
const asciiString = (buf: Uint8Array, start: number, n: number): string | undefined => {
  if (n > 64) return undefined
  let out = ""
  for (let i = start; i < start + n; i++) {
    const c = buf[i]!
    if (c >= 0x80) return undefined
    out += String.fromCharCode(c)
  }
  return out
}
