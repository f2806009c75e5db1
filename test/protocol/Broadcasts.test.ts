import { assert, describe, expect, it } from "vitest"
import { BroadcastQueue } from "../../src/protocol/Broadcasts.ts"
import { gossipTick } from "../../src/protocol/Timer.ts"
import { alive, armedIn, makeCore, outputsOf, sentMessages } from "./helpers.ts"

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
