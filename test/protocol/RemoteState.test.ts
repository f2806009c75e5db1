/**
 * A push/pull state built by a node sharing the receiver's directory is merged from its digest of
 * ids, skipping the entries the receiver holds already: the outcome must be exactly that of
 * merging the same entries as plain objects, whatever the entries say and even when some ids
 * went stale in between.
 */
import { describe, expect, it } from "vitest"
import { Directory } from "../../src/protocol/Directory.ts"
import * as Msg from "../../src/protocol/Messages.ts"
import type { PushPull } from "../../src/protocol/Messages.ts"
import { NodeCore } from "../../src/protocol/Node.ts"
import { digestOf } from "../../src/protocol/StateDigest.ts"
import * as Timers from "../../src/protocol/Timer.ts"
import { alive, config, encodeJson, seeded } from "./helpers.ts"

const coreOn = (directory: Directory, name: string, ip: number) =>
  new NodeCore({
    config: config({ name }),
    encode: encodeJson,
    compoundHeaderOverhead: 2,
    compoundPartOverhead: 2,
    packetOverhead: () => 0,
    addr: Uint8Array.of(10, 0, 0, ip),
    port: 7946,
    random: seeded(7),
    directory
  }, 0)

const m = (i: number) => `m${i}`

/** What the sender knows: members in every situation a merge meets. */
const teachSender = (s: NodeCore) => {
  for (let i = 0; i < 40; i++) s.handlePacket("x", alive(m(i), i >= 10 && i < 15 ? 3 : 1, 100 + i), 1)
  s.handlePacket("x", alive("r", 1, 2), 1)
  s.handlePacket("x", alive(m(40), 1, 140, [1]), 1)
  for (const i of [30, 31]) s.handlePacket("x", Msg.suspect(1, m(i), "x"), 2)
  s.handlePacket("x", Msg.dead(1, m(32), m(32)), 2)
  for (const i of [33, 34]) s.handlePacket("x", Msg.dead(1, m(i), "x"), 2)
}

/** What each receiver knew before: the same for both. */
const teachReceiver = (r: NodeCore) => {
  for (let i = 0; i < 20; i++) r.handlePacket("x", alive(m(i), i >= 15 ? 2 : 1, 100 + i), 1)
  for (let i = 25; i < 28; i++) r.handlePacket("x", alive(m(i), 1, 200 + i), 1)
  for (const i of [28, 29]) {
    r.handlePacket("x", alive(m(i), 1, 100 + i), 1)
    r.handlePacket("x", Msg.dead(1, m(i), "x"), 2)
  }
  for (let i = 30; i < 35; i++) r.handlePacket("x", alive(m(i), 1, 100 + i), 1)
  r.handlePacket("x", alive(m(40), 1, 140), 1)
  r.drain()
}

/** The same entries without the directory's ids: plain objects, merged the long way. */
const plain = (state: PushPull): ReadonlyArray<Msg.PushNodeState> => state.nodes.map((n) => ({ ...n }))

/**
 * Everything a merge left behind: the table, the counters, the outputs, and whom the next gossip
 * goes to (dead members a remote still saw alive become targets again, see `noteReachable`).
 */
const outcome = (core: NodeCore, now: number) => {
  const merged = { members: core.members(), stats: core.stats(), outputs: core.drain() }
  for (let i = 1; i <= 10; i++) core.timer(Timers.gossipTick, now + i * 200)
  return { ...merged, gossip: core.drain() }
}

/** A sender's state and two receivers that know the same: one merges the state, one its entries copied. */
const twoReceivers = () => {
  const d = new Directory({ shareEncoded: true })
  const sender = coreOn(d, "s", 1)
  teachSender(sender)
  const [viaDigest, viaEntries] = [coreOn(d, "r", 2), coreOn(d, "r", 2)]
  teachReceiver(viaDigest)
  teachReceiver(viaEntries)
  return { d, sender, viaDigest, viaEntries, state: sender.localState(false) }
}

describe("RemoteState", () => {
  it("merging a state from its digest ends exactly as merging its entries one by one", () => {
    const { d, viaDigest, viaEntries, state } = twoReceivers()
    expect(digestOf(state)?.directory).toBe(d)
    // long after m28 and m29 died: only a remote that sees them alive makes them targets again
    const now = 40_000
    expect(viaDigest.mergeRemoteState(state, now)).toBeUndefined()
    expect(viaEntries.mergeRemoteState(plain(state), now)).toBeUndefined()
    const merged = outcome(viaDigest, now)
    expect(merged).toEqual(outcome(viaEntries, now))
    const gossipedTo = new Set(merged.gossip.flatMap((o) => o._tag === "SendPacket" ? [o.to] : []))
    expect(gossipedTo.has("10.0.0.128:7946") || gossipedTo.has("10.0.0.129:7946")).toBe(true)
    // it did merge: new members joined, updates and suspicions happened
    expect(merged.members.length).toBe(43)
    expect(merged.members.find((x) => x.name === m(12))).toMatchObject({ incarnation: 3 })
    expect(merged.members.find((x) => x.name === m(31))).toMatchObject({ state: "suspect" })
    expect(merged.members.find((x) => x.name === m(32))).toMatchObject({ state: "left" })
    expect(merged.members.find((x) => x.name === m(33))).toMatchObject({ state: "suspect" })
    expect(merged.members.find((x) => x.name === m(27))).toMatchObject({ address: "10.0.0.227:7946" })
    expect(merged.members.find((x) => x.name === m(40))!.meta).toEqual(new Uint8Array(0))
  })

  it("an entry whose announcement was forgotten since the state was built is read from the entry", () => {
    const { d, sender, viaDigest, viaEntries, state } = twoReceivers()
    const entries = plain(state)
    // only the sender held m22's announcement: a new one replaces it and its id is given back
    sender.handlePacket("x", alive(m(22), 2, 122, [5]), 6)
    // ...and taken by another member's announcement
    sender.handlePacket("x", alive("n", 1, 77), 6)
    const digest = digestOf(state)!.words
    const at = state.nodes.findIndex((n) => n.name === m(22))
    expect(d.vouched(digest, at)).toBe(-1)
    expect(d.vouched(digest, state.nodes.findIndex((n) => n.name === m(3)))).toBeGreaterThanOrEqual(0)
    expect(viaDigest.mergeRemoteState(state, 7)).toBeUndefined()
    expect(viaEntries.mergeRemoteState(entries, 7)).toBeUndefined()
    const merged = outcome(viaDigest, 7)
    expect(merged).toEqual(outcome(viaEntries, 7))
    expect(merged.members.find((x) => x.name === m(22))).toMatchObject({ incarnation: 1, address: "10.0.0.122:7946" })
    expect(merged.members.find((x) => x.name === "n")).toBeUndefined()
  })
})
