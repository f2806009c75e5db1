import { describe, expect, it } from "vitest"
import { BLOCK, Blocks } from "../../src/protocol/Blocks.ts"
import { Tier, tierKey } from "../../src/protocol/Tier.ts"
import { seeded } from "./helpers.ts"

/** The tier's slots in order. */
const contents = (tier: Tier): Array<number> => {
  const out: Array<number> = []
  tier.forEach((slot) => out.push(slot))
  return out
}

describe("broadcast-queue tier against a sorted array", () => {
  it("keeps order through single inserts, descending batches, removals and block splits", () => {
    const random = seeded(11)
    const tier = new Tier()
    const model: Array<{ slot: number; key: number }> = []
    const ids = new Set<number>()
    let nextSlot = 0
    const fresh = () => {
      // ids at random, older and newer than those queued (as items moved up a tier are), and
      // few lengths, as alives have: most items fall into the middle of a length group
      let id = Math.floor(random() * 2 ** 30)
      while (ids.has(id)) id = Math.floor(random() * 2 ** 30)
      ids.add(id)
      return { slot: nextSlot++, key: tierKey(40 + Math.floor(random() * 6), id) }
    }
    const sortModel = () => model.sort((a, b) => a.key - b.key)
    let batches = 0
    for (let step = 0; step < 6_000; step++) {
      const r = random()
      if (r < 0.3) {
        const item = fresh()
        tier.insert(item.slot, item.key)
        model.push(item)
      } else if (r < 0.5) {
        // a batch in descending key order, as one take moves up a tier
        const size = 1 + Math.floor(random() * 60)
        const batch = Array.from({ length: size }, () => fresh())
        batch.sort((a, b) => b.key - a.key)
        tier.insertDescending(Int32Array.from(batch, (b) => b.slot), Float64Array.from(batch, (b) => b.key), 0, size)
        model.push(...batch)
        batches++
      } else {
        for (let n = Math.floor(random() * 21); n > 0 && model.length > 0; n--) {
          const [item] = model.splice(Math.floor(random() * model.length), 1)
          expect(tier.remove(item!.slot, item!.key)).toBe(true)
          expect(tier.remove(item!.slot, item!.key)).toBe(false)
        }
      }
      if (step % 499 === 0) {
        sortModel()
        expect(contents(tier)).toEqual(model.map((m) => m.slot))
      }
    }
    sortModel()
    expect(tier.length).toBe(model.length)
    expect(contents(tier)).toEqual(model.map((m) => m.slot))
    expect(model.length).toBeGreaterThan(2000)
    expect(batches).toBeGreaterThan(1000)
  })

  it("cuts a batch bigger than a block into blocks, into an empty tier and into a small one", () => {
    for (const queued of [0, 10]) {
      const tier = new Tier()
      for (let id = 0; id < queued; id++) tier.insert(id, tierKey(40 + (id % 3), id))
      const batch = Array.from({ length: 5000 }, (_, k) => ({ slot: 100 + k, key: tierKey(40 + (k % 4), 100 + k) }))
      batch.sort((a, b) => b.key - a.key)
      tier.insertDescending(Int32Array.from(batch, (b) => b.slot), Float64Array.from(batch, (b) => b.key), 0, batch.length)
      const want = [...batch, ...Array.from({ length: queued }, (_, id) => ({ slot: id, key: tierKey(40 + (id % 3), id) }))]
      want.sort((a, b) => a.key - b.key)
      expect(contents(tier)).toEqual(want.map((w) => w.slot))
      expect(tier.length).toBe(5000 + queued)
      expect(tier.blockCount).toBeGreaterThan(5000 / BLOCK)
      // every item is found again where its key says
      for (const w of want) expect(tier.remove(w.slot, w.key)).toBe(true)
      expect(tier.length).toBe(0)
    }
  })

  it("merges a batch into the blocks it falls into, older and newer keys alike", () => {
    const tier = new Tier()
    for (let id = 0; id < 600; id += 2) tier.insert(id, tierKey(50, id))
    // odd ids interleave with the queued even ones; one longer item goes past the end
    const batch = [tierKey(60, 1000), ...Array.from({ length: 40 }, (_, k) => tierKey(50, 599 - 2 * k))]
    tier.insertDescending(Int32Array.from([1000, ...Array.from({ length: 40 }, (_, k) => 599 - 2 * k)]), Float64Array.from(batch), 0, batch.length)
    const want = [...Array.from({ length: 300 }, (_, k) => 2 * k), ...Array.from({ length: 40 }, (_, k) => 521 + 2 * k), 1000]
    want.sort((a, b) => (a === 1000 ? 1 : b === 1000 ? -1 : a - b))
    expect(contents(tier)).toEqual(want)
    // the best fitting item under 55 bytes is the newest of length 50
    expect(tier.lastFitting(tier.blockCount, 0, 55)).toBe(true)
    expect(tier.at(tier.foundBlock, tier.foundOffset)).toBe(599)
  })

  it("shares one store between tiers: chunks a tier gives back serve another, and none is held twice", () => {
    const random = seeded(5)
    const store = new Blocks()
    const tiers = [new Tier(store), new Tier(store)]
    const models: Array<Array<{ slot: number; key: number }>> = [[], []]
    let next = 0
    const check = () => {
      for (let t = 0; t < 2; t++) {
        models[t]!.sort((a, b) => a.key - b.key)
        expect(contents(tiers[t]!)).toEqual(models[t]!.map((m) => m.slot))
      }
    }
    for (let step = 0; step < 3_000; step++) {
      const t = random() < 0.5 ? 0 : 1
      const tier = tiers[t]!
      const model = models[t]!
      if (random() < 0.55) {
        // a batch, as a take moves up a tier: sometimes bigger than a block
        const size = 1 + Math.floor(random() * (random() < 0.1 ? 3 * BLOCK : 50))
        const batch = Array.from({ length: size }, () => ({ slot: next, key: tierKey(40 + Math.floor(random() * 3), next++) }))
        batch.sort((a, b) => b.key - a.key)
        tier.insertDescending(Int32Array.from(batch, (b) => b.slot), Float64Array.from(batch, (b) => b.key), 0, size)
        model.push(...batch)
      } else {
        // the best items go, as a take walks them off
        for (let n = Math.floor(random() * 80); n > 0 && tier.length > 0; n--) {
          expect(tier.lastFitting(tier.blockCount, 0, 1000)).toBe(true)
          const slot = tier.at(tier.foundBlock, tier.foundOffset)
          tier.removeAt(tier.foundBlock, tier.foundOffset)
          model.sort((a, b) => a.key - b.key)
          expect(model.pop()!.slot).toBe(slot)
        }
      }
      if (step % 97 === 0) check()
    }
    check()
    // every chunk is given back once both tiers are empty
    for (const tier of tiers) while (tier.length > 0) tier.removeAt(0, 0)
    expect(store.used).toBe(0)
  })
})
