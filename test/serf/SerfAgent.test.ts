/**
 * The serf agent of our nodes, in a simulated cluster in virtual time: user
 * events delivered once everywhere, queries answered with acks and responses
 * at the asker's address (filters, relays), serf's internal queries
 * (conflict, keys) answered by every member, and malformed serf messages
 * counted and dropped without harm.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, type Duration, Effect, Fiber, Layer, Logger, Random, References, type Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { ClusterKeyring } from "../../src/Gossip.ts"
import { Membership } from "../../src/Membership.ts"
import * as Msg from "../../src/protocol/Messages.ts"
import { Keyring } from "../../src/security/Keyring.ts"
import { encodeQuery, encodeUserEvent } from "../../src/serf/Messages.ts"
import type { QueryAnswer } from "../../src/serf/PendingQueries.ts"
import { decodeConflictResponse, SerfStatus } from "../../src/serf/QueryPayloads.ts"
import { SerfAgent, type SerfError } from "../../src/serf/SerfAgent.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"
import { addressOf, type SimNode, startCluster } from "../sim/cluster.ts"
import { fakePeer } from "../sim/fakes.ts"

const K1 = Buffer.alloc(32, 1).toString("base64")
const K2 = Buffer.alloc(32, 2).toString("base64")
const raw = (b64: string) => Uint8Array.from(Buffer.from(b64, "base64"))
const text = (s: string) => new TextEncoder().encode(s)

interface Logged {
  readonly level: string
  readonly msg: string
  readonly fields: Readonly<Record<string, unknown>>
}

interface AgentNode {
  readonly node: SimNode
  readonly serf: SerfAgent["Service"]
  readonly keyring: Keyring
  readonly logs: Array<Logged>
}

/** `n` nodes, converged, each with its serf agent (keyring K1), logging into `logs` down to debug. */
const cluster = (n: number) =>
  Effect.gen(function*() {
    const nodes = yield* startCluster(n)
    yield* TestClock.adjust("3 seconds")
    return yield* Effect.forEach(nodes, (node) =>
      Effect.gen(function*() {
        const logs: Array<Logged> = []
        const capture = Logger.make((o) =>
          logs.push({
            level: o.logLevel,
            msg: (Array.isArray(o.message) ? o.message : [o.message]).map(String).join(" "),
            fields: o.fiber.getRef(References.CurrentLogAnnotations)
          })
        )
        const keyring = Keyring.makeUnsafe([raw(K1)])
        const context = yield* Layer.buildWithScope(
          SerfAgent.layer().pipe(
            Layer.provide(Layer.succeed(Membership, node.membership)),
            Layer.provide(Layer.succeed(ClusterKeyring, keyring)),
            Layer.provide(Logger.layer([capture])),
            Layer.provide(Layer.succeed(References.MinimumLogLevel, "Debug"))
          ),
          node.scope
        )
        return { node, serf: Context.get(context, SerfAgent), keyring, logs } satisfies AgentNode
      }))
  })

const userEvents = (a: AgentNode, name: string) => a.logs.filter((l) => l.msg === "user event" && l.fields.name === name)

/** Runs `effect` (a query or key operation) while virtual time passes. */
const during = <A, E>(effect: Effect.Effect<A, E>, time: Duration.Input = "5 seconds") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(time)
    return yield* Fiber.join(fiber)
  })

const answersOf = (a: AgentNode, request: Parameters<SerfAgent["Service"]["query"]>[0]) =>
  during(Effect.scoped(Effect.flatMap(a.serf.query(request), (h) => Stream.runCollect(h.answers))))

const names = (answers: ReadonlyArray<QueryAnswer>, tag: QueryAnswer["_tag"]) =>
  answers.filter((a) => a._tag === tag).map((a) => a.from).sort()

const sim = <A, E>(effect: Effect.Effect<A, E, SimNetwork | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(SimNetwork.layer()), Random.withSeed(7))

describe("serf agent", () => {
  it.effect("a user event reaches every member once, with serf's Lamport clock", () =>
    sim(Effect.gen(function*() {
      const agents = yield* cluster(5)
      const ltime = yield* agents[0]!.serf.userEvent("deploy", text("v1"), false)
      assert.strictEqual(ltime, 1, "serf's event clock starts at 1")
      yield* TestClock.adjust("5 seconds")
      // (the sender logs its own event in the caller's context: the agent's endpoint, not here)
      for (const a of agents.slice(1)) {
        assert.strictEqual(userEvents(a, "deploy").length, 1, a.node.name)
        assert.deepInclude(userEvents(a, "deploy")[0]!.fields, { name: "deploy", payload: "v1", ltime: 1, coalesce: false })
      }
      assert.deepInclude(yield* agents[0]!.serf.stats, { eventsSent: 1, eventsReceived: 0, eventClock: 2 })
      for (const a of agents.slice(1)) assert.deepInclude(yield* a.serf.stats, { eventsReceived: 1, eventClock: 2 })
      // the next event from another member is newer
      assert.strictEqual(yield* agents[3]!.serf.userEvent("deploy", text("v2"), true), 2)
      const tooLarge = yield* Effect.flip(agents[0]!.serf.userEvent("big", new Uint8Array(600), true))
      assert.deepInclude(tooLarge as SerfError, { reason: "TooLarge" })
    })))

  it.effect("a query gets every member's ack at the asker's address; filters choose who answers", () =>
    sim(Effect.gen(function*() {
      const agents = yield* cluster(4)
      const all = yield* answersOf(agents[0]!, { name: "uptime", payload: null, requestAck: true, timeoutMillis: 2000 })
      assert.deepStrictEqual(names(all, "Ack"), ["node-0", "node-1", "node-2", "node-3"])
      assert.deepStrictEqual(names(all, "Response"), [], "nothing answers a user query but a handler")
      for (const a of agents.slice(1)) {
        assert.isTrue(a.logs.some((l) => l.msg === "query" && l.fields.name === "uptime" && l.fields.from === "node-0"))
      }
      const one = yield* answersOf(agents[1]!, { name: "q", payload: null, requestAck: true, nodes: ["node-2"], timeoutMillis: 2000 })
      assert.deepStrictEqual(names(one, "Ack"), ["node-2"])
      // with copies relayed through another member, each member still counts once
      const relayed = yield* answersOf(agents[2]!, { name: "_serf_ping", payload: null, requestAck: true, relayFactor: 2, timeoutMillis: 2000 })
      assert.deepStrictEqual(names(relayed, "Ack"), ["node-0", "node-1", "node-2", "node-3"])
      const forwarded = yield* Effect.forEach(agents, (a) => Effect.map(a.serf.stats, (s) => s.forwarded))
      assert.isAbove(forwarded.reduce((x, y) => x + y, 0), 0, "relays were forwarded")
      assert.isAbove((yield* agents[2]!.serf.stats).answersRefused, 0, "and the copies refused as duplicates")
    })))

  it.effect("_serf_conflict: every other member describes the node in question", () =>
    sim(Effect.gen(function*() {
      const agents = yield* cluster(4)
      const answers = yield* answersOf(agents[0]!, { name: "_serf_conflict", payload: text("node-2"), timeoutMillis: 2000 })
      assert.deepStrictEqual(names(answers, "Response"), ["node-0", "node-1", "node-3"], "node-2 does not answer about itself")
      for (const a of answers) {
        if (a._tag !== "Response") continue
        const member = decodeConflictResponse(a.payload)
        assert.deepInclude(member, { name: "node-2", port: 7946, status: SerfStatus.alive, delegateMax: 0 })
        assert.deepStrictEqual([...member!.addr], [10, 1, 0, 3])
      }
      const unknown = yield* answersOf(agents[1]!, { name: "_serf_conflict", payload: text("nobody"), timeoutMillis: 2000 })
      for (const a of unknown) if (a._tag === "Response") assert.isNull(decodeConflictResponse(a.payload))
    })))

  it.effect("key operations change every member's keyring, and are tallied as serf keys does", () =>
    sim(Effect.gen(function*() {
      const agents = yield* cluster(4)
      const keysOf = (a: AgentNode) => a.keyring.keys.map((k) => Buffer.from(k).toString("base64"))

      const installed = yield* during(agents[0]!.serf.keys("install", K2))
      assert.deepInclude(installed, { numNodes: 4, numResp: 4, numErr: 0, error: undefined })
      for (const a of agents) assert.deepStrictEqual(keysOf(a), [K1, K2])
      const used = yield* during(agents[1]!.serf.keys("use", K2))
      assert.strictEqual(used.error, undefined)
      for (const a of agents) assert.deepStrictEqual(keysOf(a), [K2, K1])
      const removed = yield* during(agents[2]!.serf.keys("remove", K1))
      assert.strictEqual(removed.error, undefined)
      for (const a of agents) assert.deepStrictEqual(keysOf(a), [K2])
      const listed = yield* during(agents[3]!.serf.keys("list", undefined))
      assert.deepInclude(listed, { numResp: 4, keys: { [K2]: 4 }, primaryKeys: { [K2]: 4 }, error: undefined })

      const refused = yield* during(agents[0]!.serf.keys("remove", K2))
      assert.deepInclude(refused, { numResp: 4, numErr: 4, error: "4/4 nodes reported failure" })
      for (const a of agents) assert.strictEqual(refused.messages[a.node.name], "Removing the primary key is not allowed")
      const unknownKey = yield* during(agents[0]!.serf.keys("use", K1))
      assert.strictEqual(unknownKey.messages["node-3"], "Requested key is not in the keyring")
      const badKey = yield* Effect.flip(agents[0]!.serf.keys("install", "not base64!"))
      assert.strictEqual(badKey.reason, "InvalidKey")
    })))

  it.effect("malformed serf messages are counted and dropped; the agent keeps serving", () =>
    sim(Effect.gen(function*() {
      const agents = yield* cluster(3)
      const target = agents[1]!
      const peer = yield* fakePeer("stranger", addressOf(9))
      const garbage = [
        Uint8Array.of(3), // an event without a body
        Uint8Array.of(4, 0x81, 0xa2, 0x49), // a truncated query
        Uint8Array.of(5, 0xc1), // not msgpack
        Uint8Array.of(9, 0x80), // a relay with nothing to relay
        Uint8Array.of(9, 0x80, 4, 0x80), // a relay of something that is not an answer
        new Uint8Array(0)
      ]
      // a query whose filter cannot be read, and one with a key request that cannot be
      const badFilter = encodeQuery({
        ltime: 50,
        id: 1,
        addr: Uint8Array.of(10, 1, 0, 10),
        port: 7946,
        sourceNode: "stranger",
        filters: [Uint8Array.of(1, 0xc1)],
        flags: 1,
        relayFactor: 0,
        timeout: 1e9,
        name: "q",
        payload: null
      })
      const badKeyRequest = encodeQuery({
        ltime: 51,
        id: 2,
        addr: Uint8Array.of(10, 1, 0, 10),
        port: 7946,
        sourceNode: "stranger",
        filters: null,
        flags: 0,
        relayFactor: 0,
        timeout: 1e9,
        name: "_serf_install-key",
        payload: Uint8Array.of(7, 0x81)
      })
      for (const payload of [...garbage, badFilter, badKeyRequest]) yield* peer.send(target.node.address, Msg.user(payload))
      yield* TestClock.adjust("2 seconds")
      const stats = yield* target.serf.stats
      assert.strictEqual(stats.malformed, garbage.length + 2)
      assert.deepStrictEqual(target.keyring.keys.length, 1, "no key changed")
      // still serving: a valid event from the same stranger gets through, and is passed on
      yield* peer.send(target.node.address, Msg.user(encodeUserEvent({ ltime: 9, name: "ok", payload: null, cc: false })))
      yield* TestClock.adjust("3 seconds")
      for (const a of agents) assert.strictEqual(userEvents(a, "ok").length, 1, a.node.name)
    })))

  it.effect("an internal query sent with a key request to a node without encryption gets serf's refusal", () =>
    sim(Effect.gen(function*() {
      const nodes = yield* startCluster(2)
      yield* TestClock.adjust("3 seconds")
      const contexts = yield* Effect.forEach(nodes, (node) =>
        Layer.buildWithScope(
          SerfAgent.layer().pipe(
            Layer.provide(Layer.succeed(Membership, node.membership)),
            Layer.provide(Layer.succeed(ClusterKeyring, undefined))
          ),
          node.scope
        ))
      const serf = Context.get(contexts[0]!, SerfAgent)
      const result = yield* during(serf.keys("install", K2))
      assert.deepInclude(result, { numResp: 2, numErr: 2 })
      assert.strictEqual(result.messages["node-1"], "No keyring to modify (encryption not enabled)")
      const list = yield* during(serf.keys("list", undefined))
      assert.strictEqual(list.messages["node-1"], "Keyring is empty (encryption not enabled)")
    })))
})
