/**
 * `NodeCore.repeats` picks out, from a datagram, the alives a node sharing the receiver's
 * directory built that the receiver holds word for word. The node's actor drops those unread,
 * all of a datagram's at once before handling the rest: the outcome must be exactly that of
 * handling every message.
 */
import { describe, expect, it } from "vitest"
import { Directory } from "../../src/protocol/Directory.ts"
import * as Msg from "../../src/protocol/Messages.ts"
import type { PacketMessage } from "../../src/protocol/Messages.ts"
import { NodeCore } from "../../src/protocol/Node.ts"
import * as Timers from "../../src/protocol/Timer.ts"
import { alive, config, encodeJson, seeded } from "./helpers.ts"

const coreOn = (directory: Directory, name: string, ip: number, seen?: Array<PacketMessage>) =>
  new NodeCore({
    config: config({ name }),
    encode: (m) => {
      seen?.push(m)
      return encodeJson(m)
    },
    compoundHeaderOverhead: 2,
    compoundPartOverhead: 2,
    packetOverhead: () => 0,
    addr: Uint8Array.of(10, 0, 0, ip),
    port: 7946,
    random: seeded(3),
    directory
  }, 0)

const m = (i: number) => `m${i}`

describe("repeats", () => {
  it("drops, a datagram at a time, only alives whose handling would change nothing", () => {
    const d = new Directory({ shareEncoded: true })
    // what the sender gossips: the very alive objects its directory built
    const built: Array<PacketMessage> = []
    const sender = coreOn(d, "s", 1, built)
    for (let i = 0; i < 12; i++) sender.handlePacket("x", alive(m(i), 1, 100 + i), 1)
    sender.handlePacket("x", alive(m(3), 2, 103), 2)
    sender.handlePacket("x", alive(m(4), 2, 104, [7]), 2)
    sender.handlePacket("x", alive("r", 1, 2), 2)
    const built1 = (name: string, incarnation: number) =>
      built.find((x): x is Msg.Alive => x._tag === "Alive" && x.node === name && x.incarnation === incarnation)!
    // m0…m11 at 1, then m3 and m4 (new metadata) at 2, then r (the receiver's name: an echo)
    const alives = [...Array.from({ length: 12 }, (_, i) => built1(m(i), 1)), built1(m(3), 2), built1(m(4), 2), built1("r", 1)]
    expect(alives.every((a) => a !== undefined)).toBe(true)
    // m4's first announcement was forgotten when its metadata changed: that alive no longer vouches
    expect(alives.map((a) => d.announcementOf(a) >= 0)).toEqual(alives.map((a) => a !== alives[4]))

    const teach = (r: NodeCore) => {
      for (let i = 0; i < 8; i++) r.handlePacket("x", alive(m(i), 1, 100 + i), 1)
      r.handlePacket("x", Msg.dead(1, m(5), "x"), 2)
      r.handlePacket("x", Msg.suspect(1, m(6), "x"), 2)
      r.drain()
    }
    const all = coreOn(d, "r", 2)
    const screened = coreOn(d, "r", 2)
    teach(all)
    teach(screened)
    // learnt from the sender's own gossip first: now held word for word
    for (const a of alives.slice(0, 4)) {
      all.handlePacket("x", a, 3)
      screened.handlePacket("x", a, 3)
    }
    // datagrams mixing repeats, news, a plain alive, an echo of the receiver, and other messages;
    // within one, a repeat follows the news that makes it one
    const datagrams: Array<ReadonlyArray<PacketMessage>> = [
      [alives[0]!, alives[12]!, alives[1]!, Msg.suspect(1, m(2), "x"), alives[2]!],
      [alives[5]!, alives[5]!, alive(m(1), 1, 101), alives[6]!, alives[14]!, alives[14]!],
      [alives[13]!, alives[3]!, Msg.dead(1, m(7), "x"), alives[7]!, alives[0]!, alives[12]!]
    ]
    let dropped = 0
    datagrams.forEach((messages, k) => {
      const now = 10 + k
      for (const x of messages) all.handlePacket("x", x, now)
      const repeats = messages.map((x) => screened.repeats(x))
      messages.forEach((x, i) => {
        if (repeats[i]) dropped++
        else screened.handlePacket("x", x, now)
      })
    })
    expect(dropped).toBeGreaterThanOrEqual(5)
    const outcome = (core: NodeCore) => {
      const state = { members: core.members(), stats: core.stats(), outputs: core.drain() }
      for (let i = 1; i <= 10; i++) core.timer(Timers.gossipTick, 20 + i * 200)
      return { ...state, gossip: core.drain() }
    }
    expect(outcome(screened)).toEqual(outcome(all))
    // news is never a repeat, nor is anything but an interned alive
    expect(screened.repeats(alive(m(0), 1, 100))).toBe(false)
    expect(screened.repeats(Msg.dead(9, m(0), "x"))).toBe(false)
  })
})
