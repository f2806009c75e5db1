/**
 * Short strings and byte fields decoded from datagrams, interned: a cluster
 * gossips the same few thousand member names, addresses and version vectors
 * over and over, and handing out the copy decoded last time saves an
 * allocation per field, keeps the young generation quiet, and lets the member
 * table's name lookups compare a string with itself.
 *
 * Bounded: an open-addressed table that starts small and doubles up to
 * `maxSlots` (64 bytes of key room a slot: 1 MiB per table at the default
 * bound); once full, a new key takes the place of the one in its slot (the
 * overflow policy is eviction, counted in `evictions`). A value handed out is
 * shared and must never be written to.
 */

/** Longest field interned: names are mostly short; anything longer is decoded afresh. */
export const MAX_INTERNED_BYTES = 64
const PROBES = 4
const FIRST_SLOTS = 256
const DEFAULT_MAX_SLOTS = 16_384

/** FNV-1a over `[start, start + n)`. */
const hash = (buf: Uint8Array, start: number, n: number): number => {
  let h = 0x811c9dc5
  for (let i = start; i < start + n; i++) h = Math.imul(h ^ buf[i]!, 0x01000193)
  return h >>> 0
}

/**
 * One table from byte keys to values of type `V`. Keys live in one array, a fixed
 * `MAX_INTERNED_BYTES` region per slot, next to their hashes and lengths: a lookup
 * compares a hash, then bytes in one place, and touches no object but the value it returns.
 */
class Table<V> {
  private hashes: Int32Array
  /** Key length + 1 per slot; 0 for an empty slot. */
  private lengths: Uint8Array
  private keys: Uint8Array
  private values: Array<V | undefined>
  private filled = 0
  evictions = 0
  private readonly maxSlots: number

  constructor(maxSlots: number) {
    this.maxSlots = maxSlots
    this.hashes = new Int32Array(FIRST_SLOTS)
    this.lengths = new Uint8Array(FIRST_SLOTS)
    this.keys = new Uint8Array(FIRST_SLOTS * MAX_INTERNED_BYTES)
    this.values = new Array(FIRST_SLOTS)
  }

  get size(): number {
    return this.filled
  }

  /** The value interned for the bytes (at most `MAX_INTERNED_BYTES`), or one made by `make` and interned. */
  get(buf: Uint8Array, start: number, n: number, make: (key: Uint8Array) => V): V {
    const h = hash(buf, start, n) | 0
    let mask = this.hashes.length - 1
    for (let p = 0; p < PROBES; p++) {
      const i = (h + p) & mask
      const length = this.lengths[i]!
      if (length === 0) return this.put(i, h, buf, start, n, make)
      if (length === n + 1 && this.hashes[i] === h && this.sameKey(i, buf, start, n)) return this.values[i]!
    }
    if (this.filled * 2 >= this.hashes.length && this.hashes.length < this.maxSlots) {
      this.grow()
      mask = this.hashes.length - 1
      for (let p = 0; p < PROBES; p++) {
        const i = (h + p) & mask
        if (this.lengths[i] === 0) return this.put(i, h, buf, start, n, make)
      }
    }
    return this.put(h & mask, h, buf, start, n, make)
  }

  private sameKey(i: number, buf: Uint8Array, start: number, n: number): boolean {
    const keys = this.keys
    const at = i * MAX_INTERNED_BYTES
    for (let k = 0; k < n; k++) if (keys[at + k] !== buf[start + k]) return false
    return true
  }

  private put(i: number, h: number, buf: Uint8Array, start: number, n: number, make: (key: Uint8Array) => V): V {
    const value = make(buf.slice(start, start + n))
    if (this.lengths[i] === 0) this.filled++
    else this.evictions++
    this.hashes[i] = h
    this.lengths[i] = n + 1
    this.keys.set(buf.subarray(start, start + n), i * MAX_INTERNED_BYTES)
    this.values[i] = value
    return value
  }

  private grow(): void {
    const { hashes, lengths, keys, values } = this
    const size = hashes.length * 2
    this.hashes = new Int32Array(size)
    this.lengths = new Uint8Array(size)
    this.keys = new Uint8Array(size * MAX_INTERNED_BYTES)
    this.values = new Array(size)
    const mask = size - 1
    this.filled = 0
    for (let j = 0; j < hashes.length; j++) {
      if (lengths[j] === 0) continue
      for (let p = 0; p < PROBES; p++) {
        const i = (hashes[j]! + p) & mask
        if (this.lengths[i] !== 0) continue
        this.hashes[i] = hashes[j]!
        this.lengths[i] = lengths[j]!
        this.keys.set(keys.subarray(j * MAX_INTERNED_BYTES, (j + 1) * MAX_INTERNED_BYTES), i * MAX_INTERNED_BYTES)
        this.values[i] = values[j]
        this.filled++
        break
      }
    }
  }
}

const identity = (key: Uint8Array): Uint8Array => key

export class Interner {
  private readonly strings: Table<string>
  private readonly byteFields: Table<Uint8Array>

  constructor(maxSlots = DEFAULT_MAX_SLOTS) {
    this.strings = new Table(maxSlots)
    this.byteFields = new Table(maxSlots)
  }

  /** The string of UTF-8 bytes `[start, start + n)`, decoded by `decode` when not interned (it may throw). */
  string(buf: Uint8Array, start: number, n: number, decode: (key: Uint8Array) => string): string {
    return this.strings.get(buf, start, n, decode)
  }

  /** A shared copy of `[start, start + n)`. */
  bytes(buf: Uint8Array, start: number, n: number): Uint8Array {
    return this.byteFields.get(buf, start, n, identity)
  }

  /** Entries held and entries evicted so far, strings and byte fields together. */
  get stats(): { readonly size: number; readonly evictions: number } {
    return {
      size: this.strings.size + this.byteFields.size,
      evictions: this.strings.evictions + this.byteFields.evictions
    }
  }
}
