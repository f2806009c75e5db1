/**
 * The typed arrays behind member tables, broadcast queues, tier blocks and the directory.
 *
 * They sit on `SharedArrayBuffer`s, though no other thread ever sees them. V8 counts the
 * memory of an ordinary `ArrayBuffer` as external to its heap and starts a full collection of
 * that heap whenever the count has grown by 64 MB since the last one. Columns live as long as
 * their node, hold no references and grow by copies: with ten thousand members in one process
 * they grow by gigabytes, and those collections, which find nothing to free in them, took a
 * quarter of the time. A shared buffer's memory is not counted; columns left behind by growth
 * are freed by the collections the heap makes anyway.
 *
 * Up to `IN_HEAP_BYTES`, a plain typed array: V8 keeps one that small inside its heap, where
 * it costs a sixth of a shared buffer to make (an empty queue's columns come and go).
 */

const IN_HEAP_BYTES = 64

export const int32Column = (length: number): Int32Array =>
  length * 4 <= IN_HEAP_BYTES ? new Int32Array(length) : new Int32Array(new SharedArrayBuffer(length * 4))

export const uint32Column = (length: number): Uint32Array =>
  length * 4 <= IN_HEAP_BYTES ? new Uint32Array(length) : new Uint32Array(new SharedArrayBuffer(length * 4))

export const uint16Column = (length: number): Uint16Array =>
  length * 2 <= IN_HEAP_BYTES ? new Uint16Array(length) : new Uint16Array(new SharedArrayBuffer(length * 2))

export const float64Column = (length: number): Float64Array =>
  length * 8 <= IN_HEAP_BYTES ? new Float64Array(length) : new Float64Array(new SharedArrayBuffer(length * 8))

/** A column of `length` made by `make` (one of the above), holding `column`'s entries first. */
export const grownColumn = <A extends Int32Array | Uint16Array | Float64Array>(
  column: A,
  length: number,
  make: (length: number) => A
): A => {
  const out = make(length)
  out.set(column as never)
  return out
}
