import { assert, describe, expect, it } from "vitest"
import { BroadcastQueue } from "../../src/protocol/Broadcasts.ts"
import { gossipTick } from "../../src/protocol/Timer.ts"
import { alive, armedIn, makeCore, outputsOf, seeded, sentMessages } from "./helpers.ts"

const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill)

describe("broadcast queue", () => {
  it("a newer broadcast about a node replaces the queued one and finishes its waiter", () => {
    const q = new BroadcastQueue()
    q.enqueue(bytes(10, 1), 1, 7)
    q.enqueue(bytes(12, 2), 1)
    expect(q.size).toBe(1)
    expect(q.finished).toEqual([7])
    const out = q.take(2, 1000, 4)
    expect(out.map((b) => b[0])).toEqual([2])
  })

  it("is sent exactly transmitLimit times, then reported finished", () => {
    const q = new BroadcastQueue()
    q.enqueue(bytes(10), 1, 1)
    for (let i = 0; i < 4; i++) expect(q.take(2, 1000, 4)).toHaveLength(1)
    expect(q.finished).toEqual([1])
    expect(q.take(2, 1000, 4)).toHaveLength(0)
    expect(q.size).toBe(0)
  })

  it("gives back its columns once drained, and works as before afterwards", () => {
    const q = new BroadcastQueue()
    const empty = q.footprint
    for (let i = 0; i < 5_000; i++) q.enqueue(bytes(20 + (i % 7), i & 0xff), i, i)
    const full = q.footprint
    while (q.size > 0) q.take(2, 1400, 2)
    expect(q.finished).toHaveLength(5_000)
    // the per-item columns, the tiers and the key index (a word per key seen) all go
    expect(q.footprint - empty).toBeLessThan(1_024)
    expect(full - q.footprint).toBeGreaterThan(5_000 * 20)
    q.enqueue(bytes(10, 1), 1)
    q.enqueue(bytes(12, 2), 2)
    q.enqueue(bytes(14, 3), 4_999)
    // keyed replacement works on the index made again
    q.enqueue(bytes(16, 4), 4_999)
    expect(q.size).toBe(3)
    expect(q.take(2, 1000, 4).map((b) => b[0])).toEqual([4, 2, 1])
  })

  it("keeps its order when ids run out and are renumbered", () => {
    const q = new BroadcastQueue()
    // white box: start just below the last id, so that the fifth enqueue renumbers
    ;(q as unknown as { nextId: number }).nextId = 0x7fffffff - 4
    for (let i = 0; i < 8; i++) q.enqueue(bytes(i % 2 === 0 ? 10 : 8, i), i)
    q.take(2, 1000, 4, 2) // the two newest of the longest go up a tier: 6, 4
    q.enqueue(bytes(10, 8), 8)
    // tier 0: 10 bytes newest first (8, 2, 0), then 8 bytes (7, 5, 3, 1); then tier 1 (6, 4)
    expect(q.take(2, 1000, 4).map((b) => b[0])).toEqual([8, 2, 0, 7, 5, 3, 1, 6, 4])
  })

  it("selects fewest transmissions first, then longest that fits, then newest", () => {
    const q = new BroadcastQueue()
    q.enqueue(bytes(10, 1), 1)
    q.take(2, 1000, 4) // a: 1 transmit
    q.enqueue(bytes(5, 2), 2)
    q.enqueue(bytes(8, 3), 3)
    q.enqueue(bytes(8, 4), 4)
    // tier 0 first: c/d (8 bytes; newest d first), then b (5), then a from tier 1
    expect(q.take(2, 1000, 4).map((b) => b[0])).toEqual([4, 3, 2, 1])
  })

  it("respects the byte budget including per-message overhead", () => {
    const q = new BroadcastQueue()
    q.enqueue(bytes(50, 1), 1)
    q.enqueue(bytes(30, 2), 2)
    q.enqueue(bytes(10, 3), 3)
    // limit 45: a (50) does not fit; b takes 32, leaving 13: c (10 + 2) fits
    expect(q.take(2, 45, 4).map((b) => b[0])).toEqual([2, 3])
    expect(q.take(2, 0, 4)).toEqual([])
  })

  it("keeps unkeyed broadcasts separate", () => {
    const q = new BroadcastQueue()
    q.enqueue(bytes(3, 1))
    q.enqueue(bytes(3, 2))
    expect(q.size).toBe(2)
  })
})

describe("broadcast queue part cap", () => {
  it("never hands out more parts than a compound can count", () => {
    const q = new BroadcastQueue()
    for (let i = 0; i < 400; i++) q.enqueue(bytes(1, i & 0xff))
    expect(q.take(2, 100_000, 4)).toHaveLength(255)
    expect(q.take(2, 100_000, 4, 10)).toHaveLength(10)
  })
})

/**
 * The queue's selection written the plain way: one sorted array per tier, searched and
 * spliced. The queue must take exactly what this takes, in the same order.
 */
class ReferenceQueue {
  private readonly tiers: Array<Array<{ id: number; key: number; bytes: Uint8Array }>> = []
  private readonly transmits = new Map<number, number>()
  private nextId = 0

  enqueue(bytes: Uint8Array, key: number): void {
    for (const tier of this.tiers) {
      const i = tier.findIndex((item) => item.key === key)
      if (i >= 0) tier.splice(i, 1)
    }
    this.insert({ id: this.nextId++, key, bytes }, 0)
  }

  take(overhead: number, limit: number, transmitLimit: number, maxCount: number): Array<Uint8Array> {
    const out: Array<{ id: number; key: number; bytes: Uint8Array }> = []
    let free = limit - overhead
    for (let t = 0; t < this.tiers.length && free > 0 && out.length < maxCount; t++) {
      const tier = this.tiers[t]!
      let end = tier.length
      while (free > 0 && out.length < maxCount) {
        let i = end - 1
        while (i >= 0 && tier[i]!.bytes.length > free) i--
        if (i < 0) break
        const [item] = tier.splice(i, 1)
        out.push(item!)
        free -= overhead + item!.bytes.length
        end = i
      }
    }
    for (const item of out) {
      const sent = (this.transmits.get(item.id) ?? 0) + 1
      this.transmits.set(item.id, sent)
      if (sent < transmitLimit) this.insert(item, sent)
    }
    return out.map((item) => item.bytes)
  }

  private insert(item: { id: number; key: number; bytes: Uint8Array }, t: number): void {
    while (this.tiers.length <= t) this.tiers.push([])
    const tier = this.tiers[t]!
    const worse = (a: typeof item) => a.bytes.length < item.bytes.length || (a.bytes.length === item.bytes.length && a.id < item.id)
    let i = 0
    while (i < tier.length && worse(tier[i]!)) i++
    tier.splice(i, 0, item)
  }
}

describe("broadcast queue against a plain model", () => {
  it("takes exactly what one sorted array per tier would, through thousands of items and block splits", () => {
    const random = seeded(7)
    const q = new BroadcastQueue()
    const model = new ReferenceQueue()
    let taken = 0
    for (let step = 0; step < 30_000; step++) {
      if (random() < 0.8) {
        // keys up to 3,000: tiers of more than a block, and replacements of queued items
        const key = Math.floor(random() * 3000)
        const item = new Uint8Array(1 + Math.floor(random() * 40))
        item[0] = key & 0xff
        q.enqueue(item, key)
        model.enqueue(item, key)
      } else {
        const limit = Math.floor(random() * 1400)
        const maxCount = 1 + Math.floor(random() * 60)
        const got = q.take(2, limit, 6, maxCount)
        const want = model.take(2, limit, 6, maxCount)
        expect(got.length).toBe(want.length)
        for (let i = 0; i < got.length; i++) expect(got[i]).toBe(want[i])
        taken += got.length
      }
    }
    expect(taken).toBeGreaterThan(50_000)
    expect(q.size).toBeGreaterThan(1000)
  })

  it("takes the same with items enqueued in held batches, replacements within a batch included", () => {
    const random = seeded(3)
    const q = new BroadcastQueue()
    const model = new ReferenceQueue()
    let taken = 0
    for (let step = 0; step < 1_500; step++) {
      if (random() < 0.4) {
        // a push/pull's worth: up to 400 items, some keys twice, into a queue of up to 2,000 keys
        q.hold()
        for (let n = Math.floor(random() * 400); n > 0; n--) {
          const key = Math.floor(random() * 2000)
          const item = new Uint8Array(20 + Math.floor(random() * 8))
          q.enqueue(item, key)
          model.enqueue(item, key)
        }
        q.settle()
      } else {
        const limit = Math.floor(random() * 1400)
        const got = q.take(2, limit, 6)
        const want = model.take(2, limit, 6, 255)
        expect(got.length).toBe(want.length)
        for (let i = 0; i < got.length; i++) expect(got[i]).toBe(want[i])
        taken += got.length
      }
    }
    expect(taken).toBeGreaterThan(10_000)
  })

  it("counts held items, and a clear while holding finishes them", () => {
    const q = new BroadcastQueue()
    q.enqueue(bytes(10, 1), 1, 1)
    q.hold()
    q.enqueue(bytes(10, 2), 2, 2)
    q.enqueue(bytes(10, 3), 2, 3)
    expect(q.size).toBe(2)
    expect(q.finished).toEqual([2])
    q.clear()
    expect(q.size).toBe(0)
    expect(q.finished.sort()).toEqual([1, 2, 3])
    // and it no longer holds: what comes next is taken at once
    q.enqueue(bytes(10, 4), 4)
    expect(q.take(2, 1000, 4).map((b) => b[0])).toEqual([4])
  })
})

describe("the gossip loop", () => {
  it("stops while nobody can hear it, and starts again with the first member", () => {
    const core = makeCore("solo")
    // our own alive is queued from the start, and the loop is armed for it
    const first = armedIn(core.drain(), "GossipTick")
    assert.isDefined(first)
    core.timer(gossipTick, first!.at)
    const alone = core.drain()
    assert.lengthOf(outputsOf(alone, "SendPacket"), 0)
    assert.isUndefined(armedIn(alone, "GossipTick"), "a node alone does not tick on")
    assert.strictEqual(core.queuedBroadcasts, 1)
    // a member arrives: news, so the loop runs again and our alive finally goes out
    core.handlePacket("10.0.0.2:7946", alive("other", 1, 2), first!.at + 1_000)
    const again = armedIn(core.drain(), "GossipTick")
    assert.isDefined(again)
    core.timer(gossipTick, again!.at)
    const sent = sentMessages(core.drain())
    assert.includeMembers(sent.map((s) => (s.message as { node?: string }).node), ["solo", "other"])
  })
})
