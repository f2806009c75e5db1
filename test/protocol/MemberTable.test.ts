/**
 * The columnar member table and the directory it interns into: lookups, probe
 * order and name order, reaping, sharing between tables, reference counts, and
 * the per-entry size the scale goal asks for.
 */
import { assert, describe, it } from "@effect/vitest"
import { Directory } from "../../src/protocol/Directory.ts"
import { MemberTable } from "../../src/protocol/MemberTable.ts"
import type { Alive } from "../../src/protocol/Messages.ts"
import { WireState } from "../../src/protocol/Messages.ts"

const VSN = Uint8Array.of(1, 5, 2, 2, 5, 4)

const alive = (name: string, i: number, incarnation = 1, meta: Uint8Array | null = new Uint8Array(0)): Alive => ({
  _tag: "Alive",
  incarnation,
  node: name,
  addr: Uint8Array.of(10, 0, (i >> 8) & 255, i & 255),
  port: 7946,
  meta,
  vsn: VSN
})

const names = (table: MemberTable) => table.members().map((m) => m.name)

/** The names in probe (slot) order. */
const probeOrder = (table: MemberTable) => Array.from({ length: table.size }, (_, slot) => table.name(slot))

describe("MemberTable", () => {
  it("adds, finds and shows members: slots in probe order, members() in name order", () => {
    const table = new MemberTable(new Directory())
    for (const [i, name] of ["delta", "alpha", "charlie", "bravo"].entries()) {
      table.add(alive(name, i + 1, 3), 3, WireState.alive, 100 + i)
    }
    assert.strictEqual(table.size, 4)
    assert.deepStrictEqual(probeOrder(table), ["delta", "alpha", "charlie", "bravo"])
    assert.deepStrictEqual(names(table), ["alpha", "bravo", "charlie", "delta"])
    table.swap(0, 3)
    assert.deepStrictEqual(probeOrder(table), ["bravo", "alpha", "charlie", "delta"])
    assert.deepStrictEqual(names(table), ["alpha", "bravo", "charlie", "delta"])
    const slot = table.slotOf("charlie")
    assert.strictEqual(table.name(slot), "charlie")
    assert.strictEqual(table.slotOf("echo"), -1)
    const m = table.snapshot(slot)
    assert.deepInclude(m, { name: "charlie", host: "10.0.0.3", port: 7946, address: "10.0.0.3:7946", incarnation: 3, state: "alive", stateChange: 102 })
    assert.deepStrictEqual([m.protocolMin, m.protocolMax, m.protocolCur, m.delegateMin, m.delegateMax, m.delegateCur], [1, 5, 2, 2, 5, 4])
  })

  it("changes show in snapshots; unchanged entries keep their snapshot object once published", () => {
    const table = new MemberTable(new Directory())
    table.add(alive("a", 1), 1, WireState.alive, 0)
    table.add(alive("b", 2), 1, WireState.alive, 0)
    const before = table.members()
    const version = table.changeCount
    const b = table.slotOf("b")
    table.setState(b, WireState.suspect, 50)
    table.setIncarnation(b, 2)
    assert.isAbove(table.changeCount, version)
    const after = table.members()
    assert.strictEqual(after[0], before[0])
    assert.notStrictEqual(after[1], before[1])
    assert.deepInclude(after[1], { name: "b", state: "suspect", stateChange: 50, incarnation: 2 })
    assert.isTrue(!table.deadOrLeft(b))
    table.setState(b, WireState.left, 60)
    assert.isTrue(table.deadOrLeft(b))
  })

  it("copies what it keeps: a datagram buffer reused afterwards changes nothing", () => {
    const table = new MemberTable(new Directory())
    const datagram = Uint8Array.of(10, 9, 8, 7, 1, 2, 3)
    const message: Alive = { ...alive("a", 1), addr: datagram.subarray(0, 4), meta: datagram.subarray(4) }
    table.add(message, 1, WireState.alive, 0)
    datagram.fill(0)
    const m = table.snapshot(table.slotOf("a"))
    assert.strictEqual(m.address, "10.9.8.7:7946")
    assert.deepStrictEqual(Array.from(m.meta), [1, 2, 3])
  })

  it("reaping removes the selected entries, keeps the others in probe order, and frees their ids", () => {
    const directory = new Directory()
    const table = new MemberTable(directory)
    const all = ["m0", "m1", "m2", "m3", "m4", "m5"]
    all.forEach((name, i) => table.add(alive(name, i + 1), 1, i % 2 === 0 ? WireState.dead : WireState.alive, 0))
    table.swap(0, 5)
    const order = probeOrder(table)
    const reaped: Array<string> = []
    table.reap((slot) => table.state(slot) === WireState.dead, (m) => reaped.push(m.name))
    assert.deepStrictEqual(reaped.sort(), ["m0", "m2", "m4"])
    assert.deepStrictEqual(probeOrder(table), order.filter((n) => !reaped.includes(n)))
    assert.deepStrictEqual(names(table), ["m1", "m3", "m5"])
    assert.strictEqual(table.slotOf("m2"), -1)
    assert.strictEqual(directory.nameCount, 3)
    assert.strictEqual(directory.announcementCount, 3)
    // a name comes back in a free id
    const slot = table.add(alive("m2", 3, 2), 2, WireState.alive, 5)
    assert.strictEqual(table.name(slot), "m2")
    assert.deepStrictEqual(names(table), ["m1", "m2", "m3", "m5"])
    assert.isBelow(directory.nameCapacity, 7)
  })

  it("a new announcement replaces the old one; the old one is forgotten when nothing holds it", () => {
    const directory = new Directory()
    const table = new MemberTable(directory)
    table.add(alive("a", 1, 1, Uint8Array.of(1)), 1, WireState.alive, 0)
    const slot = table.slotOf("a")
    table.announce(slot, alive("a", 1, 2, Uint8Array.of(2)))
    assert.deepStrictEqual(Array.from(table.announcement(slot).meta), [2])
    assert.strictEqual(directory.announcementCount, 1)
    // nil and empty metadata are different announcements, as Go keeps them apart
    table.announce(slot, alive("a", 1, 3, null))
    assert.isNull(table.announcement(slot).wire)
    table.announce(slot, alive("a", 1, 4, new Uint8Array(0)))
    assert.deepStrictEqual(table.announcement(slot).wire, new Uint8Array(0))
    assert.strictEqual(directory.announcementCount, 1)
  })

  it("tables sharing a directory store each name and announcement once, and give them back on release", () => {
    const directory = new Directory()
    const tables = Array.from({ length: 50 }, () => new MemberTable(directory))
    for (const table of tables) {
      for (let i = 0; i < 100; i++) table.add(alive(`node-${i}`, i, 1, Uint8Array.of(i)), 1, WireState.alive, 0)
    }
    assert.strictEqual(directory.nameCount, 100)
    assert.strictEqual(directory.announcementCount, 100)
    // one table hears of a metadata change: a second announcement, for that name only
    tables[0]!.announce(tables[0]!.slotOf("node-7"), alive("node-7", 7, 2, Uint8Array.of(99)))
    assert.strictEqual(directory.announcementCount, 101)
    assert.strictEqual(tables[1]!.snapshot(tables[1]!.slotOf("node-7")).meta[0], 7)
    for (const table of tables.slice(1)) table.release()
    assert.strictEqual(directory.nameCount, 100)
    assert.strictEqual(directory.announcementCount, 100)
    tables[0]!.release()
    assert.strictEqual(directory.nameCount, 0)
    assert.strictEqual(directory.announcementCount, 0)
  })

  it("counts the entries alive or suspect as states change, entries are reaped and the table released", () => {
    const table = new MemberTable(new Directory())
    const recount = () => {
      let n = 0
      for (let slot = 0; slot < table.size; slot++) if (!table.deadOrLeft(slot)) n++
      return n
    }
    let seed = 1
    const next = (k: number) => (seed = (seed * 48271) % 2147483647) % k
    for (let i = 0; i < 200; i++) table.add(alive(`m${i}`, i), 1, next(4) as WireState, 0)
    assert.strictEqual(table.live, recount())
    for (let i = 0; i < 1000; i++) table.setState(next(table.size), next(4) as WireState, i)
    assert.strictEqual(table.live, recount())
    table.reap((slot) => slot % 3 === 0, () => {})
    assert.strictEqual(table.size, 133)
    assert.strictEqual(table.live, recount())
    assert.isAbove(table.live, 0)
    table.release()
    assert.strictEqual(table.live, 0)
  })

  it("shuffle and randomSlots draw from the given source: same draws, same order", () => {
    const build = () => {
      const table = new MemberTable(new Directory())
      for (let i = 0; i < 20; i++) table.add(alive(`n${i}`, i), 1, WireState.alive, 0)
      return table
    }
    const source = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647
    const a = build()
    const b = build()
    a.shuffle(source(7))
    b.shuffle(source(7))
    assert.deepStrictEqual(probeOrder(a), probeOrder(b))
    assert.notDeepEqual(probeOrder(a), Array.from({ length: 20 }, (_, i) => `n${i}`))
    const picked = a.randomSlots(3, source(11), (slot) => a.name(slot) !== "n0")
    assert.strictEqual(new Set(picked).size, 3)
    assert.isTrue(picked.every((slot) => a.name(slot) !== "n0"))
    // asking for more than exist gives what there is, after at most 3n draws
    assert.strictEqual(a.randomSlots(50, source(3), () => true).length <= 20, true)
  })

  it("10,000 members: at most 40 bytes an entry with growth room, names and metadata stored once for both tables", () => {
    const directory = new Directory()
    const n = 10_000
    const tables = [new MemberTable(directory), new MemberTable(directory)]
    for (const table of tables) {
      for (let i = 0; i < n; i++) table.add(alive(`node-${i}-with-a-long-name`, i, 1, new Uint8Array(64)), 1, WireState.alive, 0)
    }
    for (const table of tables) {
      const perEntry = table.footprint / table.size
      assert.isAtMost(perEntry, 36, `${perEntry.toFixed(1)} B per entry`)
      // read whole, a table keeps its name order too: 4 bytes a slot more
      table.members()
      assert.isAtMost(table.footprint / table.size, 40, `${(table.footprint / table.size).toFixed(1)} B per entry, ordered`)
      assert.isAtLeast(table.footprint - perEntry * table.size, 4 * n)
    }
    // names and metadata are shared: one copy for both tables
    assert.strictEqual(directory.nameCount, n)
    assert.strictEqual(directory.announcementCount, n)
  })
})

describe("Directory", () => {
  it("finds an announcement again only when address, port, metadata and versions all match", () => {
    const d = new Directory()
    const name = d.retainName("a")
    const base = alive("a", 1)
    const id = d.retainAnnouncement(name, base)
    const variants: ReadonlyArray<Alive> = [
      { ...base, port: 7947 },
      { ...base, addr: Uint8Array.of(10, 0, 0, 2) },
      { ...base, addr: Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1) },
      { ...base, meta: null },
      { ...base, meta: Uint8Array.of(1) },
      { ...base, vsn: Uint8Array.of(1, 5, 2, 2, 5, 5) }
    ]
    const ids = variants.map((v) => d.retainAnnouncement(name, v))
    assert.strictEqual(new Set([id, ...ids]).size, variants.length + 1, "each variant is its own announcement")
    // the same content in fresh arrays (a new datagram) finds each one again
    const copy = (a: Alive): Alive => ({
      ...a,
      addr: Uint8Array.from(a.addr),
      meta: a.meta === null ? null : Uint8Array.from(a.meta),
      vsn: Uint8Array.from(a.vsn!)
    })
    assert.strictEqual(d.retainAnnouncement(name, copy(base)), id)
    assert.deepStrictEqual(variants.map((v) => d.retainAnnouncement(name, copy(v))), ids)
    assert.strictEqual(d.announcement(ids[2]!).address, "[fd00::1]:7946")
    assert.isNull(d.announcement(ids[3]!).wire)
    assert.deepStrictEqual(Array.from(d.announcement(ids[4]!).wire!), [1])
    // two references each: released twice, each is forgotten
    for (const i of [id, ...ids]) {
      d.releaseAnnouncement(i)
      d.releaseAnnouncement(i)
    }
    assert.strictEqual(d.announcementCount, 0)
  })

  it("a version vector array changed after it was seen is not mistaken for the one it was", () => {
    const d = new Directory()
    const name = d.retainName("a")
    const vsn = Uint8Array.of(1, 5, 2, 2, 5, 4)
    const first = d.retainAnnouncement(name, { ...alive("a", 1), vsn })
    vsn[5] = 5
    const second = d.retainAnnouncement(name, { ...alive("a", 1), vsn })
    assert.notStrictEqual(second, first)
    assert.deepStrictEqual(Array.from(d.announcement(second).vsn), [1, 5, 2, 2, 5, 5])
    assert.deepStrictEqual(Array.from(d.announcement(first).vsn), [1, 5, 2, 2, 5, 4])
  })

  it("beyond 64 distinct version vectors, the others are kept and compared byte by byte", () => {
    const d = new Directory()
    const name = d.retainName("a")
    const ids: Array<number> = []
    for (let i = 0; i < 100; i++) ids.push(d.retainAnnouncement(name, { ...alive("a", 1), vsn: Uint8Array.of(1, 5, 2, 2, i, 4) }))
    assert.strictEqual(new Set(ids).size, 100)
    for (let i = 0; i < 100; i++) {
      assert.strictEqual(d.retainAnnouncement(name, { ...alive("a", 1), vsn: Uint8Array.of(1, 5, 2, 2, i, 4) }), ids[i])
    }
  })

  it("messages it built carry their ids privately, trusted only while what they name is still interned", () => {
    const d = new Directory({ shareEncoded: true })
    const table = new MemberTable(d)
    table.add(alive("a", 1), 1, WireState.alive, 0)
    const name = table.nameId(0)
    const announcement = table.announcementId(0)
    let built: Alive | undefined
    d.encodedAlive(name, 1, announcement, (m) => {
      built = m as Alive
      return new Uint8Array(1)
    }, {})
    assert.strictEqual(d.announcementOf(built!), announcement)
    assert.strictEqual(d.nameOfAnnouncement(announcement), name)
    // an encoder sees an alive and nothing else
    assert.strictEqual(JSON.stringify(built), JSON.stringify(alive("a", 1)))
    const entry = d.pushNode(name, announcement, 1, WireState.alive)
    assert.deepStrictEqual(Object.keys(entry).sort(), ["addr", "incarnation", "meta", "name", "port", "state", "vsn"])
    assert.strictEqual(d.announcementOf(entry), announcement)
    // one entry per announcement, incarnation and state, shared by every state that lists it so
    assert.strictEqual(d.pushNode(name, announcement, 1, WireState.alive), entry)
    assert.strictEqual(d.pushNode(name, announcement, 1, WireState.suspect).state, WireState.suspect)
    // the same fields in a plain object, or another directory: no ids
    assert.strictEqual(d.announcementOf(alive("a", 1)), -1)
    assert.strictEqual(new Directory().announcementOf(built!), -1)
    // once released, the ids go to another member: the old messages are not trusted
    table.reap(() => true, () => {})
    table.add(alive("b", 2), 1, WireState.alive, 0)
    assert.strictEqual(table.nameId(0), name)
    assert.strictEqual(table.announcementId(0), announcement)
    assert.strictEqual(d.announcementOf(built!), -1)
    assert.strictEqual(d.announcementOf(entry), -1)
  })
})

describe("MemberTable address checks", () => {
  it("compare by announcement id as they do by bytes, for IPv4 and IPv6", () => {
    const d = new Directory()
    const table = new MemberTable(d)
    const v6 = Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    table.add(alive("a", 1), 1, WireState.alive, 0)
    table.add({ ...alive("b", 2), addr: v6 }, 1, WireState.alive, 0)
    const other = new MemberTable(d)
    const heard: ReadonlyArray<Alive> = [
      alive("a", 1),
      alive("a", 3),
      { ...alive("a", 1), port: 7947 },
      { ...alive("a", 1), addr: v6 },
      { ...alive("b", 2), addr: v6 },
      { ...alive("b", 2), addr: Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2) },
      alive("b", 2)
    ]
    const expected = [true, false, false, false, true, false, false]
    for (const [i, a] of heard.entries()) {
      const id = d.idOf(a.node)
      const slot = other.add({ ...a, node: `${a.node}-${i}` }, 1, WireState.alive, 0)
      assert.strictEqual(table.sameAddressOf(id, a.addr, a.port), expected[i], `bytes ${i}`)
      assert.strictEqual(table.sameAddressAs(id, other.announcementId(slot)), expected[i], `announcement ${i}`)
    }
  })
})
