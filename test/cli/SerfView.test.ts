/**
 * The serf member list kept by `gossip agent`: serf's status rules for
 * memberlist changes and for join and leave intents, force-leave and prune,
 * what is kept after the engine forgets a member, and every bound.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Member, MemberState } from "../../src/Member.ts"
import { encodeLeaveIntent, encodeJoinIntent } from "../../src/serf/Messages.ts"
import { DEFAULT_LIMITS, SerfView } from "../../src/cli/SerfView.ts"
import { decodePushPullState } from "../../src/serf/PushPullState.ts"
import { encodedKey, MsgpackWriter } from "../../src/codec/msgpack/Writer.ts"

const member = (name: string, state: MemberState, incarnation = 1, address = "127.0.0.1:7946"): Member => ({
  name,
  addr: new Uint8Array([127, 0, 0, 1]),
  host: "127.0.0.1",
  port: 7946,
  address,
  meta: new Uint8Array(0),
  application: undefined,
  incarnation,
  state,
  stateChange: 0,
  protocolMin: 1,
  protocolMax: 5,
  protocolCur: 2,
  delegateMin: 2,
  delegateMax: 5,
  delegateCur: 5
})

const statusOf = (view: SerfView, name: string) => view.get(name)?.status

describe("SerfView", () => {
  it("maps memberlist changes to serf statuses: alive, failed, left; suspect stays alive", () => {
    const view = new SerfView("self")
    view.observe(member("a", "alive"), 0, true)
    assert.strictEqual(statusOf(view, "a"), "alive")
    view.observe(member("a", "suspect"), 1)
    assert.strictEqual(statusOf(view, "a"), "alive")
    view.observe(member("a", "dead"), 2)
    assert.strictEqual(statusOf(view, "a"), "failed")
    view.observe(member("a", "alive", 2), 3, true)
    assert.strictEqual(statusOf(view, "a"), "alive")
    view.observe(member("a", "left", 2), 4)
    assert.strictEqual(statusOf(view, "a"), "left")
  })

  it("a leave intent makes an alive member leaving, then left when memberlist drops it, even as dead", () => {
    const view = new SerfView("self")
    view.observe(member("a", "alive"), 0, true)
    assert.strictEqual(view.leaveIntent("a", 5, false, 1), "applied")
    assert.strictEqual(statusOf(view, "a"), "leaving")
    assert.strictEqual(view.get("a")?.statusLTime, 5)
    // serf records a leaving member that memberlist reports dead as left
    view.observe(member("a", "dead"), 2)
    assert.strictEqual(statusOf(view, "a"), "left")
  })

  it("ignores intents not newer than the member's status time, and intents about itself", () => {
    const view = new SerfView("self")
    view.observe(member("a", "alive"), 0, true)
    assert.strictEqual(view.joinIntent("a", 7, 0), "applied")
    assert.strictEqual(view.leaveIntent("a", 7, false, 0), "old")
    assert.strictEqual(view.leaveIntent("a", 6, false, 0), "old")
    assert.strictEqual(statusOf(view, "a"), "alive")
    view.observe(member("self", "alive"), 0)
    assert.strictEqual(view.leaveIntent("self", 100, false, 0), "self")
    assert.strictEqual(statusOf(view, "self"), "alive")
  })

  it("a newer join intent ends leaving; so does memberlist announcing the member again", () => {
    const view = new SerfView("self")
    view.observe(member("a", "alive"), 0, true)
    view.leaveIntent("a", 3, false, 0)
    assert.strictEqual(view.joinIntent("a", 4, 0), "applied")
    assert.strictEqual(statusOf(view, "a"), "alive")
    view.leaveIntent("a", 5, false, 0)
    view.observe(member("a", "alive"), 1) // a table refresh alone does not end it
    assert.strictEqual(statusOf(view, "a"), "leaving")
    view.observe(member("a", "alive", 2), 2, true)
    assert.strictEqual(statusOf(view, "a"), "alive")
  })

  it("force-leave: a failed member becomes left; with prune it is erased and stays hidden while the engine lists it", () => {
    const view = new SerfView("self")
    view.observe(member("a", "alive"), 0, true)
    view.observe(member("a", "dead"), 10)
    assert.strictEqual(view.leaveIntent("a", 1, false, 20), "applied")
    assert.strictEqual(statusOf(view, "a"), "left")
    // the engine still says dead: left stays left
    view.reconcile([member("a", "dead")], 30)
    assert.strictEqual(statusOf(view, "a"), "left")
    // prune a left member
    assert.strictEqual(view.leaveIntent("a", 2, true, 40), "applied")
    assert.isUndefined(view.get("a"))
    view.reconcile([member("a", "dead")], 50)
    assert.isUndefined(view.get("a"), "erased while the engine still lists it dead")
    // it comes back alive: listed again
    view.observe(member("a", "alive", 5), 60, true)
    assert.strictEqual(statusOf(view, "a"), "alive")
  })

  it("prune on a leaving member erases it once it has left", () => {
    const view = new SerfView("self")
    view.observe(member("a", "alive"), 0, true)
    view.leaveIntent("a", 1, true, 0)
    assert.strictEqual(statusOf(view, "a"), "leaving")
    view.observe(member("a", "left"), 1)
    assert.isUndefined(view.get("a"))
  })

  it("keeps an intent about an unknown member (the newest) and applies it when the member appears", () => {
    const view = new SerfView("self")
    assert.strictEqual(view.joinIntent("a", 3, 0), "pending")
    assert.strictEqual(view.leaveIntent("a", 2, false, 0), "old")
    assert.strictEqual(view.leaveIntent("a", 4, false, 0), "pending")
    view.observe(member("a", "alive"), 1, true)
    assert.strictEqual(statusOf(view, "a"), "leaving")
    assert.strictEqual(view.get("a")?.statusLTime, 4)
  })

  it("early intents are bounded in number and in age", () => {
    const view = new SerfView("self", { ...DEFAULT_LIMITS, maxPendingIntents: 3, pendingIntentTimeout: 1000 })
    for (let i = 0; i < 10; i++) view.joinIntent(`n${i}`, 1, 0)
    view.observe(member("n0", "alive"), 0)
    assert.strictEqual(view.get("n0")?.statusLTime, 0, "the oldest were dropped")
    view.observe(member("n9", "alive"), 0)
    assert.strictEqual(view.get("n9")?.statusLTime, 1)
    view.reconcile([], 2000)
    view.observe(member("n8", "alive"), 2000)
    assert.strictEqual(view.get("n8")?.statusLTime, 0, "expired")
  })

  it("keeps departed members after the engine forgets them, until serf's timeouts", () => {
    const view = new SerfView("self", { ...DEFAULT_LIMITS, reconnectTimeout: 1000, tombstoneTimeout: 5000 })
    view.observe(member("f", "alive"), 0, true)
    view.observe(member("l", "alive"), 0, true)
    view.observe(member("f", "dead"), 100)
    view.observe(member("l", "left"), 100)
    view.reconcile([], 500) // reaped by the engine
    assert.strictEqual(statusOf(view, "f"), "failed")
    assert.strictEqual(statusOf(view, "l"), "left")
    view.reconcile([], 1200)
    assert.isUndefined(view.get("f"))
    assert.strictEqual(statusOf(view, "l"), "left")
    view.reconcile([], 5200)
    assert.isUndefined(view.get("l"))
  })

  it("a member dropped by timeout is not listed again from the engine's dead entry", () => {
    const view = new SerfView("self", { ...DEFAULT_LIMITS, reconnectTimeout: 1000 })
    view.observe(member("f", "dead"), 0)
    view.reconcile([member("f", "dead")], 2000)
    assert.isUndefined(view.get("f"))
    view.reconcile([member("f", "dead")], 3000)
    assert.isUndefined(view.get("f"))
  })

  it("bounds departed members, dropping the oldest departures first", () => {
    const view = new SerfView("self", { ...DEFAULT_LIMITS, maxDeparted: 2 })
    for (let i = 0; i < 4; i++) view.observe(member(`d${i}`, "dead"), i * 10)
    view.observe(member("alive", "alive"), 0)
    view.reconcile([], 100)
    assert.deepStrictEqual(view.list().map((m) => m.member.name).sort(), ["alive", "d2", "d3"])
  })

  it("reconcile lists members whose events were lost, and counts changes", () => {
    const view = new SerfView("self")
    const before = view.changes
    view.reconcile([member("self", "alive"), member("a", "alive"), member("b", "dead")], 0)
    assert.strictEqual(statusOf(view, "a"), "alive")
    assert.strictEqual(statusOf(view, "b"), "failed")
    assert.isAbove(view.changes, before)
    const after = view.changes
    view.reconcile([member("self", "alive"), member("a", "suspect"), member("b", "dead")], 1)
    assert.strictEqual(view.changes, after, "nothing changed")
    view.observe(member("a", "alive", 2, "127.0.0.1:9000"), 2)
    assert.isAbove(view.changes, after, "an address change counts")
  })
})

describe("serf's push/pull state", () => {
  const encodeState = (asArray: boolean) => {
    const w = new MsgpackWriter(256)
    w.byte(2)
    const statusLTimes = (): void => {
      w.mapHeader(2)
      w.str("a")
      w.uint(4)
      w.str("b")
      w.uint(9)
    }
    const left = (): void => {
      w.arrayHeader(1)
      w.str("b")
    }
    if (asArray) {
      // Go declaration order: LTime, StatusLTimes, LeftMembers, EventLTime, Events, QueryLTime
      w.arrayHeader(6)
      w.uint(12)
      statusLTimes()
      left()
      w.uint(7)
      w.nil()
      w.uint(3)
    } else {
      w.mapHeader(6)
      w.key(encodedKey("LTime"))
      w.uint(12)
      w.key(encodedKey("StatusLTimes"))
      statusLTimes()
      w.key(encodedKey("LeftMembers"))
      left()
      w.key(encodedKey("EventLTime"))
      w.uint(7)
      w.key(encodedKey("Events"))
      w.arrayHeader(1)
      w.mapHeader(1)
      w.key(encodedKey("LTime"))
      w.uint(6)
      w.key(encodedKey("QueryLTime"))
      w.uint(3)
    }
    return w.toBytes()
  }

  it("decodes the clocks, status times and left members, as a map or in declaration order", () => {
    for (const asArray of [false, true]) {
      const state = decodePushPullState(encodeState(asArray))
      assert.isDefined(state, `array: ${asArray}`)
      assert.strictEqual(state!.ltime, 12)
      assert.strictEqual(state!.eventLTime, 7)
      assert.strictEqual(state!.queryLTime, 3)
      assert.deepStrictEqual([...state!.statusLTimes], [["a", 4], ["b", 9]])
      assert.deepStrictEqual(state!.leftMembers, ["b"])
    }
  })

  it("refuses other serf messages, truncated and empty states without throwing", () => {
    const whole = encodeState(false)
    assert.isUndefined(decodePushPullState(new Uint8Array(0)))
    assert.isUndefined(decodePushPullState(encodeLeaveIntent({ ltime: 1, node: "a", prune: false })))
    assert.isUndefined(decodePushPullState(encodeJoinIntent({ ltime: 1, node: "a" })))
    for (let cut = 1; cut < whole.length; cut++) assert.isUndefined(decodePushPullState(whole.subarray(0, cut)), `cut ${cut}`)
  })
})
