/**
 * Stream framing of the compact format: `[body length: varint][type][fields…]`.
 * The length comes first so that a reader knows, from the first bytes, how much
 * to wait for (`NeedMore`) and can refuse an oversized or unknown frame before
 * buffering it.
 */
import type { DecodeReason, StreamRead } from "../Codec.ts"
import type { StreamMessage } from "../../protocol/Messages.ts"
import type { Interner } from "../Interner.ts"
import { isStreamType, readStreamMessage } from "./Decode.ts"
import type { EntryBytes } from "./EntryBytes.ts"
import { EncodedStream } from "./InMemory.ts"
import { writeStreamMessage } from "./Encode.ts"
import { MAX_STREAM_FRAME_BYTES } from "./Limits.ts"
import { asPlainBytes, decodeError, Reader, toDecodeError } from "./Reader.ts"
import { putVarint, varintSize, type Writer } from "./Writer.ts"

/** Room left in front of the body for the longest (5-byte) length prefix. */
const PREFIX_ROOM = 5

const NEED_MORE: StreamRead = { _tag: "NeedMore" }

const failed = (reason: DecodeReason, message: string): StreamRead => ({
  _tag: "Failed",
  error: decodeError(reason, message)
})

/**
 * Encodes `message` as one frame. The body is written after `PREFIX_ROOM`
 * bytes and the prefix just before it, so the frame is copied out only once.
 */
export const encodeStream = (w: Writer, message: StreamMessage, inMemory = false, entries?: EntryBytes): Uint8Array => {
  w.reset(PREFIX_ROOM)
  writeStreamMessage(w, message, entries)
  const length = w.pos - PREFIX_ROOM
  if (length > MAX_STREAM_FRAME_BYTES) {
    throw new RangeError(`compact codec: stream frame of ${length} bytes exceeds ${MAX_STREAM_FRAME_BYTES}`)
  }
  const start = PREFIX_ROOM - varintSize(length)
  putVarint(w.buf, start, length)
  return inMemory ? w.finishInto(start, (n) => new EncodedStream(n, message)) : w.finish(start)
}

/**
 * Decodes the first frame of `input`; bytes after it are left for the caller. Never throws.
 * With an `interner`, names and short byte fields are its shared copies. With `inMemory`, a
 * frame an in-memory codec built is read from what it carries (see `InMemory.ts`).
 */
export const decodeStream = (input: Uint8Array, interner?: Interner, inMemory = false): StreamRead => {
  // a whole frame an in-memory codec built, handed over as it was written
  if (inMemory && input instanceof EncodedStream) return { _tag: "Complete", message: input.message, consumed: input.length }
  try {
    const bytes = asPlainBytes(input)
    const n = bytes.length
    // The length prefix, read by hand: running out of bytes here means "wait", not "truncated".
    let length = 0
    let i = 0
    for (;;) {
      if (i >= n) return NEED_MORE
      const b = bytes[i]!
      if (i === 4) {
        if (b > 0x0f) return failed("Malformed", "frame length overflows uint32")
        length = (length >>> 0) + b * 0x10000000
        i++
        break
      }
      length |= (b & 0x7f) << (7 * i)
      i++
      if (b < 0x80) break
    }
    if (length === 0) return failed("Empty", "empty stream frame")
    if (length > MAX_STREAM_FRAME_BYTES) {
      return failed("TooLarge", `stream frame of ${length} bytes exceeds ${MAX_STREAM_FRAME_BYTES}`)
    }
    if (i < n && !isStreamType(bytes[i]!)) {
      return failed("UnknownType", `message type ${bytes[i]} is not valid on a stream`)
    }
    const end = i + length
    if (n < end) return NEED_MORE
    const r = new Reader(bytes, i, end, false, interner)
    const message = readStreamMessage(r)
    if (r.pos !== end) return failed("Malformed", `${end - r.pos} trailing bytes in ${message._tag} frame`)
    return { _tag: "Complete", message, consumed: end }
  } catch (e) {
    return { _tag: "Failed", error: toDecodeError(e) }
  }
}
