/**
 * The typed arrays behind member tables, broadcast queues, tier blocks and the directory.
 *
 * A column grows by `ArrayBuffer.prototype.transfer`: its memory moves to a buffer of the new
 * length (a `realloc`, in place when there is room) and the old buffer is detached, which
 * frees its memory at once. A queue that empties frees its columns the same way
 * (`releaseColumn`). Columns are made and dropped by the thousand while a cluster forms; left
 * to the collector, they piled up until a full collection came, and malloc's heap kept the
 * peak. A stale view of a grown or released column has length 0: it reads `undefined` and
 * ignores writes, so code that keeps one fails loudly rather than reading old data.
 *
 * V8 counts these buffers as external memory and starts a full collection whenever that
 * count has grown by 64 MB since the last one. Since growth frees the old buffer, only the
 * columns' net growth counts.
 */

type Column = Int32Array | Uint32Array | Uint16Array | Float64Array

export const int32Column = (length: number): Int32Array => new Int32Array(length)

export const uint32Column = (length: number): Uint32Array => new Uint32Array(length)

export const uint16Column = (length: number): Uint16Array => new Uint16Array(length)

export const float64Column = (length: number): Float64Array => new Float64Array(length)

/** `column` grown to `length` entries, the new ones set to `fill`; `column` is left empty. */
export const grownColumn = <A extends Int32Array | Uint16Array | Float64Array>(
  column: A,
  length: number,
  fill = 0
): A => {
  const old = column.length
  const make = column.constructor as new(buffer: ArrayBuffer) => A
  const out = new make((column.buffer as ArrayBuffer).transfer(length * column.BYTES_PER_ELEMENT))
  if (fill !== 0) out.fill(fill as never, old)
  return out
}

/**
 * Frees `column`'s memory now; it is left empty. One of 64 bytes or less lives inside V8's
 * heap (the collector frees it cheaply) and is left as it is.
 */
export const releaseColumn = (column: Column): void => {
  if (column.byteLength > 64) (column.buffer as ArrayBuffer).transfer(0)
}
