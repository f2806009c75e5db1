/**
 * The bytes of the push/pull entries of digested states (`StateDigest.ts`), kept by announcement:
 * nodes sharing a directory send states that list the same ten thousand announcements again and
 * again, so an in-memory codec writes each entry once and then copies it from one slab. An
 * entry's bytes are its head (name, address, port, metadata), then its incarnation and state,
 * which are written each time, then its tail (version vector). What is kept depends only on the
 * announcement id and its generation, which together always name the same announcement.
 *
 * Bounded: the slab doubles up to `MAX_SLAB_BYTES`; when it is full, everything kept is dropped
 * and written again as it comes (the directory's records come and go, so some bytes are dead).
 */
import type { PushNodeState } from "../../protocol/Messages.ts"
import type { StateDigest } from "../../protocol/StateDigest.ts"
import { ANNOUNCEMENT, GENERATION, INCARNATION, STATE, WORDS } from "../../protocol/StateDigest.ts"
import { pushHead, pushProgress, pushTail } from "./Encode.ts"
import { MAX_WIRE_STATE } from "./Limits.ts"
import { putVarint, type Writer } from "./Writer.ts"

const FIRST_SLAB_BYTES = 64 * 1024
const MAX_SLAB_BYTES = 16 * 1024 * 1024
/** Room for the incarnation (a uint32 varint) and the state byte. */
const PROGRESS_BYTES = 6

export class EntryBytes {
  /** The directory whose ids index what is kept. */
  private directory: object | undefined = undefined
  private slab = new Uint8Array(FIRST_SLAB_BYTES)
  private used = 0
  /** Per announcement id: where its bytes start in the slab, plus one (0: none kept). */
  private at = new Int32Array(0)
  private generation = new Uint32Array(0)
  private head = new Int32Array(0)
  private tail = new Int32Array(0)

  /** Writes `nodes`, whose ids `digest` holds, copying what is kept and keeping what is not. */
  write(w: Writer, nodes: ReadonlyArray<PushNodeState>, digest: StateDigest): void {
    if (digest.directory !== this.directory) {
      this.directory = digest.directory
      this.at.fill(0)
    }
    const words = digest.words
    for (let i = 0, k = 0; i < nodes.length; i++, k += WORDS) {
      const id = words[k + ANNOUNCEMENT]!
      const generation = words[k + GENERATION]!
      const incarnation = words[k + INCARNATION]!
      const state = words[k + STATE]!
      const at = id < this.at.length ? this.at[id]! - 1 : -1
      if (at >= 0 && this.generation[id] === generation) {
        if (state > MAX_WIRE_STATE) throw new RangeError(`compact codec: node state ${state} out of range`)
        const head = this.head[id]!
        const tail = this.tail[id]!
        w.ensure(head + PROGRESS_BYTES + tail)
        const buf = w.buf
        let pos = w.pos
        copyRange(buf, pos, this.slab, at, head)
        // a digest's incarnation is a uint32 already
        pos = putVarint(buf, pos + head, incarnation)
        buf[pos++] = state
        copyRange(buf, pos, this.slab, at + head, tail)
        w.pos = pos + tail
        continue
      }
      const n = nodes[i]!
      const start = w.pos
      pushHead(w, n)
      const headEnd = w.pos
      pushProgress(w, incarnation, state)
      const tailStart = w.pos
      pushTail(w, n)
      this.keep(id, generation, w.buf, start, headEnd - start, tailStart, w.pos - tailStart)
    }
  }

  private keep(id: number, generation: number, buf: Uint8Array, head: number, headLength: number, tail: number, tailLength: number): void {
    const length = headLength + tailLength
    if (this.used + length > this.slab.length) {
      if (length * 4 > MAX_SLAB_BYTES) return
      // start over, in a bigger slab while the one before was too small
      let size = this.slab.length * 2
      while (size < length * 2) size *= 2
      this.slab = new Uint8Array(Math.min(MAX_SLAB_BYTES, size))
      this.used = 0
      this.at.fill(0)
    }
    if (id >= this.at.length) this.grow(id + 1)
    const at = this.used
    copyRange(this.slab, at, buf, head, headLength)
    copyRange(this.slab, at + headLength, buf, tail, tailLength)
    this.used += length
    this.at[id] = at + 1
    this.generation[id] = generation
    this.head[id] = headLength
    this.tail[id] = tailLength
  }

  private grow(min: number): void {
    const size = Math.max(min, Math.ceil(this.at.length * 1.5), 64)
    const grown = <A extends Int32Array | Uint32Array>(column: A, make: (n: number) => A): A => {
      const out = make(size)
      out.set(column as never)
      return out
    }
    this.at = grown(this.at, (n) => new Int32Array(n))
    this.generation = grown(this.generation, (n) => new Uint32Array(n))
    this.head = grown(this.head, (n) => new Int32Array(n))
    this.tail = grown(this.tail, (n) => new Int32Array(n))
  }
}

/** Copies `n` bytes of `src` from `from` into `dst` at `to`: entries are a few dozen bytes, which a loop copies faster than `set`. */
const copyRange = (dst: Uint8Array, to: number, src: Uint8Array, from: number, n: number): void => {
  if (n > 64) dst.set(src.subarray(from, from + n), to)
  else for (let i = 0; i < n; i++) dst[to + i] = src[from + i]!
}
