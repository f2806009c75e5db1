/**
 * Append-only byte writer over one growable scratch buffer. A codec keeps one
 * and reuses it for every message: encoding is synchronous and never yields, so
 * no two encodes can interleave, and `finish` copies the bytes out before the
 * buffer is reused.
 *
 * Every write validates its value and throws `RangeError` for one the decoder
 * would reject (a caller bug), so that bad messages fail at the sender.
 */
import { MAX_STRING_BYTES } from "./Limits.ts"
import { utf8Length } from "../msgpack/Writer.ts"

const INITIAL_BYTES = 1024
/** After a big push/pull, give the memory back rather than keep it for every later ping. */
const RETAINED_BYTES = 64 * 1024

const utf8 = new TextEncoder()

/** Bytes a LEB128 varint of the uint32 `value` takes. */
export const varintSize = (value: number): number =>
  value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5

/** Writes the uint32 `value` as LEB128 at `buf[pos]` (room already ensured); returns the next position. */
export const putVarint = (buf: Uint8Array, pos: number, value: number): number => {
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80
    value >>>= 7
  }
  buf[pos++] = value
  return pos
}

const SHORT_COPY = 64

/**
 * Copies `src` into `dst` at `at`. Addresses, versions and most gossip parts are a few
 * bytes, which a loop copies faster than a call to `set` does.
 */
export const copyInto = (dst: Uint8Array, at: number, src: Uint8Array): void => {
  const n = src.length
  if (n <= SHORT_COPY) for (let i = 0; i < n; i++) dst[at + i] = src[i]!
  else dst.set(src, at)
}

/** Cursor over the reusable scratch buffer; each method appends one field. */
export class Writer {
  buf = new Uint8Array(INITIAL_BYTES)
  pos = 0
  /** The scratch kept between messages; a bigger one is dropped once its message is copied out. */
  private readonly retained: number

  /**
   * `retained`: the scratch size kept. One writer shared by a simulated network writes a state
   * of ten thousand members every few milliseconds; growing back to that size each time costs
   * more than keeping it.
   */
  constructor(retained = RETAINED_BYTES) {
    this.retained = retained
  }

  /** Starts a new message at `offset` (room left before it for a prefix). */
  reset(offset: number): void {
    this.pos = offset
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  /** A copy of `[start, pos)`, safe to keep after the scratch is reused. */
  finish(start: number): Uint8Array {
    const out = this.buf.slice(start, this.pos)
    this.reclaim()
    return out
  }

  /** As `finish`, into the array `make` returns for the byte count. */
  finishInto<T extends Uint8Array>(start: number, make: (length: number) => T): T {
    const out = make(this.pos - start)
    out.set(this.buf.subarray(start, this.pos))
    this.reclaim()
    return out
  }

  /** After a big push/pull, gives the memory back rather than keep it for every later ping. */
  private reclaim(): void {
    if (this.buf.length > this.retained) this.buf = new Uint8Array(INITIAL_BYTES)
  }

  u8(value: number): void {
    this.ensure(1)
    this.buf[this.pos++] = value
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0)
  }

  /** Unsigned LEB128; `value` must be a uint32. */
  varint(value: number): void {
    if (value >>> 0 !== value) throw new RangeError(`compact codec: ${value} is not a uint32`)
    this.ensure(5)
    this.pos = putVarint(this.buf, this.pos, value)
  }

  /** Varint `length + 1` then the bytes; a lone `0` is `null`, so nil and empty stay distinct. */
  bytes(value: Uint8Array | null): void {
    if (value === null) {
      this.u8(0)
      return
    }
    const n = value.length
    this.varint(n + 1)
    this.ensure(n)
    copyInto(this.buf, this.pos, value)
    this.pos += n
  }

  /** Varint byte length then UTF-8. */
  string(value: string): void {
    const n = value.length
    // Most names are ASCII: write them straight, one byte per code unit, and only
    // measure and `encodeInto` when a wider character turns up.
    if (n < 0x80) {
      this.ensure(1 + n)
      const buf = this.buf
      const start = this.pos
      let pos = start + 1
      let i = 0
      for (; i < n; i++) {
        const c = value.charCodeAt(i)
        if (c >= 0x80) break
        buf[pos++] = c
      }
      if (i === n) {
        buf[start] = n
        this.pos = pos
        return
      }
    }
    const len = utf8Length(value)
    if (len > MAX_STRING_BYTES) {
      throw new RangeError(`compact codec: string of ${len} bytes exceeds ${MAX_STRING_BYTES}`)
    }
    this.varint(len)
    this.ensure(len)
    utf8.encodeInto(value, this.buf.subarray(this.pos, this.pos + len))
    this.pos += len
  }
}
