/**
 * serf's bookkeeping for user events and queries, as plain synchronous data:
 * the Lamport clocks, and the recent-message buffers that decide whether an
 * event or a query is new (deliver and re-gossip it), a duplicate or too old
 * (drop it). The rules are serf's `handleUserEvent` and `handleQuery`.
 */

/** serf's `LamportClock`: starts at 0; `witness` moves past a value seen from another member. */
export class LamportClock {
  private counter: number

  constructor(start = 0) {
    this.counter = start
  }

  /** The current value. */
  time(): number {
    return this.counter
  }

  /** Ticks the clock and returns the new value. */
  increment(): number {
    return ++this.counter
  }

  /** Records a value seen elsewhere: the clock becomes at least one past it. */
  witness(value: number): void {
    if (Number.isSafeInteger(value) && value >= this.counter) this.counter = value + 1
  }
}

/** serf's default `EventBuffer` and `QueryBuffer` sizes. */
export const DEFAULT_BUFFER_SIZE = 512

/** Why `accept` refused a message, or `"new"`. */
export type Acceptance = "new" | "duplicate" | "old"

const same = (a: Uint8Array | null, b: Uint8Array | null): boolean => {
  const x = a ?? EMPTY
  const y = b ?? EMPTY
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}
const EMPTY = new Uint8Array(0)

interface EventSlot {
  ltime: number
  readonly events: Array<{ readonly name: string; readonly payload: Uint8Array | null }>
}

/**
 * The user events of the last `size` event-clock ticks. An event is new unless
 * an equal one (name and payload) is recorded at its LTime, or it is older than
 * what the buffer covers (serf logs those as "received old event").
 */
export class EventBuffer {
  private readonly slots: Array<EventSlot | undefined>
  /** Events before this LTime are ignored (serf's `eventMinTime`, raised when restoring a snapshot). */
  minTime = 0

  readonly size: number

  constructor(size = DEFAULT_BUFFER_SIZE) {
    this.size = size
    this.slots = new Array(size)
  }

  /** Witnesses `ltime` on `clock`, then records the event when it is new. */
  accept(clock: LamportClock, ltime: number, name: string, payload: Uint8Array | null): Acceptance {
    clock.witness(ltime)
    if (ltime < this.minTime) return "old"
    const now = clock.time()
    if (now > this.size && ltime < now - this.size) return "old"
    const index = ltime % this.size
    let slot = this.slots[index]
    if (slot !== undefined && slot.ltime === ltime) {
      if (slot.events.some((e) => e.name === name && same(e.payload, payload))) return "duplicate"
    } else {
      slot = { ltime, events: [] }
      this.slots[index] = slot
    }
    slot.events.push({ name, payload })
    return "new"
  }
}

interface QuerySlot {
  ltime: number
  readonly ids: Array<number>
}

/** The query ids of the last `size` query-clock ticks: a query is new unless its (LTime, ID) is recorded, or it is too old. */
export class QueryBuffer {
  private readonly slots: Array<QuerySlot | undefined>
  /** Queries before this LTime are ignored (serf's `queryMinTime`). */
  minTime = 0

  readonly size: number

  constructor(size = DEFAULT_BUFFER_SIZE) {
    this.size = size
    this.slots = new Array(size)
  }

  /** Witnesses `ltime` on `clock`, then records the query when it is new. */
  accept(clock: LamportClock, ltime: number, id: number): Acceptance {
    clock.witness(ltime)
    if (ltime < this.minTime) return "old"
    const now = clock.time()
    if (now > this.size && ltime < now - this.size) return "old"
    const index = ltime % this.size
    let slot = this.slots[index]
    if (slot !== undefined && slot.ltime === ltime) {
      if (slot.ids.includes(id)) return "duplicate"
    } else {
      slot = { ltime, ids: [] }
      this.slots[index] = slot
    }
    slot.ids.push(id)
    return "new"
  }
}
