/**
 * The probe cycle of the pure core, step by step with explicit times.
 */
import { describe, expect, it } from "vitest"
import * as Msg from "../../src/protocol/Messages.ts"
import * as Timer from "../../src/protocol/Timer.ts"
import { alive, armedIn, decodeJson, fireProbeTimeout, makeCore, outputsOf, sentMessages } from "./helpers.ts"

/** A core that knows `n` other alive members `m1…mn` (10.0.0.2…). */
const withMembers = (n: number, overrides = {}) => {
  const core = makeCore("self", overrides)
  for (let i = 1; i <= n; i++) core.handlePacket("x", alive(`m${i}`, 1, i + 1), 0)
  core.drain()
  return core
}

const pings = (out: ReturnType<ReturnType<typeof makeCore>["drain"]>) =>
  sentMessages(out).filter((s) => s.message._tag === "Ping").map((s) => s.message as Msg.Ping)

describe("probe target selection", () => {
  it("visits every live member once per round, in a shuffled order", () => {
    const core = withMembers(4)
    const rounds: Array<Array<string>> = []
    for (let round = 0; round < 3; round++) {
      const targets: Array<string> = []
      for (let i = 0; i < 4; i++) {
        const t = round * 4000 + i * 1000
        core.timer(Timer.probeTick, t)
        const [ping] = pings(core.drain())
        targets.push(ping!.node)
        core.handlePacket("x", Msg.ack(ping!.seqNo, null), t + 5)
        core.drain()
      }
      rounds.push(targets)
    }
    for (const r of rounds) expect([...r].sort()).toEqual(["m1", "m2", "m3", "m4"])
    expect(rounds.some((r) => r.join() !== rounds[0]!.join())).toBe(true)
  })

  it("skips dead and left members, probes suspects", () => {
    const core = withMembers(3)
    core.handlePacket("x", Msg.dead(1, "m1", "z"), 0)
    core.handlePacket("x", Msg.dead(1, "m2", "m2"), 0)
    core.handlePacket("x", Msg.suspect(1, "m3", "z"), 0)
    core.drain()
    for (let i = 0; i < 4; i++) {
      core.timer(Timer.probeTick, i * 1000)
      const out = core.drain()
      const packet = outputsOf(out, "SendPacket")[0]!
      const messages = packet.parts.map(decodeJson)
      // Buddy system: the suspect is told it is suspected, in the same packet as the ping.
      expect(messages.map((m) => m._tag)).toEqual(["Ping", "Suspect"])
      expect((messages[0] as Msg.Ping).node).toBe("m3")
      expect(packet.checksum).toBe(true)
      core.handlePacket("x", Msg.ack((messages[0] as Msg.Ping).seqNo, null), i * 1000 + 1)
      core.drain()
    }
  })
})

describe("one failed probe", () => {
  it("ping at t, indirect pings and a TCP ping at t + probeTimeout, suspicion at t + probeInterval", () => {
    const core = withMembers(4)
    core.timer(Timer.probeTick, 10_000)
    const out0 = core.drain()
    const [ping] = pings(out0)
    expect(armedIn(out0, "ProbeTimeout")!.at).toBe(10_500)

    fireProbeTimeout(core, 10_500)
    const out1 = core.drain()
    const indirect = sentMessages(out1).filter((s) => s.message._tag === "IndirectPing")
    expect(indirect).toHaveLength(3)
    for (const s of indirect) {
      expect(s.message).toMatchObject({ seqNo: ping!.seqNo, node: ping!.node, nack: true, sourceNode: "self" })
    }
    expect(outputsOf(out1, "TcpPing")).toMatchObject([{ seqNo: ping!.seqNo, node: ping!.node, deadline: 11_000 }])
    expect(armedIn(out1, "ProbeTimeout")!.at).toBe(11_000)

    // One helper answers with a nack; the deadline passes; the fallback reports failure.
    core.handlePacket("x", Msg.nack(ping!.seqNo), 10_900)
    fireProbeTimeout(core, 11_000)
    expect(core.member(ping!.node)!.state).toBe("alive") // still waiting for the TCP ping
    core.tcpPingResult(ping!.seqNo, false, 11_000)
    expect(core.member(ping!.node)).toMatchObject({ state: "suspect", stateChange: 11_000 })
    // 3 nacks expected, 1 received: health score + 2
    expect(core.healthScore).toBe(2)
    expect(core.stats().probeFailures).toBe(1)
  })

  it("the next probe interval is stretched by the health score", () => {
    const core = withMembers(4)
    core.timer(Timer.probeTick, 0)
    const [ping] = pings(core.drain())
    fireProbeTimeout(core, 500)
    fireProbeTimeout(core, 1000)
    core.tcpPingResult(ping!.seqNo, false, 1000)
    core.drain()
    expect(core.healthScore).toBe(3)
    core.timer(Timer.probeTick, 2000)
    const out = core.drain()
    // probe timeout stays 500 ms; the whole probe may take probeInterval × (3 + 1)
    expect(armedIn(out, "ProbeTimeout")!.at).toBe(2500)
    fireProbeTimeout(core, 2500)
    expect(outputsOf(core.drain(), "TcpPing")[0]!.deadline).toBe(6000)
  })

  it("an ack relayed by a helper, or a TCP ping that got through, is a success", () => {
    const core = withMembers(4)
    core.timer(Timer.probeTick, 0)
    const [ping] = pings(core.drain())
    fireProbeTimeout(core, 500)
    core.drain()
    core.handlePacket("x", Msg.ack(ping!.seqNo, null), 700)
    expect(outputsOf(core.drain(), "CancelTimer").map((c) => c.timer._tag)).toContain("ProbeTimeout")
    expect(core.member(ping!.node)!.state).toBe("alive")

    core.timer(Timer.probeTick, 1000)
    const [ping2] = pings(core.drain())
    fireProbeTimeout(core, 1500)
    core.tcpPingResult(ping2!.seqNo, true, 1800)
    fireProbeTimeout(core, 2000)
    expect(core.member(ping2!.node)!.state).toBe("alive")
    expect(core.stats().probeFailures).toBe(0)
  })

  it("a tick that arrives during a probe starts the next probe as soon as it ends", () => {
    const core = withMembers(4)
    core.timer(Timer.probeTick, 0)
    const [first] = pings(core.drain())
    core.timer(Timer.probeTick, 1000) // the probe is still running (its fallback is out)
    expect(pings(core.drain())).toHaveLength(0)
    fireProbeTimeout(core, 500)
    fireProbeTimeout(core, 1000)
    core.tcpPingResult(first!.seqNo, false, 1200)
    const next = pings(core.drain())
    expect(next).toHaveLength(1)
    expect(next[0]!.seqNo).not.toBe(first!.seqNo)
  })
})

describe("helping with an indirect probe", () => {
  const request = (nack: boolean): Msg.IndirectPing => ({
    _tag: "IndirectPing",
    seqNo: 77,
    target: Uint8Array.of(10, 0, 0, 9),
    port: 7946,
    node: "t",
    nack,
    sourceAddr: Uint8Array.of(10, 0, 0, 8),
    sourceNode: "prober",
    sourcePort: 7000
  })

  it("relays the target's ack with the requester's sequence number", () => {
    const core = withMembers(1)
    core.handlePacket("10.0.0.8:5555", request(true), 0)
    const out = core.drain()
    const [ping] = pings(out)
    expect(ping).toMatchObject({ node: "t" })
    core.handlePacket("10.0.0.9:7946", Msg.ack(ping!.seqNo, null), 100)
    const acked = core.drain()
    const relayed = sentMessages(acked).filter((s) => s.message._tag === "Ack")
    expect(relayed).toMatchObject([{ to: "10.0.0.8:7000", message: { seqNo: 77 } }])
    const relay = armedIn(out, "RelayTimeout")!
    expect(outputsOf(acked, "CancelTimer").map((c) => c.timer)).toContain(relay.timer)
    core.timer(relay.timer, 500) // stale: nothing more
    expect(sentMessages(core.drain())).toHaveLength(0)
  })

  it("sends a nack after probeTimeout when asked to and the target is silent", () => {
    const core = withMembers(1)
    core.handlePacket("10.0.0.8:5555", request(true), 0)
    const out = core.drain()
    const [ping] = pings(out)
    expect(armedIn(out, "RelayTimeout")).toMatchObject({ at: 500, timer: { seqNo: ping!.seqNo } })
    core.timer(armedIn(out, "RelayTimeout")!.timer, 500)
    const nacks = (out: ReturnType<typeof core.drain>) =>
      sentMessages(out).filter((s) => s.message._tag === "Nack").map((s) => [s.to, s.message])
    expect(nacks(core.drain())).toEqual([["10.0.0.8:7000", Msg.nack(77)]])
    core.handlePacket("10.0.0.8:5555", request(false), 600)
    const out2 = core.drain()
    expect(pings(out2)).toHaveLength(1)
    core.timer(armedIn(out2, "RelayTimeout")!.timer, 1100)
    expect(nacks(core.drain())).toHaveLength(0)
  })
})
