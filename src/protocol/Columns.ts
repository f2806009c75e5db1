/**
 * The typed arrays behind member tables, broadcast queues, tier blocks and the directory.
 *
 * Two kinds of buffer, by size. Below `SHARED_BYTES`, an ordinary `ArrayBuffer` that grows by
 * `ArrayBuffer.prototype.transfer` (a `realloc`, in place when there is room) and is freed at
 * once when it is replaced or released: columns are made and dropped by the thousand while a
 * cluster forms, and left to the collector they piled up until a full collection came, with
 * malloc's heap keeping the peak. A stale view of such a column has length 0: it reads
 * `undefined` and ignores writes.
 *
 * From `SHARED_BYTES` on, a `SharedArrayBuffer`, though no other thread ever sees it. V8 counts
 * an ordinary buffer's memory as external and starts a full collection of its heap whenever
 * that count has grown by 64 MB since the last one. With ten thousand members in one process,
 * the columns grow by gigabytes, and those collections, which find nothing to free in them,
 * took a quarter of the time and more. A shared buffer is not counted; one left behind by
 * growth is freed by a collection the heap makes anyway. So only small columns count, and at
 * most `SHARED_BYTES` each.
 *
 * Up to 64 bytes, V8 keeps a typed array inside its heap, where it is cheapest to make.
 */

type Column = Int32Array | Uint32Array | Uint16Array | Float64Array

/** From this size on, a column sits on a shared buffer. */
export const SHARED_BYTES = 32 * 1024

const IN_HEAP_BYTES = 64

const buffer = (bytes: number): ArrayBuffer | SharedArrayBuffer =>
  bytes < SHARED_BYTES ? new ArrayBuffer(bytes) : new SharedArrayBuffer(bytes)

/** A zeroed column of `length` entries: in V8's heap up to `IN_HEAP_BYTES`, else on `buffer`. */
const column = <A extends Column>(
  Make: { new(length: number): A; new(buffer: ArrayBuffer | SharedArrayBuffer): A; readonly BYTES_PER_ELEMENT: number },
  length: number
): A => {
  const bytes = length * Make.BYTES_PER_ELEMENT
  return bytes <= IN_HEAP_BYTES ? new Make(length) : new Make(buffer(bytes))
}

export const int32Column = (length: number): Int32Array => column(Int32Array, length)

export const uint32Column = (length: number): Uint32Array => column(Uint32Array, length)

export const uint16Column = (length: number): Uint16Array => column(Uint16Array, length)

export const float64Column = (length: number): Float64Array => column(Float64Array, length)

/** `column` grown to `length` entries, the new ones set to `fill`; `column` must not be used after. */
export const grownColumn = <A extends Int32Array | Uint16Array | Float64Array>(
  column: A,
  length: number,
  fill = 0
): A => {
  const old = column.length
  const bytes = length * column.BYTES_PER_ELEMENT
  const make = column.constructor as new(buffer: ArrayBuffer | SharedArrayBuffer) => A
  let out: A
  if (bytes < SHARED_BYTES) {
    out = new make((column.buffer as ArrayBuffer).transfer(bytes))
  } else {
    out = new make(new SharedArrayBuffer(bytes))
    out.set(column as never)
    releaseColumn(column)
  }
  if (fill !== 0) out.fill(fill as never, old)
  return out
}

/**
 * Frees `column`'s memory now if it sits on an ordinary buffer outside V8's heap, leaving it
 * empty; a shared one waits for the collector.
 */
export const releaseColumn = (column: Column): void => {
  const buffer = column.buffer
  if (column.byteLength > IN_HEAP_BYTES && !(buffer instanceof SharedArrayBuffer)) buffer.transfer(0)
}
