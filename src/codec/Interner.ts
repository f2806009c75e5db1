/**
 * Short strings and byte fields decoded from datagrams, interned: a cluster
 * gossips the same few thousand member names, addresses and version vectors
 * over and over, and handing out the copy decoded last time saves an
 * allocation per field, keeps the young generation quiet, and lets the member
 * table's name lookups compare a string with itself.
 *
 * Bounded: an open-addressed table that starts small and doubles up to
 * `maxSlots`; once full, a new key takes the place of the one in its slot (the
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

const sameKey = (key: Uint8Array, buf: Uint8Array, start: number, n: number): boolean => {
  if (key.length !== n) return false
  for (let i = 0; i < n; i++) if (key[i] !== buf[start + i]) return false
  return true
}

/** One table from byte keys to values of type `V`. */
class Table<V> {
  private keys: Array<Uint8Array | undefined>
  private values: Array<V | undefined>
  private filled = 0
  evictions = 0
  private readonly maxSlots: number

  constructor(maxSlots: number) {
    this.maxSlots = maxSlots
    this.keys = new Array(FIRST_SLOTS)
    this.values = new Array(FIRST_SLOTS)
  }

  get size(): number {
    return this.filled
  }

  /** The value interned for the bytes, or one made by `make` and interned. */
  get(buf: Uint8Array, start: number, n: number, make: (key: Uint8Array) => V): V {
    const h = hash(buf, start, n)
    let mask = this.keys.length - 1
    for (let p = 0; p < PROBES; p++) {
      const i = (h + p) & mask
      const key = this.keys[i]
      if (key === undefined) return this.put(i, buf, start, n, make)
      if (sameKey(key, buf, start, n)) return this.values[i]!
    }
    if (this.filled * 2 >= this.keys.length && this.keys.length < this.maxSlots) {
      this.grow()
      mask = this.keys.length - 1
      for (let p = 0; p < PROBES; p++) {
        const i = (h + p) & mask
        if (this.keys[i] === undefined) return this.put(i, buf, start, n, make)
      }
    }
    return this.put(h & mask, buf, start, n, make)
  }

  private put(i: number, buf: Uint8Array, start: number, n: number, make: (key: Uint8Array) => V): V {
    const key = buf.slice(start, start + n)
    const value = make(key)
    if (this.keys[i] === undefined) this.filled++
    else this.evictions++
    this.keys[i] = key
    this.values[i] = value
    return value
  }

  private grow(): void {
    const keys = this.keys
    const values = this.values
    this.keys = new Array(keys.length * 2)
    this.values = new Array(keys.length * 2)
    const mask = this.keys.length - 1
    this.filled = 0
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j]
      if (key === undefined) continue
      const h = hash(key, 0, key.length)
      for (let p = 0; p < PROBES; p++) {
        const i = (h + p) & mask
        if (this.keys[i] === undefined) {
          this.keys[i] = key
          this.values[i] = values[j]
          this.filled++
          break
        }
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
