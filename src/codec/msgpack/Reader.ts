/**
 * A bounds-checked msgpack reader for untrusted bytes. It accepts everything
 * go-msgpack 0.5.5 accepts into memberlist's field types:
 * structs as maps (or arrays in declaration order), strings from the whole str
 * family, byte slices from str, bin or arrays of small ints, integers from any
 * signed or unsigned form (newer memberlist writes signed), nil as the zero value.
 *
 * It never throws and never allocates from a length it has not checked: a
 * problem sets `failure` once (the first one wins), moves the cursor to the
 * end so every later read fails fast, and reads return a harmless default.
 * Callers check `ok` after a value. `failure` tells a stream reader whether
 * more bytes could help (`Truncated`) or not (`Malformed`, `TooLarge`), and
 * `pos` is how much a complete value consumed.
 */

/** Why a read stopped. */
export type ReadFailure = "Truncated" | "Malformed" | "TooLarge"

/** Nesting deeper than this is refused (skipping unknown values recurses). */
export const MAX_DEPTH = 32

const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true })

/** UTF-8 text of `buf[start, end)`; short ASCII (every memberlist name and key in practice) skips TextDecoder. */
export const decodeUtf8 = (buf: Uint8Array, start: number, end: number): string => {
  if (end - start <= 48) {
    let s = ""
    for (let i = start; i < end; i++) {
      const c = buf[i]!
      if (c >= 0x80) return textDecoder.decode(buf.subarray(start, end))
      s += String.fromCharCode(c)
    }
    return s
  }
  return textDecoder.decode(buf.subarray(start, end))
}

/** Field names of one struct, for matching map keys without decoding them to strings. */
export interface KeyTable {
  readonly names: ReadonlyArray<string>
  readonly bytes: ReadonlyArray<Uint8Array>
}

/** Builds a key table; a field's index in `names` is what `field` returns for it. */
export const keyTable = (names: ReadonlyArray<string>): KeyTable => ({
  names,
  bytes: names.map((n) => new TextEncoder().encode(n))
})

/** Sequential reader over `buf[start, end)`. */
export class MsgpackReader {
  buf: Uint8Array
  pos: number
  end: number
  /** Longest string, byte slice, array or map accepted (checked before waiting for or allocating it). */
  maxLength: number
  failure: ReadFailure | undefined = undefined
  /** What went wrong, for the error message. */
  detail = ""
  /** Set by `readStructHeader`: fields come in declaration order, not as a map. */
  structIsArray = false
  private view: DataView | undefined = undefined
  private viewOf: Uint8Array | undefined = undefined

  constructor(buf: Uint8Array, start = 0, end = buf.length, maxLength = Number.MAX_SAFE_INTEGER) {
    this.buf = buf
    this.pos = start
    this.end = end
    this.maxLength = maxLength
  }

  /** Points the reader at new bytes and clears any failure, so one reader serves many messages. */
  reset(buf: Uint8Array, start = 0, end = buf.length, maxLength = Number.MAX_SAFE_INTEGER): this {
    this.buf = buf
    this.pos = start
    this.end = end
    this.maxLength = maxLength
    this.failure = undefined
    this.detail = ""
    this.structIsArray = false
    this.arrayBytes = undefined
    return this
  }

  /** True while nothing has gone wrong. */
  get ok(): boolean {
    return this.failure === undefined
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos
  }

  /** Records the first failure and stops further reading. */
  fail(kind: ReadFailure, detail: string): void {
    if (this.failure === undefined) {
      this.failure = kind
      this.detail = detail
    }
    this.pos = this.end
  }

  private need(n: number): boolean {
    if (this.end - this.pos >= n) return true
    this.fail("Truncated", "unexpected end of data")
    return false
  }

  /** A declared byte length: within the limit and present. */
  private checkLength(len: number): boolean {
    if (len > this.maxLength) {
      this.fail("TooLarge", `length ${len} exceeds limit ${this.maxLength}`)
      return false
    }
    return this.need(len)
  }

  /** A declared element count: within the limit and able to fit in what is left. */
  private checkCount(count: number, minBytesEach: number): boolean {
    if (count > this.maxLength) {
      this.fail("TooLarge", `count ${count} exceeds limit ${this.maxLength}`)
      return false
    }
    if (count * minBytesEach > this.end - this.pos) {
      this.fail("Truncated", "unexpected end of data")
      return false
    }
    return true
  }

  private u8(): number {
    return this.buf[this.pos++]!
  }

  private u16(): number {
    const b = this.buf
    const p = this.pos
    this.pos = p + 2
    return (b[p]! << 8) | b[p + 1]!
  }

  private u32(): number {
    const b = this.buf
    const p = this.pos
    this.pos = p + 4
    return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
  }

  private dataView(): DataView {
    if (this.view === undefined || this.viewOf !== this.buf) {
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
      this.viewOf = this.buf
    }
    return this.view
  }

  /** The type byte of the next value, or -1 at the end (does not consume). */
  peek(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1
  }

  /** Consumes a nil if one is next. */
  tryNil(): boolean {
    if (this.pos < this.end && this.buf[this.pos] === 0xc0) {
      this.pos++
      return true
    }
    return false
  }

  /**
   * Any msgpack integer as a number; ±Infinity for 64-bit values beyond the
   * safe range (they then fail every range check), NaN when not an integer.
   */
  private readInteger(): number {
    if (!this.need(1)) return 0
    const b = this.u8()
    if (b <= 0x7f) return b
    if (b >= 0xe0) return b - 0x100
    switch (b) {
      case 0xc0:
        return 0
      case 0xcc:
        return this.need(1) ? this.u8() : 0
      case 0xcd:
        return this.need(2) ? this.u16() : 0
      case 0xce:
        return this.need(4) ? this.u32() : 0
      case 0xcf: {
        if (!this.need(8)) return 0
        const hi = this.u32()
        const lo = this.u32()
        return hi >= 0x200000 ? Infinity : hi * 0x100000000 + lo
      }
      case 0xd0:
        return this.need(1) ? (this.u8() << 24) >> 24 : 0
      case 0xd1:
        return this.need(2) ? (this.u16() << 16) >> 16 : 0
      case 0xd2:
        return this.need(4) ? this.u32() | 0 : 0
      case 0xd3: {
        if (!this.need(8)) return 0
        const hi = this.u32() | 0
        const lo = this.u32()
        if (hi >= 0x200000) return Infinity
        if (hi < -0x200000) return -Infinity
        return hi * 0x100000000 + lo
      }
      default:
        this.pos--
        this.fail("Malformed", `expected an integer, found 0x${b.toString(16)}`)
        return NaN
    }
  }

  /** An unsigned field of at most `max` (nil → 0; a negative or larger value is an error, as in Go). */
  readUint(max: number): number {
    const v = this.readInteger()
    if (v >= 0 && v <= max) return v
    if (this.ok) this.fail("Malformed", `integer ${v} out of range [0, ${max}]`)
    return 0
  }

  /** A signed field within `[min, max]`. */
  readInt(min: number, max: number): number {
    const v = this.readInteger()
    if (v >= min && v <= max) return v
    if (this.ok) this.fail("Malformed", `integer ${v} out of range [${min}, ${max}]`)
    return 0
  }

  /** A bool field: c2/c3, the fixints 0/1, or nil (false), as go-msgpack accepts. */
  readBool(): boolean {
    if (!this.need(1)) return false
    const b = this.u8()
    if (b === 0xc3 || b === 0x01) return true
    if (b === 0xc2 || b === 0x00 || b === 0xc0) return false
    this.pos--
    this.fail("Malformed", `expected a bool, found 0x${b.toString(16)}`)
    return false
  }

  /** A float64 field (float32 and integers accepted). */
  readFloat(): number {
    if (!this.need(1)) return 0
    const b = this.buf[this.pos]!
    if (b === 0xcb) {
      if (!this.need(9)) return 0
      const v = this.dataView().getFloat64(this.pos + 1)
      this.pos += 9
      return v
    }
    if (b === 0xca) {
      if (!this.need(5)) return 0
      const v = this.dataView().getFloat32(this.pos + 1)
      this.pos += 5
      return v
    }
    const v = this.readInteger()
    return Number.isFinite(v) ? v : 0
  }

  /** Length of a str-family value (fixstr, str8, str16, str32), cursor on its data; -1 for nil. */
  private strHeader(what: string): number {
    if (!this.need(1)) return -1
    const b = this.buf[this.pos]!
    let len: number
    if ((b & 0xe0) === 0xa0) {
      this.pos++
      len = b & 0x1f
    } else if (b === 0xd9) {
      if (!this.need(2)) return -1
      this.pos++
      len = this.u8()
    } else if (b === 0xda) {
      if (!this.need(3)) return -1
      this.pos++
      len = this.u16()
    } else if (b === 0xdb) {
      if (!this.need(5)) return -1
      this.pos++
      len = this.u32()
    } else if (b === 0xc0) {
      this.pos++
      return -1
    } else {
      this.fail("Malformed", `expected ${what}, found 0x${b.toString(16)}`)
      return -1
    }
    return this.checkLength(len) ? len : -1
  }

  /** A string field (str family only, as Go's decoder; nil → ""). */
  readString(): string {
    const len = this.strHeader("a string")
    if (len < 0) return ""
    const start = this.pos
    this.pos += len
    return decodeUtf8(this.buf, start, start + len)
  }

  /**
   * A `[]byte` field as a fresh copy (nil → null). Accepts the str family,
   * bin8/16/32 and an array of ints 0..255, like go-msgpack.
   */
  readBytes(): Uint8Array | null {
    const range = this.readBytesRange()
    if (range < 0) return null
    const out = new Uint8Array(range)
    if (this.arrayBytes !== undefined) {
      out.set(this.arrayBytes)
      this.arrayBytes = undefined
    } else out.set(this.buf.subarray(this.pos - range, this.pos))
    return out
  }

  /**
   * A `[]byte` field as a view into the input (no copy; for data that is
   * consumed at once, like a compressed buffer). nil → null.
   */
  readBytesView(): Uint8Array | null {
    const range = this.readBytesRange()
    if (range < 0) return null
    if (this.arrayBytes !== undefined) {
      const a = this.arrayBytes
      this.arrayBytes = undefined
      return a
    }
    return this.buf.subarray(this.pos - range, this.pos)
  }

  /** Set when a byte slice came as an array of ints (it is not contiguous in the input). */
  private arrayBytes: Uint8Array | undefined = undefined

  /** Consumes a byte-slice value; returns its length (data ends at `pos`), -1 for nil or failure. */
  private readBytesRange(): number {
    if (!this.need(1)) return -1
    const b = this.buf[this.pos]!
    let len: number
    if ((b & 0xe0) === 0xa0 || b === 0xd9 || b === 0xda || b === 0xdb || b === 0xc0) {
      len = this.strHeader("a byte slice")
      if (len < 0) return -1
    } else if (b === 0xc4 || b === 0xc5 || b === 0xc6) {
      const headerLen = b === 0xc4 ? 2 : b === 0xc5 ? 3 : 5
      if (!this.need(headerLen)) return -1
      this.pos++
      len = b === 0xc4 ? this.u8() : b === 0xc5 ? this.u16() : this.u32()
      if (!this.checkLength(len)) return -1
    } else if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
      const count = this.readArrayHeader()
      if (!this.ok) return -1
      const out = new Uint8Array(count)
      for (let i = 0; i < count && this.ok; i++) out[i] = this.readUint(255)
      if (!this.ok) return -1
      this.arrayBytes = out
      return count
    } else {
      this.fail("Malformed", `expected a byte slice, found 0x${b.toString(16)}`)
      return -1
    }
    this.pos += len
    return len
  }

  /**
   * Header of a struct: a map (fields by name) or an array (fields in Go
   * declaration order, `structIsArray`); nil is the zero struct (0 fields).
   */
  readStructHeader(): number {
    if (!this.need(1)) return 0
    const b = this.buf[this.pos]!
    if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
      this.structIsArray = true
      return this.readArrayHeader()
    }
    this.structIsArray = false
    return this.readMapHeader()
  }

  /** Number of entries of a map (nil → 0). */
  readMapHeader(): number {
    if (!this.need(1)) return 0
    const b = this.u8()
    let n: number
    if ((b & 0xf0) === 0x80) n = b & 0x0f
    else if (b === 0xde) n = this.need(2) ? this.u16() : 0
    else if (b === 0xdf) n = this.need(4) ? this.u32() : 0
    else if (b === 0xc0) return 0
    else {
      this.pos--
      this.fail("Malformed", `expected a map, found 0x${b.toString(16)}`)
      return 0
    }
    return this.checkCount(n, 2) ? n : 0
  }

  /** Number of elements of an array (nil → 0). */
  readArrayHeader(): number {
    if (!this.need(1)) return 0
    const b = this.u8()
    let n: number
    if ((b & 0xf0) === 0x90) n = b & 0x0f
    else if (b === 0xdc) n = this.need(2) ? this.u16() : 0
    else if (b === 0xdd) n = this.need(4) ? this.u32() : 0
    else if (b === 0xc0) return 0
    else {
      this.pos--
      this.fail("Malformed", `expected an array, found 0x${b.toString(16)}`)
      return 0
    }
    return this.checkCount(n, 1) ? n : 0
  }

  /** Reads a map key (str family only, as Go requires) and returns its index in `table`, or -1. */
  readKey(table: KeyTable): number {
    if (this.peek() === 0xc0) {
      this.fail("Malformed", "nil map key")
      return -1
    }
    const len = this.strHeader("a string key")
    if (len < 0) return -1
    const start = this.pos
    this.pos += len
    const buf = this.buf
    const keys = table.bytes
    outer: for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!
      if (key.length !== len) continue
      for (let i = 0; i < len; i++) if (buf[start + i] !== key[i]) continue outer
      return k
    }
    return -1
  }

  /**
   * The field index of the `i`-th entry of a struct: from the key for a map,
   * from `declOrder` (array position → key index) for an array; -1 = unknown.
   */
  field(table: KeyTable, declOrder: ReadonlyArray<number>, i: number): number {
    if (this.structIsArray) return i < declOrder.length ? declOrder[i]! : -1
    return this.readKey(table)
  }

  /** Skips one value of any type (unknown fields), with a nesting limit. */
  skip(): void {
    this.skipAt(0)
  }

  private skipBytes(n: number): void {
    if (this.checkLength(n)) this.pos += n
  }

  private skipAt(depth: number): void {
    if (depth > MAX_DEPTH) {
      this.fail("Malformed", "nesting too deep")
      return
    }
    if (!this.need(1)) return
    const b = this.u8()
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return
    if ((b & 0xe0) === 0xa0) return this.skipBytes(b & 0x1f)
    if ((b & 0xf0) === 0x80 || b === 0xde || b === 0xdf) {
      this.pos--
      const n = this.readMapHeader()
      for (let i = 0; i < n * 2 && this.ok; i++) this.skipAt(depth + 1)
      return
    }
    if ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd) {
      this.pos--
      const n = this.readArrayHeader()
      for (let i = 0; i < n && this.ok; i++) this.skipAt(depth + 1)
      return
    }
    switch (b) {
      case 0xcc:
      case 0xd0:
        return this.skipBytes(1)
      case 0xcd:
      case 0xd1:
        return this.skipBytes(2)
      case 0xca:
      case 0xce:
      case 0xd2:
        return this.skipBytes(4)
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return this.skipBytes(8)
      case 0xd4:
        return this.skipBytes(2)
      case 0xd5:
        return this.skipBytes(3)
      case 0xd6:
        return this.skipBytes(5)
      case 0xd7:
        return this.skipBytes(9)
      case 0xd8:
        return this.skipBytes(17)
      case 0xc4:
      case 0xd9:
        if (this.need(1)) this.skipBytes(this.u8())
        return
      case 0xc5:
      case 0xda:
        if (this.need(2)) this.skipBytes(this.u16())
        return
      case 0xc6:
      case 0xdb:
        if (this.need(4)) this.skipBytes(this.u32())
        return
      case 0xc7:
        if (this.need(2)) this.skipBytes(this.u8() + 1)
        return
      case 0xc8:
        if (this.need(3)) this.skipBytes(this.u16() + 1)
        return
      case 0xc9:
        if (this.need(5)) this.skipBytes(this.u32() + 1)
        return
      default:
        this.pos--
        this.fail("Malformed", `invalid type byte 0x${b.toString(16)}`)
    }
  }
}
