/**
 * The member table of one node, stored column by column: one typed array per
 * field, one slot per member, the name and what the member announces kept as
 * ids into a `Directory`. About 50 bytes a member, whatever the names and
 * metadata, and nothing for the garbage collector to trace.
 *
 * Slots are kept in probe order (memberlist's shuffled `nodes` slice); a second
 * index lists the names, sorted when the whole table is read after a change
 * (one sort per publication, not a shift per join). Member snapshots are built
 * on demand, and cached once the table has been published. Plain data, no
 * I/O; one owner mutates it.
 */
import type { Member } from "../Member.ts"
import { stateFromWire } from "../Member.ts"
import type { Announcement, Directory } from "./Directory.ts"
import type { Alive } from "./Messages.ts"
import { WireState } from "./Messages.ts"

const grow = <A extends Int32Array | Uint32Array | Uint8Array | Float64Array>(a: A, size: number, make: (n: number) => A): A => {
  const out = make(size)
  out.set(a as never)
  return out
}

export class MemberTable {
  private readonly directory: Directory
  private count = 0
  private ids = new Int32Array(8)
  private announcements = new Int32Array(8)
  /** Each member's port, and its IPv4 address as a number (-1 for other addresses): an address check reads no object. */
  private ports = new Int32Array(8)
  private ipv4s = new Float64Array(8)
  private incarnations = new Uint32Array(8)
  private states = new Uint8Array(8)
  private changes = new Float64Array(8)
  /** Name ids, in name order while `ordered`: sorted when the table is next read whole, not per insertion. */
  private order = new Int32Array(8)
  private ordered = true
  /** The slot of each name id (indexed by directory id), -1 when absent. */
  private slots = new Int32Array(0)
  /** When a push/pull last showed a dead member alive elsewhere, by name id (rare, so sparse). */
  private readonly contacted = new Map<number, number>()
  /** Snapshots by slot, kept only once the whole table has been asked for. */
  private snapshots: Array<Member | undefined> | undefined = undefined
  /** Bumped by every change; readers compare it to know whether to publish. */
  private version = 0

  constructor(directory: Directory) {
    this.directory = directory
  }

  /** Entries, dead and left ones included until reaped. */
  get size(): number {
    return this.count
  }

  /** Changes so far: the table differs from what was published when this moved. */
  get changeCount(): number {
    return this.version
  }

  /** The slot of `name`, or -1. */
  slotOf(name: string): number {
    const id = this.directory.idOf(name)
    return id < 0 || id >= this.slots.length ? -1 : this.slots[id]!
  }

  name(slot: number): string {
    return this.directory.name(this.ids[slot]!)
  }

  nameId(slot: number): number {
    return this.ids[slot]!
  }

  announcement(slot: number): Announcement {
    return this.directory.announcement(this.announcements[slot]!)
  }

  announcementId(slot: number): number {
    return this.announcements[slot]!
  }

  incarnation(slot: number): number {
    return this.incarnations[slot]!
  }

  /** The state, numbered as on the wire (`WireState`). */
  state(slot: number): WireState {
    return this.states[slot]! as WireState
  }

  stateChange(slot: number): number {
    return this.changes[slot]!
  }

  deadOrLeft(slot: number): boolean {
    return this.states[slot]! >= WireState.dead
  }

  /** Whether the member is announced at `addr`:`port`. */
  sameAddress(slot: number, addr: Uint8Array, port: number): boolean {
    if (this.ports[slot] !== port) return false
    const v4 = this.ipv4s[slot]!
    if (v4 >= 0) return addr.length === 4 && v4 === ipv4Of(addr)
    const known = this.announcement(slot).addr
    if (known.length !== addr.length) return false
    for (let i = 0; i < addr.length; i++) if (known[i] !== addr[i]) return false
    return true
  }

  /** The highest protocol version the member speaks. */
  pMax(slot: number): number {
    return this.announcement(slot).vsn[1]!
  }

  contactedAt(slot: number): number {
    return this.contacted.get(this.ids[slot]!) ?? Number.NEGATIVE_INFINITY
  }

  /**
   * Appends `alive.node` (not yet in the table) in the last slot, announcing what `alive`
   * announces; returns the slot.
   */
  add(alive: Alive, incarnation: number, state: WireState, stateChange: number): number {
    const id = this.directory.retainName(alive.node)
    const slot = this.count
    if (slot === this.ids.length) this.growSlots()
    if (id >= this.slots.length) this.growIndex(this.directory.nameCapacity)
    this.ids[slot] = id
    this.announcements[slot] = this.directory.retainAnnouncement(id, alive)
    this.noteAddress(slot, alive)
    this.incarnations[slot] = incarnation
    this.states[slot] = state
    this.changes[slot] = stateChange
    this.slots[id] = slot
    if (this.snapshots !== undefined) this.snapshots[slot] = undefined
    this.order[slot] = id
    this.ordered = false
    this.count++
    this.version++
    return slot
  }

  /** Exchanges two slots (the probe order); names keep their place in name order. */
  swap(a: number, b: number): void {
    if (a === b) return
    const ida = this.ids[a]!
    const idb = this.ids[b]!
    this.ids[a] = idb
    this.ids[b] = ida
    this.slots[ida] = b
    this.slots[idb] = a
    swapIn(this.announcements, a, b)
    swapIn(this.ports, a, b)
    swapIn(this.ipv4s, a, b)
    swapIn(this.incarnations, a, b)
    swapIn(this.states, a, b)
    swapIn(this.changes, a, b)
    const s = this.snapshots
    if (s !== undefined) {
      const t = s[a]
      s[a] = s[b]
      s[b] = t
    }
  }

  setIncarnation(slot: number, incarnation: number): void {
    this.incarnations[slot] = incarnation
    this.touch(slot)
  }

  setState(slot: number, state: WireState, stateChange: number): void {
    this.states[slot] = state
    this.changes[slot] = stateChange
    this.touch(slot)
  }

  /** Takes what `alive` announces (address, metadata, versions). */
  announce(slot: number, alive: Alive): void {
    const old = this.announcements[slot]!
    this.announcements[slot] = this.directory.retainAnnouncement(this.ids[slot]!, alive)
    this.noteAddress(slot, alive)
    this.directory.releaseAnnouncement(old)
    this.touch(slot)
  }

  noteContact(slot: number, now: number): void {
    this.contacted.set(this.ids[slot]!, now)
  }

  /**
   * Removes the entries `reap` selects, calling `reaped` with each one's last snapshot, and
   * keeps the others in their probe order.
   */
  reap(select: (slot: number) => boolean, reaped: (member: Member) => void): void {
    let kept = 0
    let removed = 0
    for (let slot = 0; slot < this.count; slot++) {
      if (select(slot)) {
        reaped(this.snapshot(slot))
        const id = this.ids[slot]!
        this.slots[id] = -1
        this.contacted.delete(id)
        this.directory.releaseAnnouncement(this.announcements[slot]!)
        this.directory.releaseName(id)
        removed++
        continue
      }
      if (kept !== slot) this.move(slot, kept)
      kept++
    }
    if (removed === 0) return
    this.count = kept
    let at = 0
    for (let i = 0; i < kept + removed; i++) {
      const id = this.order[i]!
      if (this.slots[id]! >= 0) this.order[at++] = id
    }
    this.version++
  }

  /** memberlist's shuffle of its `nodes` slice (Fisher–Yates from the end), drawing from `random`. */
  shuffle(random: () => number): void {
    for (let i = this.count - 1; i > 0; i--) this.swap(i, Math.floor(random() * (i + 1)))
  }

  /** Up to `k` distinct random slots that `accept` takes, trying at most `3n` draws (memberlist's `kRandomNodes`). */
  randomSlots(k: number, random: () => number, accept: (slot: number) => boolean): Array<number> {
    const n = this.count
    const picked: Array<number> = []
    for (let i = 0; i < 3 * n && picked.length < k; i++) {
      const slot = Math.floor(random() * n)
      if (!accept(slot) || picked.includes(slot)) continue
      picked.push(slot)
    }
    return picked
  }

  /** The member in `slot` as the public API shows it. */
  snapshot(slot: number): Member {
    const cached = this.snapshots?.[slot]
    if (cached !== undefined) return cached
    const a = this.announcement(slot)
    const v = a.vsn
    const member: Member = {
      name: this.name(slot),
      addr: a.addr,
      host: a.host,
      port: a.port,
      address: a.address,
      meta: a.meta,
      application: a.application,
      incarnation: this.incarnations[slot]!,
      state: stateFromWire[this.states[slot]!]!,
      stateChange: this.changes[slot]!,
      protocolMin: v[0]!,
      protocolMax: v[1]!,
      protocolCur: v[2]!,
      delegateMin: v[3]!,
      delegateMax: v[4]!,
      delegateCur: v[5]!
    }
    if (this.snapshots !== undefined) this.snapshots[slot] = member
    return member
  }

  /** Every entry in name order. From the first call on, snapshots are kept until their entry changes. */
  members(): Array<Member> {
    if (this.snapshots === undefined) this.snapshots = new Array<Member | undefined>(this.ids.length)
    if (!this.ordered) this.sortOrder()
    const out = new Array<Member>(this.count)
    for (let i = 0; i < this.count; i++) out[i] = this.snapshot(this.slots[this.order[i]!]!)
    return out
  }

  /** Gives every reference back to the directory (the node is gone). */
  release(): void {
    for (let slot = 0; slot < this.count; slot++) {
      this.slots[this.ids[slot]!] = -1
      this.directory.releaseAnnouncement(this.announcements[slot]!)
      this.directory.releaseName(this.ids[slot]!)
    }
    this.count = 0
    this.contacted.clear()
    this.snapshots = undefined
    this.version++
  }

  /** Bytes held by the columns and indexes (what one more member costs, amortised, times the size). */
  get footprint(): number {
    return this.ids.byteLength + this.announcements.byteLength + this.ports.byteLength + this.ipv4s.byteLength +
      this.incarnations.byteLength +
      this.states.byteLength + this.changes.byteLength + this.order.byteLength + this.slots.byteLength
  }

  private noteAddress(slot: number, alive: Alive): void {
    this.ports[slot] = alive.port
    this.ipv4s[slot] = alive.addr.length === 4 ? ipv4Of(alive.addr) : -1
  }

  private touch(slot: number): void {
    if (this.snapshots !== undefined) this.snapshots[slot] = undefined
    this.version++
  }

  private move(from: number, to: number): void {
    const id = this.ids[from]!
    this.ids[to] = id
    this.slots[id] = to
    this.announcements[to] = this.announcements[from]!
    this.ports[to] = this.ports[from]!
    this.ipv4s[to] = this.ipv4s[from]!
    this.incarnations[to] = this.incarnations[from]!
    this.states[to] = this.states[from]!
    this.changes[to] = this.changes[from]!
    if (this.snapshots !== undefined) this.snapshots[to] = this.snapshots[from]
  }

  /** Sorts `order` by name (code unit order, as the published table has always been sorted). */
  private sortOrder(): void {
    const directory = this.directory
    const byName = (a: number, b: number) => {
      const x = directory.name(a)
      const y = directory.name(b)
      return x < y ? -1 : x > y ? 1 : 0
    }
    this.order.subarray(0, this.count).sort(byName)
    this.ordered = true
  }

  private growSlots(): void {
    const size = Math.ceil(this.ids.length * 1.5)
    this.ids = grow(this.ids, size, (n) => new Int32Array(n))
    this.announcements = grow(this.announcements, size, (n) => new Int32Array(n))
    this.ports = grow(this.ports, size, (n) => new Int32Array(n))
    this.ipv4s = grow(this.ipv4s, size, (n) => new Float64Array(n))
    this.incarnations = grow(this.incarnations, size, (n) => new Uint32Array(n))
    this.states = grow(this.states, size, (n) => new Uint8Array(n))
    this.changes = grow(this.changes, size, (n) => new Float64Array(n))
    this.order = grow(this.order, size, (n) => new Int32Array(n))
  }

  private growIndex(min: number): void {
    const slots = new Int32Array(Math.max(min, Math.ceil(this.slots.length * 1.5), 8)).fill(-1)
    slots.set(this.slots)
    this.slots = slots
  }
}

const ipv4Of = (addr: Uint8Array): number => ((addr[0]! << 24) >>> 0) + (addr[1]! << 16) + (addr[2]! << 8) + addr[3]!

const swapIn = (a: Int32Array | Uint32Array | Uint8Array | Float64Array, i: number, j: number): void => {
  const t = a[i]!
  a[i] = a[j]!
  a[j] = t
}
