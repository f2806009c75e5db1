/**
 * The member table of one node, stored column by column: typed arrays, one
 * slot per member, the name and what the member announces kept as ids into a
 * `Directory`; the words every gossiped alive is checked against share one row,
 * indexed by the name's id. 24 bytes a member (28 once the table has been read
 * whole), whatever the names and metadata, and nothing for the garbage
 * collector to trace.
 *
 * Slots are kept in probe order (memberlist's shuffled `nodes` slice); a second
 * index lists the names, sorted when the whole table is read after a change
 * (one sort per publication, not a shift per join). Member snapshots are built
 * on demand, and cached once the table has been published. Plain data, no
 * I/O; one owner mutates it.
 */
import { ipv4Of } from "../Address.ts"
import type { Member } from "../Member.ts"
import { stateFromWire } from "../Member.ts"
import { float64Column, grownColumn, int32Column } from "./Columns.ts"
import type { Announcement, Directory } from "./Directory.ts"
import type { Alive } from "./Messages.ts"
import { WireState } from "./Messages.ts"

/** A row of `MemberTable.rows`: its width, and each word's place. */
const ROW = 3
/** The member's slot plus one; 0 when the name is not in the table. */
const SLOT = 0
/**
 * The announcement's directory id (30 bits: ids are reused, so they stay below the number of
 * announcements interned at once) and the state (`WireState`, 2 bits from `STATE_SHIFT`).
 */
const ANNOUNCED = 1
const INCARNATION = 2
const STATE_SHIFT = 30
const ANNOUNCEMENT_MASK = (1 << STATE_SHIFT) - 1
/** In `Directory.addressWord`: the port (16 bits), and whether the address is IPv4. */
const V4 = 0x10000
const PORT_MASK = 0xffff

export class MemberTable {
  private readonly directory: Directory
  private count = 0
  /** Entries alive or suspect, kept as states change: read once a second by every node's metrics. */
  private liveCount = 0
  private ids = int32Column(8)
  /**
   * What a gossiped alive is checked against, three words a name side by side, indexed by the
   * name's directory id: the slot, the announcement and state, and the incarnation. Finding a
   * member and checking a duplicate alive against it read one row, and the announcement's
   * address words in the directory, which every table of a process shares. Sized by the
   * directory's ids; a row is empty (slot word 0) for a name not in this table.
   */
  private rows = int32Column(0)
  private changes = float64Column(8)
  /**
   * Name ids, in name order while `ordered`: made when the table is first read whole (most
   * nodes of a simulated network never are), then kept, and sorted when next read after a
   * change rather than per insertion.
   */
  private order: Int32Array | undefined = undefined
  private ordered = false
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

  /** Entries alive or suspect (self included). */
  get live(): number {
    return this.liveCount
  }

  /** Changes so far: the table differs from what was published when this moved. */
  get changeCount(): number {
    return this.version
  }

  /** The slot of `name`, or -1. */
  slotOf(name: string): number {
    return this.slotOfId(this.directory.idOf(name))
  }

  /** The slot of the name with directory id `id` (-1 for a name not interned), or -1. */
  slotOfId(id: number): number {
    return id < 0 || id * ROW >= this.rows.length ? -1 : this.rows[id * ROW + SLOT]! - 1
  }

  name(slot: number): string {
    return this.directory.name(this.ids[slot]!)
  }

  nameId(slot: number): number {
    return this.ids[slot]!
  }

  announcement(slot: number): Announcement {
    return this.directory.announcement(this.announcementId(slot))
  }

  announcementId(slot: number): number {
    return this.announcementOf(this.ids[slot]!)
  }

  /** The announcement id of the member whose name has directory id `id` (in the table). */
  private announcementOf(id: number): number {
    return this.rows[id * ROW + ANNOUNCED]! & ANNOUNCEMENT_MASK
  }

  incarnation(slot: number): number {
    return this.incarnationOf(this.ids[slot]!)
  }

  /** The incarnation of the member whose name has directory id `id` (in the table). */
  incarnationOf(id: number): number {
    return this.rows[id * ROW + INCARNATION]! >>> 0
  }

  /**
   * Whether the member whose name has directory id `id` is in the table announcing exactly
   * `announcement`, at `incarnation` or a later one: an alive saying so changes nothing.
   */
  holds(id: number, announcement: number, incarnation: number): boolean {
    return this.slotOfId(id) >= 0 && this.announcementOf(id) === announcement && incarnation <= this.incarnationOf(id)
  }

  /** The state, numbered as on the wire (`WireState`). */
  state(slot: number): WireState {
    return this.stateOf(this.ids[slot]!)
  }

  /** The state of the member whose name has directory id `id` (in the table). */
  stateOf(id: number): WireState {
    return (this.rows[id * ROW + ANNOUNCED]! >>> STATE_SHIFT) as WireState
  }

  stateChange(slot: number): number {
    return this.changes[slot]!
  }

  deadOrLeft(slot: number): boolean {
    return this.state(slot) >= WireState.dead
  }

  /** Whether the member whose name has directory id `id` (in the table) is announced at `addr`:`port`. */
  sameAddressOf(id: number, addr: Uint8Array, port: number): boolean {
    const d = this.directory
    const known = this.announcementOf(id)
    const word = d.addressWord(known)
    if ((word & PORT_MASK) !== port) return false
    if ((word & V4) !== 0) return addr.length === 4 && d.ipv4(known) === ipv4Of(addr)
    const bytes = d.announcement(known).addr
    if (bytes.length !== addr.length) return false
    for (let i = 0; i < addr.length; i++) if (bytes[i] !== addr[i]) return false
    return true
  }

  /**
   * As `sameAddressOf`, for the address of the directory's announcement `announcement`: the
   * directory's address words compared, no address bytes read (but for IPv6).
   */
  sameAddressAs(id: number, announcement: number): boolean {
    const d = this.directory
    const known = this.announcementOf(id)
    if (known === announcement) return true
    const word = d.addressWord(known)
    if (word !== d.addressWord(announcement)) return false
    if ((word & V4) !== 0) return d.ipv4(known) === d.ipv4(announcement)
    return this.sameAddressOf(id, d.announcement(announcement).addr, word & PORT_MASK)
  }

  /** The version vector the member announces (`[pmin, pmax, pcur, dmin, dmax, dcur]`). */
  vsn(slot: number): Uint8Array {
    return this.directory.vsnOf(this.announcementId(slot))
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
   * announces; returns the slot. `knownId`: the name's directory id, when the caller has it;
   * `knownAnnouncement`: the announcement's id, when `alive` came with it (`Directory.announcementOf`).
   */
  add(alive: Alive, incarnation: number, state: WireState, stateChange: number, knownId = -1, knownAnnouncement = -1): number {
    let id = knownId
    if (id >= 0) this.directory.retainId(id)
    else id = this.directory.retainName(alive.node)
    const slot = this.count
    // Room for every name the directory holds: a table lists no other. A directory shared by a
    // simulated cluster names everyone early on, so each table grows once, not a dozen times.
    if (slot === this.ids.length) this.growSlots(this.directory.nameCount)
    if (id * ROW >= this.rows.length) this.growRows(this.directory.nameCapacity)
    this.ids[slot] = id
    const announcement = this.retainAnnouncement(id, alive, knownAnnouncement)
    const row = id * ROW
    this.rows[row + SLOT] = slot + 1
    this.rows[row + ANNOUNCED] = announcement | (state << STATE_SHIFT)
    if (state < WireState.dead) this.liveCount++
    this.rows[row + INCARNATION] = incarnation
    this.changes[slot] = stateChange
    if (this.snapshots !== undefined) this.snapshots[slot] = undefined
    if (this.order !== undefined) {
      this.order[slot] = id
      this.ordered = false
    }
    this.count++
    this.version++
    return slot
  }

  /** Makes room for `total` members at once (a joiner about to merge a whole cluster's state). */
  reserve(total: number): void {
    if (total > this.ids.length) this.growSlots(total)
  }

  /** Exchanges two slots (the probe order); names keep their place in name order. */
  swap(a: number, b: number): void {
    if (a === b) return
    const ida = this.ids[a]!
    const idb = this.ids[b]!
    this.ids[a] = idb
    this.ids[b] = ida
    this.rows[ida * ROW + SLOT] = b + 1
    this.rows[idb * ROW + SLOT] = a + 1
    swapIn(this.changes, a, b)
    const s = this.snapshots
    if (s !== undefined) {
      const t = s[a]
      s[a] = s[b]
      s[b] = t
    }
  }

  setIncarnation(slot: number, incarnation: number): void {
    this.rows[this.ids[slot]! * ROW + INCARNATION] = incarnation
    this.touch(slot)
  }

  setState(slot: number, state: WireState, stateChange: number): void {
    const at = this.ids[slot]! * ROW + ANNOUNCED
    const was = this.rows[at]! >>> STATE_SHIFT
    this.liveCount += (state < WireState.dead ? 1 : 0) - (was < WireState.dead ? 1 : 0)
    this.rows[at] = (this.rows[at]! & ANNOUNCEMENT_MASK) | (state << STATE_SHIFT)
    this.changes[slot] = stateChange
    this.touch(slot)
  }

  /** Takes what `alive` announces (address, metadata, versions); `knownAnnouncement` as for `add`. */
  announce(slot: number, alive: Alive, knownAnnouncement = -1): void {
    const id = this.ids[slot]!
    const at = id * ROW + ANNOUNCED
    const old = this.rows[at]! & ANNOUNCEMENT_MASK
    const announcement = this.retainAnnouncement(id, alive, knownAnnouncement)
    this.rows[at] = (this.rows[at]! & ~ANNOUNCEMENT_MASK) | announcement
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
        if (!this.deadOrLeft(slot)) this.liveCount--
        const id = this.ids[slot]!
        this.rows[id * ROW + SLOT] = 0
        this.contacted.delete(id)
        this.directory.releaseAnnouncement(this.announcementOf(id))
        this.directory.releaseName(id)
        removed++
        continue
      }
      if (kept !== slot) this.move(slot, kept)
      kept++
    }
    if (removed === 0) return
    this.count = kept
    const order = this.order
    if (order !== undefined) {
      let at = 0
      for (let i = 0; i < kept + removed; i++) {
        const id = order[i]!
        if (this.rows[id * ROW + SLOT]! !== 0) order[at++] = id
      }
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
      incarnation: this.incarnation(slot),
      state: stateFromWire[this.state(slot)]!,
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
    const order = this.sortedOrder()
    const out = new Array<Member>(this.count)
    for (let i = 0; i < this.count; i++) out[i] = this.snapshot(this.rows[order[i]! * ROW + SLOT]! - 1)
    return out
  }

  /** Gives every reference back to the directory (the node is gone). */
  release(): void {
    for (let slot = 0; slot < this.count; slot++) {
      const id = this.ids[slot]!
      this.rows[id * ROW + SLOT] = 0
      this.directory.releaseAnnouncement(this.announcementOf(id))
      this.directory.releaseName(id)
    }
    this.count = 0
    this.liveCount = 0
    this.contacted.clear()
    this.snapshots = undefined
    this.version++
  }

  /** Bytes held by the columns and indexes (what one more member costs, amortised, times the size). */
  get footprint(): number {
    return this.ids.byteLength + this.rows.byteLength + this.changes.byteLength + (this.order?.byteLength ?? 0)
  }

  /** A reference to what `alive` announces for name id `id`: the `known` announcement when given, else interned. */
  private retainAnnouncement(id: number, alive: Alive, known: number): number {
    if (known < 0) return this.directory.retainAnnouncement(id, alive)
    this.directory.retainAnnouncementId(known)
    return known
  }

  private touch(slot: number): void {
    if (this.snapshots !== undefined) this.snapshots[slot] = undefined
    this.version++
  }

  private move(from: number, to: number): void {
    const id = this.ids[from]!
    this.ids[to] = id
    this.rows[id * ROW + SLOT] = to + 1
    this.changes[to] = this.changes[from]!
    if (this.snapshots !== undefined) this.snapshots[to] = this.snapshots[from]
  }

  /** Name ids in name order (code unit order, as the published table has always been sorted). */
  private sortedOrder(): Int32Array {
    if (this.order === undefined) {
      this.order = int32Column(this.ids.length)
      this.order.set(this.ids.subarray(0, this.count))
    }
    if (this.ordered) return this.order
    const directory = this.directory
    const byName = (a: number, b: number) => {
      const x = directory.name(a)
      const y = directory.name(b)
      return x < y ? -1 : x > y ? 1 : 0
    }
    this.order.subarray(0, this.count).sort(byName)
    this.ordered = true
    return this.order
  }

  private growSlots(min = 0): void {
    const size = Math.max(min, Math.ceil(this.ids.length * 1.5))
    this.ids = grownColumn(this.ids, size)
    this.changes = grownColumn(this.changes, size)
    if (this.order !== undefined) this.order = grownColumn(this.order, size)
  }

  /** Room for the rows of name ids below `min` at least (a new row reads as empty). */
  private growRows(min: number): void {
    const ids = Math.max(min, Math.ceil((this.rows.length / ROW) * 1.5), 8)
    this.rows = grownColumn(this.rows, ids * ROW)
  }
}


const swapIn = (a: Int32Array | Float64Array, i: number, j: number): void => {
  const t = a[i]!
  a[i] = a[j]!
  a[j] = t
}
