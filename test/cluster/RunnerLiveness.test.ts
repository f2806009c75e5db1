/**
 * The rule `GossipRunnerHealth` answers by, on plain member tables.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { RunnerAddress } from "effect/cluster/RunnerAddress"
import { RunnerLiveness } from "../../src/cluster/RunnerLiveness.ts"
import { RunnerMetadata } from "../../src/cluster/RunnerMetadata.ts"
import type { Member, MemberState } from "../../src/Member.ts"
import * as MemberMetadata from "../../src/metadata/MemberMetadata.ts"

const runner = (port: number) => RunnerAddress.make({ host: "10.0.0.1", port })

const member = (name: string, state: MemberState, meta: Uint8Array): Member => ({
  name,
  addr: new Uint8Array([10, 0, 0, 9]),
  host: "10.0.0.9",
  port: 7946,
  address: "10.0.0.9:7946",
  meta,
  application: undefined,
  incarnation: 1,
  state,
  stateChange: 0,
  protocolMin: 1,
  protocolMax: 5,
  protocolCur: 2,
  delegateMin: 0,
  delegateMax: 0,
  delegateCur: 0
})

/** A member announcing the runner on `port`. */
const running = (name: string, state: MemberState, port: number) => member(name, state, RunnerMetadata.encode(runner(port)))

describe("RunnerLiveness", () => {
  it("alive and suspect members vouch for their runner", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("a", "alive", 1), running("b", "suspect", 2)])
    assert.strictEqual(liveness.status(runner(1)), "alive")
    assert.strictEqual(liveness.status(runner(2)), "alive")
    assert.isTrue(liveness.isAlive(runner(1)))
    assert.isTrue(liveness.isAlive(runner(2)))
  })

  it("dead and left members do not", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("a", "dead", 1), running("b", "left", 2)])
    assert.isFalse(liveness.isAlive(runner(1)))
    assert.isFalse(liveness.isAlive(runner(2)))
  })

  it("an address no member has carried is healthy: the runner may be newer than the news of it", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("a", "alive", 1)])
    assert.strictEqual(liveness.status(runner(9)), "unknown")
    assert.isTrue(liveness.isAlive(runner(9)))
  })

  it("a runner seen, then reaped from the table after its death, stays down", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("a", "alive", 1), running("b", "alive", 2)])
    liveness.update([running("a", "alive", 1), running("b", "dead", 2)])
    liveness.update([running("a", "alive", 1)])
    assert.strictEqual(liveness.status(runner(2)), "down")
    assert.isFalse(liveness.isAlive(runner(2)))
  })

  it("a runner seen alive and gone between two tables is down too", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("a", "alive", 1), running("b", "alive", 2)])
    liveness.update([running("a", "alive", 1)])
    assert.isFalse(liveness.isAlive(runner(2)))
  })

  it("a runner back on the same address (a new node, or a refutation) is alive again", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("b", "dead", 2)])
    liveness.update([running("b", "dead", 2), running("b2", "alive", 2)])
    assert.isTrue(liveness.isAlive(runner(2)))
    liveness.update([running("b2", "alive", 2)])
    assert.isTrue(liveness.isAlive(runner(2)))
  })

  it("one live member carrying an address outweighs a dead one carrying it", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("old", "dead", 2), running("new", "alive", 2)])
    assert.isTrue(liveness.isAlive(runner(2)))
  })

  it("a member that moves its runner to another address leaves the old one down", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf)
    liveness.update([running("a", "alive", 1)])
    liveness.update([running("a", "alive", 3)])
    assert.isFalse(liveness.isAlive(runner(1)))
    assert.isTrue(liveness.isAlive(runner(3)))
  })

  it("members without a runner, and selectors that throw, name no runner", () => {
    const throwing = (m: Member) => {
      if (m.name === "bad") throw new Error("not JSON")
      return RunnerMetadata.runnerOf(m)
    }
    const liveness = new RunnerLiveness(throwing)
    liveness.update([member("plain", "alive", new Uint8Array([1, 2, 3])), member("bad", "alive", new Uint8Array()), running("a", "alive", 1)])
    assert.isTrue(liveness.isAlive(runner(1)))
    assert.strictEqual(liveness.status(runner(7946)), "unknown")
  })

  it("remembers a bounded number of downed addresses, the oldest forgotten first", () => {
    const liveness = new RunnerLiveness(RunnerMetadata.runnerOf, 2)
    liveness.update([running("a", "dead", 1), running("b", "dead", 2), running("c", "dead", 3)])
    assert.strictEqual(liveness.status(runner(1)), "unknown")
    assert.strictEqual(liveness.status(runner(2)), "down")
    assert.strictEqual(liveness.status(runner(3)), "down")
  })

  it("decodes a member's metadata once while the member is unchanged", () => {
    let calls = 0
    const counting = (m: Member) => {
      calls++
      return RunnerMetadata.runnerOf(m)
    }
    const liveness = new RunnerLiveness(counting)
    const a = running("a", "alive", 1)
    liveness.update([a])
    liveness.update([a])
    liveness.update([a, running("b", "alive", 2)])
    assert.strictEqual(calls, 2)
  })
})

describe("RunnerMetadata", () => {
  it("round-trips a runner address", () => {
    const decoded = RunnerMetadata.decode(RunnerMetadata.encode({ host: "10.1.2.3", port: 34431 }))
    assert.deepStrictEqual({ host: decoded?.host, port: decoded?.port }, { host: "10.1.2.3", port: 34431 })
  })

  it("ignores other keys beside the runner", () => {
    const meta = new TextEncoder().encode(JSON.stringify({ zone: "eu", runner: { host: "h", port: 1 } }))
    assert.strictEqual(RunnerMetadata.decode(meta)?.port, 1)
  })

  it("reads anything else as no runner", () => {
    for (const text of ["", "role=web", "{}", `{"runner":{"host":"h"}}`, `{"runner":{"host":"h","port":0}}`, `{"runner":{"host":"","port":1}}`]) {
      assert.isUndefined(RunnerMetadata.decode(new TextEncoder().encode(text)), text)
    }
    assert.isUndefined(RunnerMetadata.decode(new Uint8Array([0xff, 0xfe, 0x00])))
  })

  it("writes the bytes of a JSON MemberMetadata with a runner field", () => {
    const declared = MemberMetadata.make("runner", Schema.Struct({ runner: Schema.Struct({ host: Schema.String, port: Schema.Int }) }))
    const bytes = RunnerMetadata.encode({ host: "h", port: 7 })
    assert.deepStrictEqual(declared.decodeBytes(bytes), Result.succeed({ runner: { host: "h", port: 7 } }))
  })

  it("select reads the runner out of typed metadata", () => {
    const AppMetadata = MemberMetadata.make("app", Schema.Struct({ zone: Schema.String, runner: RunnerAddress }))
    const runnerOf = RunnerMetadata.select(AppMetadata, (meta) => meta.runner)
    const bytes = AppMetadata.encode({ zone: "eu-1", runner: runner(4) })
    assert.isTrue(Result.isSuccess(bytes))
    const liveness = new RunnerLiveness(runnerOf)
    liveness.update([member("a", "alive", Result.getOrThrow(bytes)), member("b", "alive", new TextEncoder().encode("zone=eu"))])
    assert.strictEqual(liveness.status(runner(4)), "alive")
    assert.strictEqual(runnerOf(member("b", "alive", new Uint8Array())), undefined)
  })
})
