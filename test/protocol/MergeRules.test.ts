import { describe, expect, it } from "vitest"
import * as Msg from "../../src/protocol/Messages.ts"
import { alive, armedIn, makeCore, outputsOf, sentMessages, VSN } from "./helpers.ts"

const events = (core: ReturnType<typeof makeCore>) => outputsOf(core.drain(), "Publish").map((p) => p.event._tag)

describe("alive", () => {
  it("adds an unknown node as joined; ignores equal or older incarnations", () => {
    const core = makeCore("self")
    core.drain()
    core.handlePacket("x", alive("a", 1, 2), 10)
    expect(events(core)).toEqual(["MemberJoined"])
    expect(core.member("a")).toMatchObject({ state: "alive", incarnation: 1, address: "10.0.0.2:7946" })
    core.handlePacket("x", alive("a", 1, 2, [9]), 20)
    core.handlePacket("x", alive("a", 0, 2, [9]), 20)
    expect(events(core)).toEqual([])
    expect(core.member("a")!.meta).toEqual(new Uint8Array(0))
  })

  it("a newer incarnation with new metadata is an update, re-gossiped", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.drain()
    core.handlePacket("x", alive("a", 2, 2, [1, 2]), 5)
    expect(events(core)).toEqual(["MemberUpdated"])
    expect(core.member("a")).toMatchObject({ incarnation: 2, meta: Uint8Array.of(1, 2) })
  })

  it("never accepts incarnation 0 for a new node, nor a Vsn that is not 6 sane bytes", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 0, 2), 0)
    core.handlePacket("x", { ...alive("b", 1, 3), vsn: Uint8Array.of(1, 5, 2) }, 0)
    core.handlePacket("x", { ...alive("c", 1, 4), vsn: null }, 0)
    core.handlePacket("x", { ...alive("d", 1, 5), vsn: Uint8Array.of(0, 5, 2, 0, 0, 0) }, 0)
    expect(core.numNodes).toBe(1)
    expect(core.stats().rejectedAlives).toBe(3)
  })

  it("a conflicting address is refused unless the old node left", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.handlePacket("x", alive("a", 2, 9), 0)
    expect(core.member("a")!.address).toBe("10.0.0.2:7946")
    expect(core.stats().conflicts).toBe(1)
    core.handlePacket("x", Msg.dead(2, "a", "a"), 0)
    expect(core.member("a")!.state).toBe("left")
    core.drain()
    // Same incarnation is enough to reclaim a left name at a new address.
    core.handlePacket("x", alive("a", 2, 9), 0)
    expect(core.member("a")).toMatchObject({ state: "alive", address: "10.0.0.9:7946" })
    expect(events(core)).toEqual(["MemberJoined"])
  })

  it("a dead node's address is reclaimed only after deadNodeReclaimTime", () => {
    const core = makeCore("self", { deadNodeReclaimTime: 5000 })
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.handlePacket("x", Msg.dead(1, "a", "b"), 1000)
    core.handlePacket("x", alive("a", 2, 9), 3000)
    expect(core.member("a")!.state).toBe("dead")
    core.handlePacket("x", alive("a", 2, 9), 6001)
    expect(core.member("a")).toMatchObject({ state: "alive", address: "10.0.0.9:7946" })
  })
})

describe("suspect", () => {
  it("marks an alive node suspect at an equal or newer incarnation and arms the Lifeguard timer", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 3, 2), 0)
    core.drain()
    core.handlePacket("x", Msg.suspect(2, "a", "b"), 100)
    expect(core.member("a")!.state).toBe("alive")
    core.handlePacket("x", Msg.suspect(3, "a", "b"), 100)
    const out = core.drain()
    expect(core.member("a")).toMatchObject({ state: "suspect", stateChange: 100 })
    // 2 nodes: k = 0, min = 4 s
    expect(armedIn(out, "SuspicionTimeout")).toMatchObject({ at: 4100, timer: { member: "a" } })
    expect(outputsOf(out, "Publish").map((p) => p.event)).toMatchObject([{ _tag: "MemberSuspected", from: "b" }])
  })

  it("an alive with a newer incarnation refutes it: alive again, timer cancelled", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.handlePacket("x", Msg.suspect(1, "a", "b"), 0)
    core.drain()
    core.handlePacket("x", alive("a", 2, 2), 50)
    const out = core.drain()
    expect(core.member("a")!.state).toBe("alive")
    expect(outputsOf(out, "CancelTimer").map((c) => c.timer)).toMatchObject([{ _tag: "SuspicionTimeout", member: "a" }])
    expect(outputsOf(out, "Publish").map((p) => p.event._tag)).toEqual(["MemberAlive"])
  })

  it("the timer declares the node dead unless refuted", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.handlePacket("x", Msg.suspect(1, "a", "b"), 0)
    const armed = armedIn(core.drain(), "SuspicionTimeout")!
    expect(armed.at).toBe(4000)
    core.timer(armed.timer, 4000)
    expect(core.member("a")!.state).toBe("dead")
    expect(outputsOf(core.drain(), "Publish").map((p) => p.event)).toMatchObject([{ _tag: "MemberFailed", from: "self" }])
  })

  it("about ourselves: refute with max(own + 1, accused + 1) and lose a health point", () => {
    const core = makeCore("self")
    core.drain()
    core.handlePacket("x", Msg.suspect(1, "self", "b"), 0)
    expect(core.local.incarnation).toBe(2)
    core.handlePacket("x", Msg.suspect(7, "self", "b"), 0)
    expect(core.local.incarnation).toBe(8)
    expect(core.healthScore).toBe(2)
    expect(core.stats().refutations).toBe(2)
  })
})

describe("dead", () => {
  it("From == Node is a graceful leave; otherwise a failure", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.handlePacket("x", alive("b", 1, 3), 0)
    core.drain()
    core.handlePacket("x", Msg.dead(1, "a", "a"), 10)
    core.handlePacket("x", Msg.dead(1, "b", "c"), 10)
    expect(core.member("a")!.state).toBe("left")
    expect(core.member("b")!.state).toBe("dead")
    expect(events(core)).toEqual(["MemberLeft", "MemberFailed"])
    core.handlePacket("x", Msg.dead(1, "b", "c"), 10)
    expect(events(core)).toEqual([])
  })

  it("an older incarnation is ignored; a dead about ourselves is refuted", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 5, 2), 0)
    core.handlePacket("x", Msg.dead(4, "a", "c"), 0)
    expect(core.member("a")!.state).toBe("alive")
    core.handlePacket("x", Msg.dead(1, "self", "c"), 0)
    expect(core.local).toMatchObject({ state: "alive", incarnation: 2 })
  })

  it("leave marks ourselves left, broadcasts it and ignores alives about us", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    core.drain()
    const notify = core.leave(0)
    expect(notify).toBeDefined()
    expect(core.local.state).toBe("left")
    core.handlePacket("x", alive("self", 9, 1), 0)
    expect(core.local).toMatchObject({ state: "left", incarnation: 1 })
  })
})

describe("push/pull merge", () => {
  it("alive merges as alive, left as left, dead and suspect only as suspect", () => {
    const core = makeCore("self")
    const state = (name: string, s: 0 | 1 | 2 | 3, ip: number) => ({
      name,
      addr: Uint8Array.of(10, 0, 0, ip),
      port: 7946,
      meta: null,
      incarnation: 1,
      state: s,
      vsn: VSN
    })
    core.handlePacket("x", alive("c", 1, 4), 0)
    core.handlePacket("x", alive("d", 1, 5), 0)
    core.handlePacket("x", alive("b", 1, 3), 0)
    const error = core.mergeRemoteState([state("a", 0, 2), state("b", 3, 3), state("c", 2, 4), state("d", 1, 5)], 0)
    expect(error).toBeUndefined()
    expect(["a", "b", "c", "d"].map((n) => core.member(n)!.state)).toEqual(["alive", "left", "suspect", "suspect"])
  })

  it("refuses (and merges nothing) when versions are incompatible", () => {
    const core = makeCore("self")
    const serf = Uint8Array.of(1, 5, 2, 2, 5, 5)
    const error = core.mergeRemoteState([
      { name: "a", addr: Uint8Array.of(10, 0, 0, 2), port: 1, meta: null, incarnation: 1, state: 0, vsn: serf }
    ], 0)
    expect(error?.message).toMatch(/delegate protocol version \(0\) is incompatible: \[2, 0\]|incompatible/)
    expect(core.member("a")).toBeUndefined()
  })

  it("names the first member out of the combined version range, in a state or in the table", () => {
    const entry = (name: string, ip: number, vsn: Uint8Array) => ({
      name,
      addr: Uint8Array.of(10, 0, 0, ip),
      port: 1,
      meta: null,
      incarnation: 1,
      state: Msg.WireState.alive,
      vsn
    })
    // one member that needs protocol 2 at least; everyone else shares the same vector array
    const modern = Uint8Array.of(2, 5, 2, 0, 0, 0)
    const legacy = Uint8Array.of(1, 5, 1, 0, 0, 0)
    const shared = [entry("a", 2, VSN), entry("b", 3, VSN), entry("c", 4, modern), entry("d", 5, VSN)]

    const fromState = makeCore("self")
    const error = fromState.mergeRemoteState([...shared, entry("e", 6, VSN), entry("z", 7, legacy)], 0)
    expect(error?.message).toBe("node 'z' protocol version (1) is incompatible: [2, 5]")
    expect(fromState.member("a")).toBeUndefined()

    const fromTable = makeCore("self")
    fromTable.handlePacket("x", alive("t", 1, 9), 0)
    fromTable.handlePacket("x", { ...alive("u", 1, 10), vsn: legacy }, 0)
    expect(fromTable.member("u")?.state).toBe("alive")
    expect(fromTable.mergeRemoteState(shared, 0)?.message).toBe("node 'u' protocol version (1) is incompatible: [2, 5]")
    expect(fromTable.mergeRemoteState([entry("a", 2, VSN)], 0)).toBeUndefined()
  })

  it("the local state lists every entry with 6 version bytes", () => {
    const core = makeCore("self")
    core.handlePacket("x", alive("a", 1, 2), 0)
    const s = core.localState(true)
    expect(s.join).toBe(true)
    expect(s.nodes.map((n) => [n.name, n.vsn!.length]).sort()).toEqual([["a", 6], ["self", 6]])
  })
})

describe("ping handling", () => {
  it("answers to SourceAddr:SourcePort, and ignores pings meant for another node", () => {
    const core = makeCore("self")
    core.drain()
    core.handlePacket("10.0.0.9:1234", Msg.ping(7, "self", Uint8Array.of(10, 0, 0, 2), "a", 7000), 0)
    core.handlePacket("10.0.0.9:1234", Msg.ping(8, "", null, "", 0), 0)
    core.handlePacket("10.0.0.9:1234", Msg.ping(9, "other", null, "", 0), 0)
    const sent = sentMessages(core.drain())
    expect(sent.filter((s) => s.message._tag === "Ack").map((s) => [s.to, (s.message as Msg.Ack).seqNo])).toEqual([
      ["10.0.0.2:7000", 7],
      ["10.0.0.9:1234", 8]
    ])
    // Our own bootstrap alive rides along as piggybacked gossip.
    expect(sent.filter((s) => s.message._tag === "Alive").map((s) => (s.message as Msg.Alive).node)).toContain("self")
  })
})
