import { describe, expect, it } from "vitest"
import { Awareness } from "../../src/protocol/Awareness.ts"
import {
  pushPullScale,
  remainingSuspicionTime,
  retransmitLimit,
  Suspicion,
  suspicionTimeout
} from "../../src/protocol/Suspicion.ts"

describe("suspicion timeout (Lifeguard)", () => {
  // LAN: suspicionMult 4, max-mult 6, probe interval 1 s.
  it("3 nodes: min 4 s and no confirmations expected", () => {
    const min = suspicionTimeout(4, 3, 1000)
    expect(min).toBe(4000)
    const s = new Suspicion("a", 0, min, 6 * min, 0)
    expect(s.deadline).toBe(4000)
    expect(s.confirm("b", 100)).toBe(false)
    expect(s.deadline).toBe(4000)
  })

  it("10 nodes: 24 s with no confirmation, 11.381 s after one, 4 s after two", () => {
    const min = suspicionTimeout(4, 10, 1000)
    const max = 6 * min
    expect([min, max]).toEqual([4000, 24000])
    const s = new Suspicion("a", 2, min, max, 1000)
    expect(s.deadline).toBe(25_000)
    expect(s.confirm("b", 2000)).toBe(true)
    expect(s.deadline).toBe(1000 + 11_381)
    expect(s.confirm("b", 2500)).toBe(false) // same confirmer counts once
    expect(s.confirm("a", 2500)).toBe(false) // the accuser is not a confirmation
    expect(s.confirm("c", 3000)).toBe(true)
    expect(s.deadline).toBe(5000)
    expect(s.confirm("d", 3000)).toBe(false) // k reached
    expect(s.count).toBe(2)
  })

  it("100 nodes: min 8 s, max 48 s", () => {
    const min = suspicionTimeout(4, 100, 1000)
    expect(min).toBe(8000)
    expect(6 * min).toBe(48_000)
  })

  it("scales with log10(n) at millisecond precision", () => {
    expect(suspicionTimeout(4, 50, 1000)).toBe(6792) // log10(50) = 1.69897 -> 1698
    expect(suspicionTimeout(4, 1, 1000)).toBe(4000)
    expect(suspicionTimeout(6, 1000, 5000)).toBe(90_000) // WAN, 1000 nodes
  })

  it("a confirmation past the deadline fires immediately", () => {
    const s = new Suspicion("a", 2, 4000, 24_000, 0)
    expect(s.confirm("b", 20_000)).toBe(true)
    expect(s.deadline).toBe(20_000)
  })

  it("remaining time never drops below min", () => {
    expect(remainingSuspicionTime(2, 2, 0, 4000, 24_000)).toBe(4000)
    expect(remainingSuspicionTime(5, 2, 0, 4000, 24_000)).toBe(4000)
    expect(remainingSuspicionTime(1, 2, 1000, 4000, 24_000)).toBe(10_381)
  })
})

describe("retransmit limit and push/pull scale", () => {
  it("retransmitMult × ceil(log10(n + 1))", () => {
    expect(retransmitLimit(4, 3)).toBe(4)
    expect(retransmitLimit(4, 9)).toBe(4)
    expect(retransmitLimit(4, 10)).toBe(8)
    expect(retransmitLimit(4, 100)).toBe(12)
    expect(retransmitLimit(2, 1)).toBe(2)
  })

  it("push/pull interval grows past 32 nodes", () => {
    expect(pushPullScale(30_000, 32)).toBe(30_000)
    expect(pushPullScale(30_000, 64)).toBe(60_000)
    expect(pushPullScale(30_000, 100)).toBe(90_000)
    expect(pushPullScale(30_000, 1000)).toBe(180_000)
  })
})

describe("awareness", () => {
  it("stays within [0, max - 1] and scales timeouts", () => {
    const a = new Awareness(8)
    expect(a.scaleTimeout(1000)).toBe(1000)
    a.applyDelta(3)
    expect(a.score).toBe(3)
    expect(a.scaleTimeout(1000)).toBe(4000)
    a.applyDelta(100)
    expect(a.score).toBe(7)
    a.applyDelta(-100)
    expect(a.score).toBe(0)
  })

  it("does nothing when disabled", () => {
    const a = new Awareness(8, false)
    a.applyDelta(5)
    expect(a.score).toBe(0)
    expect(a.scaleTimeout(500)).toBe(500)
  })
})
