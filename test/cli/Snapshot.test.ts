/**
 * `gossip agent --snapshot`: the file's codec and its bound, atomic writes,
 * corrupt files reported and ignored, serf's rejoin rules after a graceful
 * leave (with and without `--rejoin`), what the snapshotter records from the
 * member list, `--retry-join`'s attempts, and Go durations.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FileSystem, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { statSync } from "node:fs"
import { JoinError } from "../../src/Errors.ts"
import type { MembershipShape } from "../../src/Membership.ts"
import { parseGoDuration } from "../../src/cli/GoDuration.ts"
import type { PersistedClock } from "../../src/cli/PersistedClocks.ts"
import { agentClocks, followRemoteClocks, readClocks, restoreClocks } from "../../src/cli/PersistedClocks.ts"
import { MemberClock } from "../../src/cli/SerfCompat.ts"
import { encodedKey, MsgpackWriter } from "../../src/codec/msgpack/Writer.ts"
import { LamportClock } from "../../src/serf/Clocks.ts"
import { SerfAgent } from "../../src/serf/SerfAgent.ts"
import { retryJoin } from "../../src/cli/RetryJoin.ts"
import type { SerfMembers } from "../../src/cli/SerfMembers.ts"
import type { SerfMember, SerfStatus } from "../../src/cli/SerfView.ts"
import {
  decodeSnapshot,
  encodeSnapshot,
  MAX_CLOCKS,
  MAX_KEYS,
  MAX_MEMBERS,
  MAX_SNAPSHOT_BYTES,
  readSnapshot,
  SNAPSHOT_FORMAT,
  type SnapshotData,
  writeSnapshot
} from "../../src/cli/Snapshot.ts"
import * as Snapshotter from "../../src/cli/Snapshotter.ts"
import type { Member } from "../../src/Member.ts"

const key = Buffer.alloc(32, 3).toString("base64")
const data: SnapshotData = {
  format: SNAPSHOT_FORMAT,
  left: false,
  members: [{ name: "a", address: "127.0.0.1:7946" }, { name: "b", address: "[::1]:8000" }],
  clocks: { member: 12, event: 3 },
  keyring: [key]
}

describe("snapshot codec", () => {
  it("round-trips a snapshot as one line of JSON", () => {
    const text = encodeSnapshot(data)
    assert.strictEqual(text.split("\n").length, 2)
    assert.deepStrictEqual(decodeSnapshot(text), { ok: true, data })
  })

  it("says why a text is not a snapshot", () => {
    const bad = (text: string) => {
      const decoded = decodeSnapshot(text)
      assert.isFalse(decoded.ok, text.slice(0, 80))
      return decoded.ok ? "" : decoded.reason
    }
    bad("")
    bad("{\"format\":")
    assert.include(bad(JSON.stringify({ ...data, format: "other/1" })), "format")
    assert.include(bad(JSON.stringify({ ...data, left: undefined })), "left")
    assert.include(bad(JSON.stringify({ ...data, clocks: { member: -1 } })), "non-negative")
    assert.include(bad(JSON.stringify({ ...data, clocks: { "Bad Name": 1 } })), "clock name")
    assert.include(bad(JSON.stringify({ ...data, keyring: ["short"] })), "base64")
    const many = Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => ({ name: `n${i}`, address: "1.2.3.4:5" }))
    assert.include(bad(JSON.stringify({ ...data, members: many })), `at most ${MAX_MEMBERS} members`)
    assert.include(bad(JSON.stringify({ ...data, members: [{ name: "", address: "x" }] })), "1 to 255")
  })

  it("stays under MAX_SNAPSHOT_BYTES at its worst: every limit reached with characters JSON escapes in 6 bytes", () => {
    const escaped = (n: number) => "\u0001".repeat(n)
    const worst: SnapshotData = {
      format: SNAPSHOT_FORMAT,
      left: true,
      members: Array.from({ length: MAX_MEMBERS }, () => ({ name: escaped(255), address: escaped(64) })),
      clocks: Object.fromEntries(
        Array.from({ length: MAX_CLOCKS }, (_, i) => [`c${String(i).padStart(31, "0")}`, Number.MAX_SAFE_INTEGER])
      ),
      keyring: Array.from({ length: MAX_KEYS }, (_, i) => Buffer.alloc(32, i).toString("base64"))
    }
    const size = Buffer.byteLength(encodeSnapshot(worst))
    console.log(`[measured] worst-case snapshot: ${size} bytes (bound ${MAX_SNAPSHOT_BYTES})`)
    assert.isBelow(size, MAX_SNAPSHOT_BYTES)
  })
})

const inTempDir = <A, E>(f: (dir: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* f(yield* fs.makeTempDirectoryScoped({ prefix: "gossip-snapshot-" }))
  })).pipe(Effect.provide(NodeServices.layer))

describe("snapshot file", () => {
  it.live("is written atomically, owner-only, and read back", () =>
    inTempDir((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = `${dir}/agent.snapshot`
        assert.deepStrictEqual(yield* readSnapshot(path), { _tag: "Missing" })
        yield* writeSnapshot(path, data)
        yield* writeSnapshot(path, { ...data, left: true })
        assert.deepStrictEqual(yield* readSnapshot(path), { _tag: "Read", data: { ...data, left: true } })
        assert.strictEqual(statSync(path).mode & 0o777, 0o600)
        assert.deepStrictEqual(yield* fs.readDirectory(dir), ["agent.snapshot"], "no temporary file left behind")
      })
    ))

  it.live("reports corrupt, oversized and non-file snapshots with a reason", () =>
    inTempDir((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const garbage = `${dir}/garbage`
        yield* fs.writeFileString(garbage, "alive: n1 127.0.0.1:7946\nclock: 3\n")
        const read = yield* readSnapshot(garbage)
        assert.strictEqual(read._tag, "Corrupt")
        const big = `${dir}/big`
        yield* fs.writeFile(big, new Uint8Array(MAX_SNAPSHOT_BYTES + 1))
        const tooBig = yield* readSnapshot(big)
        assert.strictEqual(tooBig._tag, "Corrupt")
        assert.include(tooBig._tag === "Corrupt" ? tooBig.reason : "", `${MAX_SNAPSHOT_BYTES + 1} bytes`)
        const notFile = yield* readSnapshot(dir)
        assert.strictEqual(notFile._tag, "Corrupt")
      })
    ))

  it.live("restore follows serf: after a graceful leave, rejoin only with --rejoin; never this node itself", () =>
    inTempDir((dir) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = `${dir}/s`
        const members = [{ name: "me", address: "127.0.0.1:1" }, { name: "a", address: "127.0.0.1:2" }]
        yield* writeSnapshot(path, { ...data, members, left: false })
        const running = yield* Snapshotter.restore(path, "me", false)
        assert.deepStrictEqual(running.previous, [{ name: "a", address: "127.0.0.1:2" }])
        assert.deepStrictEqual(running.clocks, data.clocks)
        assert.deepStrictEqual(running.keyring, [key])
        yield* writeSnapshot(path, { ...data, members, left: true })
        assert.deepStrictEqual((yield* Snapshotter.restore(path, "me", false)).previous, [])
        assert.deepStrictEqual((yield* Snapshotter.restore(path, "me", false)).clocks, data.clocks, "clocks kept")
        assert.deepStrictEqual((yield* Snapshotter.restore(path, "me", true)).previous.map((m) => m.name), ["a"])
        yield* fs.writeFileString(path, "not json")
        assert.deepStrictEqual(yield* Snapshotter.restore(path, "me", true), { previous: [], clocks: {}, keyring: [] })
      })
    ))
})

const member = (name: string, address: string): Member => ({
  name,
  addr: new Uint8Array([127, 0, 0, 1]),
  host: "127.0.0.1",
  port: 1,
  address,
  meta: new Uint8Array(0),
  application: undefined,
  incarnation: 1,
  state: "alive",
  stateChange: 0,
  protocolMin: 1,
  protocolMax: 5,
  protocolCur: 2,
  delegateMin: 2,
  delegateMax: 5,
  delegateCur: 5
})

/** A member list whose content the test sets. */
const fakeMembers = () => {
  let list: ReadonlyArray<SerfMember> = []
  let changes = 0
  const service: SerfMembers["Service"] = {
    members: Effect.sync(() => list),
    changes: Effect.sync(() => changes),
    forceLeave: () => Effect.void
  }
  const set = (entries: ReadonlyArray<readonly [string, string, SerfStatus]>) => {
    list = entries.map(([name, address, status]) => ({ member: member(name, address), status, statusLTime: 0 }))
    changes++
  }
  return { service, set }
}

const clock = (value: number): PersistedClock => ({
  name: "member",
  current: Effect.succeed(value),
  witness: () => Effect.void
})

describe("snapshotter", () => {
  const run = (rejoin: boolean) =>
    inTempDir((dir) =>
      Effect.gen(function*() {
        const path = `${dir}/s`
        const members = fakeMembers()
        members.set([["me", "127.0.0.1:1", "alive"], ["a", "127.0.0.1:2", "alive"], ["b", "127.0.0.1:3", "failed"]])
        const read = () => Effect.map(readSnapshot(path), (r) => (r._tag === "Read" ? r.data : undefined))
        return yield* Effect.scoped(Effect.gen(function*() {
          const snapshotter = yield* Snapshotter.start({
            path,
            self: "me",
            rejoin,
            restored: { previous: [{ name: "old", address: "127.0.0.1:9" }], clocks: {}, keyring: [] },
            clocks: [clock(7)],
            members: members.service,
            keyring: undefined
          })
          const first = yield* read()
          // the member that failed is forgotten; one not heard of this run stays; self is never recorded
          assert.deepStrictEqual(first?.members.map((m) => m.name).sort(), ["a", "old"])
          assert.deepStrictEqual(first?.clocks, { member: 7 })
          assert.isFalse(first?.left)
          yield* snapshotter.leave
          // after the leave, changes are no longer recorded
          members.set([["c", "127.0.0.1:4", "alive"]])
          return yield* read()
        })).pipe(Effect.flatMap((afterLeave) => Effect.map(read(), (final) => ({ afterLeave, final }))))
      })
    )

  it.live("a graceful leave forgets the members, unless --rejoin; the last write keeps them so", () =>
    Effect.gen(function*() {
      const plain = yield* run(false)
      assert.isTrue(plain.afterLeave?.left)
      assert.deepStrictEqual(plain.afterLeave?.members, [])
      assert.deepStrictEqual(plain.final?.members, [])
      const rejoining = yield* run(true)
      assert.isTrue(rejoining.final?.left)
      assert.deepStrictEqual(rejoining.final?.members.map((m) => m.name).sort(), ["a", "old"])
    }))

  it.live("an agent whose snapshot path cannot be written fails to start", () =>
    inTempDir((dir) =>
      Effect.gen(function*() {
        const exit = yield* Effect.scoped(Snapshotter.start({
          path: `${dir}/missing-dir/s`,
          self: "me",
          rejoin: false,
          restored: { previous: [], clocks: {}, keyring: [] },
          clocks: [],
          members: fakeMembers().service,
          keyring: undefined
        })).pipe(Effect.exit)
        assert.isTrue(Exit.isFailure(exit))
      })
    ))
})

describe("--retry-join", () => {
  const failingJoins = (succeedAt: number) => {
    let calls = 0
    const membership = {
      join: () =>
        Effect.suspend(() => {
          calls++
          return calls >= succeedAt
            ? Effect.succeed(2)
            : Effect.fail(new JoinError({ message: "no seed answered", errors: [] }))
        })
    } as unknown as MembershipShape
    return { membership, calls: () => calls }
  }

  it.effect("retries every interval until a join succeeds", () =>
    Effect.gen(function*() {
      const joins = failingJoins(4)
      const fiber = yield* Effect.forkChild(retryJoin(joins.membership, { seeds: ["x"], intervalMillis: 1000, maxAttempts: 0 }))
      yield* TestClock.adjust(2500)
      assert.strictEqual(joins.calls(), 3)
      yield* TestClock.adjust(1000)
      const contacted = yield* Fiber.join(fiber)
      assert.strictEqual(contacted, 2)
      assert.strictEqual(joins.calls(), 4)
    }))

  it.effect("gives up after the first attempt and --retry-max retries, as serf", () =>
    Effect.gen(function*() {
      const joins = failingJoins(Number.MAX_SAFE_INTEGER)
      const fiber = yield* Effect.forkChild(
        Effect.exit(retryJoin(joins.membership, { seeds: ["x"], intervalMillis: 1000, maxAttempts: 2 }))
      )
      yield* TestClock.adjust(10_000)
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(joins.calls(), 3)
    }))
})

describe("persisted clocks", () => {
  const lamport = () => {
    const clock = new LamportClock()
    clock.increment() // serf starts its clocks at 1
    return { clock, serf: { current: Effect.sync(() => clock.time()), witness: (t: number) => Effect.sync(() => clock.witness(t)) } }
  }

  it.effect("serf's clocks persist as the last LTime used, restore exactly, and follow serf's push/pull states", () =>
    Effect.gen(function*() {
      const event = lamport()
      const query = lamport()
      let memberSeen = 0
      const services = Layer.mergeAll(
        Layer.succeed(MemberClock, MemberClock.of({
          witness: (t) => Effect.sync(() => void (memberSeen = Math.max(memberSeen, t))),
          current: Effect.sync(() => memberSeen),
          increment: Effect.sync(() => ++memberSeen)
        })),
        Layer.succeed(SerfAgent, { clocks: { event: event.serf, query: query.serf } } as unknown as SerfAgent["Service"])
      )
      const clocks = yield* agentClocks.pipe(Effect.provide(services))
      assert.deepStrictEqual(clocks.map((c) => c.name), ["member", "event", "query"])
      event.clock.increment() // an event sent at LTime 1; the next carries 2
      assert.deepStrictEqual(yield* readClocks(clocks), { member: 0, event: 1, query: 0 })

      // a restarted agent's clocks move on from there
      const restarted = lamport()
      const again = yield* agentClocks.pipe(Effect.provide(Layer.mergeAll(
        Layer.succeed(MemberClock, MemberClock.of({ witness: () => Effect.void, current: Effect.succeed(0), increment: Effect.succeed(1) })),
        Layer.succeed(SerfAgent, { clocks: { event: restarted.serf, query: lamport().serf } } as unknown as SerfAgent["Service"])
      )))
      yield* restoreClocks(again, { event: 1 })
      assert.strictEqual(restarted.clock.time(), 2, "the next event carries a new LTime")

      // serf's push/pull state: its clocks read one past their last LTime, as ours
      const w = new MsgpackWriter(64)
      w.byte(2)
      w.mapHeader(3)
      w.key(encodedKey("LTime"))
      w.uint(40)
      w.key(encodedKey("EventLTime"))
      w.uint(30)
      w.key(encodedKey("QueryLTime"))
      w.uint(20)
      const membership = {
        subscribeRemoteStates: Effect.succeed(Stream.make({ from: "x", join: false, state: w.toBytes() }))
      } as unknown as MembershipShape
      yield* Effect.scoped(Effect.gen(function*() {
        yield* followRemoteClocks(membership, clocks)
        yield* Effect.yieldNow
        yield* Effect.sleep(0)
      }))
      assert.strictEqual(event.clock.time(), 30, "witnessed 29: the next event carries 30, as serf's would")
      assert.strictEqual(query.clock.time(), 20)
      assert.strictEqual(memberSeen, 0, "the member clock is followed by the member list")
    }))
})

describe("Go durations", () => {
  it("parses serf's duration syntax to milliseconds", () => {
    assert.strictEqual(parseGoDuration("30s"), 30_000)
    assert.strictEqual(parseGoDuration("1m30s"), 90_000)
    assert.strictEqual(parseGoDuration("500ms"), 500)
    assert.strictEqual(parseGoDuration("1.5h"), 5_400_000)
    assert.strictEqual(parseGoDuration("0"), 0)
    for (const bad of ["", "30", "s", "1x", "-1s", "1 s", "1s2"]) assert.isUndefined(parseGoDuration(bad), bad)
  })
})
