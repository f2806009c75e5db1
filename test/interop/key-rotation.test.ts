/**
 * Live key rotation in an encrypted mixed cluster: 3 serf agents and 2 of our nodes start on K1
 * and move to K2 while serf user events, our topic values (gossiped, sent over UDP, sent over
 * TCP) and the protocol's own traffic keep flowing. The order is the one that leaves nobody a
 * message it cannot open: install K2 on all, then use it on all, then remove K1 from all, with a
 * few probe rounds of gossip between the steps. serf's `keys` commands reach the agents through
 * serf's internal queries, which our nodes do not answer; our nodes rotate through `ClusterKeyring`.
 *
 * Profile `local` on both sides: serf's key queries wait their whole timeout for our silent nodes
 * (16 gossip intervals, 1.6 s here against 3.2 s on lan), and a member that could not read the
 * others would be suspected after one 200 ms probe timeout and declared dead 3 s (confirmed) to
 * 18 s later, so a rotation that broke decryption shows up as failures within the run.
 *
 * Loopback addresses 127.0.62.x; agents are SIGKILLed and nodes closed when the test ends.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Logger, References, Schema, Scope, Stream } from "effect"
import { JoinError } from "../../src/Errors.ts"
import { ClusterKeyring, Gossip } from "../../src/Gossip.ts"
import type { MemberEvent } from "../../src/MemberEvent.ts"
import { Membership } from "../../src/Membership.ts"
import { decodeBase64Key, type Keyring } from "../../src/security/Keyring.ts"
import { decodeSerfMessage } from "../../src/serf/Messages.ts"
import { SerfRelay } from "../../src/serf/Relay.ts"
import { encodeTags } from "../../src/serf/Tags.ts"
import * as Topic from "../../src/topic/Topic.ts"
import { UdpTcpTransport } from "../../src/transport/UdpTcpTransport.ts"
import { describeWithSerf, eventually, serfCli, serfKeys, startSerf } from "./serf.ts"
import type { SerfAgent } from "./serf.ts"

const ip = (x: number) => `127.0.62.${x}`

const K1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
const K2 = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo="

/** Our nodes' load: gossiped to all, and sent to the other node of ours (UDP, or TCP when padded). */
const Load = Topic.make("rotation-load", Schema.Struct({ seq: Schema.Number, pad: Schema.String }))
/** Over the packet budget, so `Topic.send` takes a TCP stream. */
const TCP_PAD = "x".repeat(4000)

interface Stamped<A> {
  readonly at: number
  readonly value: A
}

interface RotNode {
  readonly name: string
  readonly address: string
  readonly membership: Membership["Service"]
  readonly keyring: Keyring
  readonly events: Array<Stamped<MemberEvent>>
  /** Sequence numbers of serf's `load` user events, as they arrived. */
  readonly serfEvents: Array<Stamped<number>>
  /** Topic values from the other node of ours. */
  readonly values: Array<Stamped<{ readonly kind: string; readonly seq: number }>>
  /** Debug logs about bytes that could not be opened (push/pull replies are counted nowhere else). */
  readonly decryptLogs: Array<Stamped<string>>
  /** Our own sends that failed. */
  readonly sendFailures: Array<Stamped<string>>
}

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => (m instanceof Error ? m.message : String(m))).join(" ")

/** One of our nodes, serf-compatible and relaying serf's gossip as an agent would, recording what it sees. */
const startNode = (scope: Scope.Scope, name: string, address: string, keys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const decryptLogs: Array<Stamped<string>> = []
    const capture = Logger.make((o) => {
      const text = messageText(o.message)
      if (/decrypt/i.test(text)) decryptLogs.push({ at: Date.now(), value: text })
    })
    const layer = SerfRelay.layer.pipe(
      Layer.provideMerge(Gossip.layer({
        name,
        bind: `${address}:0`,
        profile: "local",
        delegateProtocolMin: 2,
        delegateProtocolMax: 5,
        delegateProtocolVersion: 5,
        meta: encodeTags({ role: "rotation" }),
        encryptionKeys: keys
      })),
      // Only our capture logger, down to debug: that is where undecryptable replies are reported.
      Layer.provide(Logger.layer([capture])),
      Layer.provide(Layer.succeed(References.MinimumLogLevel, "Debug"))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const transport = context.mapUnsafe.get(UdpTcpTransport.key) as UdpTcpTransport["Service"]
    const keyring = context.mapUnsafe.get(ClusterKeyring.key) as Keyring | undefined
    assert.isDefined(keyring)
    const node: RotNode = {
      name,
      address: `${address}:${transport.port}`,
      membership,
      keyring: keyring!,
      events: [],
      serfEvents: [],
      values: [],
      decryptLogs,
      sendFailures: []
    }
    yield* Stream.runForEach(membership.events, (value) => Effect.sync(() => void node.events.push({ at: Date.now(), value })))
      .pipe(Effect.forkIn(scope))
    const messages = yield* membership.subscribeMessages.pipe(Scope.provide(scope))
    yield* Stream.runForEach(messages, (m) =>
      Effect.sync(() => {
        const serf = decodeSerfMessage(m.payload)
        if (serf?._tag === "UserEvent" && serf.name === "load" && serf.payload !== null) {
          node.serfEvents.push({ at: Date.now(), value: Number(new TextDecoder().decode(serf.payload)) })
        }
      })).pipe(Effect.forkIn(scope))
    const values = yield* Topic.subscribe(Load).pipe(Effect.provideService(Membership, membership), Scope.provide(scope))
    yield* Stream.runForEach(values, (d) =>
      Effect.sync(() => void node.values.push({ at: Date.now(), value: { kind: d.kind, seq: d.value.seq } }))).pipe(
        Effect.forkIn(scope)
      )
    // Setup only: lets the collectors start before anything can happen.
    yield* Effect.yieldNow
    yield* Effect.sleep(20)
    return node
  })

/** Every 100 ms: a value gossiped to all and one sent to `peer`; every 5th sent padded, over TCP. */
const ourLoad = (node: RotNode, peer: RotNode) =>
  Effect.gen(function*() {
    const failed = (what: string) => (e: { readonly message: string }) =>
      Effect.sync(() => void node.sendFailures.push({ at: Date.now(), value: `${what}: ${e.message}` }))
    for (let seq = 1;; seq++) {
      yield* Topic.publish(Load, { seq, pad: "" }).pipe(Effect.catch(failed("publish")))
      yield* Topic.send(Load, peer.name, { seq, pad: seq % 5 === 0 ? TCP_PAD : "" }).pipe(Effect.catch(failed("send")))
      yield* Effect.sleep(100)
    }
  }).pipe(Effect.provideService(Membership, node.membership))

/** serf `load` user events, one about every 100 ms, fired at the agents in turn. */
const serfLoad = (agents: ReadonlyArray<SerfAgent>, fired: Array<Stamped<number>>, failures: Array<string>) =>
  Effect.gen(function*() {
    for (let seq = 1;; seq++) {
      const r = yield* serfCli(["event", `-rpc-addr=${agents[seq % agents.length]!.rpc}`, "load", String(seq)])
      if (r.status !== 0) failures.push(`event ${seq}: ${r.stdout}${r.stderr}`)
      else fired.push({ at: Date.now(), value: seq })
      yield* Effect.sleep(100)
    }
  })

/** Polls every agent's member list; any member not alive is a sighting. */
const watchAgents = (agents: ReadonlyArray<SerfAgent>, sightings: Array<string>, t0: number) =>
  Effect.gen(function*() {
    while (true) {
      for (const agent of agents) {
        for (const m of yield* agent.members) {
          if (m.status !== "alive") sightings.push(`${agent.name} lists ${m.name} ${m.status} at +${Date.now() - t0} ms`)
        }
      }
      yield* Effect.sleep(200)
    }
  })

const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern.source, "g"))?.length ?? 0

/** What serf's memberlist logs when it cannot open a packet or stream. */
const SERF_DECRYPT = /[Dd]ecrypt/
/** serf's record of a member declared dead (memberlist's, then serf's event). */
const SERF_FAILED = /Marking \S+ as failed|EventMemberFailed/
/** memberlist's suspicion of a member it probed. */
const SERF_SUSPECT = /Suspect \S+ has failed, no acks received/
/** Our gossiped values (in the broadcast envelope, type byte 0xeb) reaching serf, which drops them with this warning. */
const SERF_OUR_VALUES = /unknown type: 235/

interface Snapshot {
  readonly phase: string
  readonly at: number
  /** Per node of ours: packets not decoded, inbound streams failed, decrypt failures logged. */
  readonly ours: ReadonlyArray<{ readonly decode: number; readonly stream: number; readonly logged: number }>
  /** Per agent: decrypt failures in its log. */
  readonly serf: ReadonlyArray<number>
}

const snapshot = (phase: string, nodes: ReadonlyArray<RotNode>, agents: ReadonlyArray<SerfAgent>) =>
  Effect.gen(function*() {
    const ours = []
    for (const n of nodes) {
      const s = yield* n.membership.stats
      ours.push({ decode: s.decodeErrors, stream: s.streamErrors, logged: n.decryptLogs.length })
    }
    const snap: Snapshot = { phase, at: Date.now(), ours, serf: agents.map((a) => count(a.logs(), SERF_DECRYPT)) }
    return snap
  })

const formatSnapshot = (s: Snapshot, t0: number) =>
  `${s.phase.padEnd(9)} +${String(s.at - t0).padStart(5)} ms | ours decode/stream/logged ` +
  s.ours.map((o) => `${o.decode}/${o.stream}/${o.logged}`).join(" ") +
  ` | serf decrypt ${s.serf.join(" ")}`

/**
 * Gossip goes on: every node of ours probes `probes` more times and hears 3 more serf events and
 * 3 more values from the other node. Between steps two probe rounds (about 2 s) pass, far longer
 * than anything sealed under the previous step stays in flight on loopback (acks are due within
 * the 200 ms probe timeout, stream exchanges within the 1 s TCP timeout).
 */
const gossipGoesOn = (nodes: ReadonlyArray<RotNode>, probes: number, what: string) =>
  Effect.gen(function*() {
    const progress = Effect.forEach(nodes, (n) =>
      Effect.map(n.membership.stats, (s) => ({ probes: s.probes, events: n.serfEvents.length, values: n.values.length })))
    const base = yield* progress
    return yield* eventually(
      Effect.map(progress, (now) =>
        now.every((p, i) =>
          p.probes >= base[i]!.probes + probes && p.events >= base[i]!.events + 3 && p.values >= base[i]!.values + 3
        )),
      15_000,
      what
    )
  })

/**
 * `serf keys -<op>` until one run is answered, without error, by every agent (our nodes do not
 * answer serf's key queries; serf exits 0 once every member does). serf's queries travel by
 * gossip only, each member passing one on to 2 others on `local`, and miss a member now and
 * then: a third of `serf keys -list` runs in a pure 5-agent serf cluster here came back 4/5 or
 * 3/5. The operations are idempotent, so a miss is asked again (through the next agent).
 * Returns how many runs it took.
 */
const serfKeysOnAgents = (agents: ReadonlyArray<SerfAgent>, members: number, op: "install" | "use" | "remove", key: string) =>
  Effect.gen(function*() {
    const outputs: Array<string> = []
    for (let attempt = 0; attempt < 8; attempt++) {
      const agent = agents[attempt % agents.length]!
      const r = yield* serfKeys(agent.rpc, op, key)
      outputs.push(`${agent.name}: ${r.output.split("\n").pop()}`)
      assert.isFalse(r.failed, `serf keys -${op} at ${agent.name}: ${r.output}`)
      if (r.status === 0 || (r.responded === agents.length && r.asked === members)) return attempt + 1
    }
    return assert.fail(`serf keys -${op} never reached every agent:\n${outputs.join("\n")}`)
  })

describeWithSerf("live key rotation with real serf agents", () => {
  it.live("K1 -> K2 under load: install, use, remove everywhere; no failures, nothing undecryptable", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const t0 = Date.now()
      const s1 = yield* startSerf({ name: "kr-s1", ip: ip(1), profile: "local", encrypt: K1 })
      const s2 = yield* startSerf({ name: "kr-s2", ip: ip(2), profile: "local", encrypt: K1, join: [s1.address] })
      const s3 = yield* startSerf({ name: "kr-s3", ip: ip(3), profile: "local", encrypt: K1, join: [s1.address, s2.address] })
      const agents = [s1, s2, s3]
      const ts1 = yield* startNode(scope, "kr-ts1", ip(4), [K1])
      const ts2 = yield* startNode(scope, "kr-ts2", ip(5), [K1])
      const nodes = [ts1, ts2]
      // Joins are push/pulls with everyone: each member holds the whole table when they return.
      assert.strictEqual(yield* ts1.membership.join(agents.map((a) => a.address)), 3)
      assert.strictEqual(yield* ts2.membership.join([...agents.map((a) => a.address), ts1.address]), 4)
      const names = [...agents.map((a) => a.name), ...nodes.map((n) => n.name)]
      const allAlive = Effect.gen(function*() {
        for (const a of agents) {
          const ms = yield* a.members
          if (!names.every((n) => ms.some((m) => m.name === n && m.status === "alive"))) return false
        }
        for (const n of nodes) {
          const ms = yield* n.membership.currentMembers
          if (!names.every((x) => ms.some((m) => m.name === x && m.state === "alive"))) return false
        }
        return true
      })
      yield* eventually(allAlive, 10_000, "cluster of 5 converged on K1")

      // Load and watchers, from here to the end of the test.
      const fired: Array<Stamped<number>> = []
      const eventFailures: Array<string> = []
      const sightings: Array<string> = []
      yield* Effect.forkIn(watchAgents(agents, sightings, t0), scope)
      yield* Effect.forkIn(serfLoad(agents, fired, eventFailures), scope)
      yield* Effect.forkIn(ourLoad(ts1, ts2), scope)
      yield* Effect.forkIn(ourLoad(ts2, ts1), scope)
      yield* gossipGoesOn(nodes, 2, "load flowing on K1")
      const snaps = [yield* snapshot("K1", nodes, agents)]

      // One step: our nodes through their keyrings, then the agents through serf's key query,
      // then two probe rounds of gossip before the next step.
      const k1 = yield* decodeBase64Key(K1)
      const k2 = yield* decodeBase64Key(K2)
      const attempts: Array<string> = []
      const step = (op: "install" | "use" | "remove", key: string, ours: (k: Keyring) => Effect.Effect<void, unknown>) =>
        Effect.gen(function*() {
          for (const n of nodes) yield* ours(n.keyring)
          attempts.push(`${op} ${yield* serfKeysOnAgents(agents, names.length, op, key)}`)
          yield* gossipGoesOn(nodes, 2, `gossip after ${op}`)
          snaps.push(yield* snapshot(op, nodes, agents))
        })
      yield* step("install", K2, (k) => k.install(k2))
      yield* step("use", K2, (k) => k.use(k2))
      yield* step("remove", K1, (k) => k.remove(k1))
      const rotated = Date.now()
      for (const n of nodes) assert.deepStrictEqual(n.keyring.keys, [k2], `${n.name} holds K2 only`)

      // After the rotation: settle, then more gossip, and nothing may fail to open in between.
      yield* gossipGoesOn(nodes, 2, "settle on K2")
      const settled = yield* snapshot("settled", nodes, agents)
      const ourValuesAtSerf = agents.map((a) => count(a.logs(), SERF_OUR_VALUES))
      yield* gossipGoesOn(nodes, 5, "more gossip on K2")
      const end = yield* snapshot("end", nodes, agents)
      snaps.push(settled, end)
      const logs = agents.map((a) => a.logs())
      console.log(
        `[key-rotation] rotated at +${rotated - t0} ms, end at +${end.at - t0} ms; ` +
          `${fired.length} serf events fired, at ours ${nodes.map((n) => new Set(n.serfEvents.map((e) => e.value)).size).join("/")}; ` +
          `our values delivered ${nodes.map((n) => n.values.length).join("/")}, ` +
          `failed sends ${nodes.map((n) => n.sendFailures.length).join("/")}\n` +
          snaps.map((s) => `  ${formatSnapshot(s, t0)}`).join("\n") +
          `\n  suspicions: ours ${nodes.map((n) => n.events.filter((e) => e.value._tag === "MemberSuspected").length).join("/")}, ` +
          `serf ${logs.map((l) => count(l, SERF_SUSPECT)).join("/")}; serf keys runs: ${attempts.join(", ")}`
      )

      // Nothing failed to open after the rotation, on either side; and since no step let anyone
      // seal with a key another member lacked, nothing before or during it either.
      for (const [i, n] of nodes.entries()) {
        assert.deepStrictEqual(end.ours[i], settled.ours[i], `${n.name}: errors after the rotation`)
      }
      assert.deepStrictEqual(end.serf, settled.serf, "serf decrypt failures after the rotation")
      for (const s of snaps) {
        assert.deepStrictEqual(s.ours, nodes.map(() => ({ decode: 0, stream: 0, logged: 0 })), `ours at ${s.phase}`)
        assert.deepStrictEqual(s.serf, agents.map(() => 0), `serf at ${s.phase}`)
      }
      // Traffic kept flowing both ways on K2: serf's events at ours, ours at each other and at serf.
      for (const n of nodes) {
        assert.isTrue(n.serfEvents.some((e) => e.at > settled.at), `${n.name} hears serf events on K2`)
        assert.isTrue(n.values.some((v) => v.at > settled.at && v.value.kind === "direct"), `${n.name} gets sent values on K2`)
        assert.isTrue(n.values.some((v) => v.at > settled.at && v.value.kind === "broadcast"), `${n.name} gets gossiped values on K2`)
      }
      agents.forEach((a, i) =>
        assert.isAbove(count(a.logs(), SERF_OUR_VALUES), ourValuesAtSerf[i]!, `${a.name} hears our values on K2`)
      )
      assert.deepStrictEqual(eventFailures, [])
      for (const n of nodes) assert.deepStrictEqual(n.sendFailures.map((f) => f.value), [], `${n.name}'s sends`)

      // No false failures: nobody was ever declared failed, by us or by serf, and all are alive.
      for (const n of nodes) {
        assert.deepStrictEqual(n.events.filter((e) => e.value._tag === "MemberFailed").map((e) => e.value.member.name), [])
      }
      assert.deepStrictEqual(sightings, [])
      agents.forEach((a, i) => assert.notMatch(logs[i]!, SERF_FAILED, `${a.name} declared a member failed`))
      assert.isTrue(yield* allAlive, "every member alive at every member")

      // K1 no longer opens anything: a node with only K1 is refused by serf and by ours...
      const stale = yield* startNode(scope, "kr-stale", ip(6), [K1])
      const streamErrors = (yield* ts1.membership.stats).streamErrors
      for (const seed of [s1.address, ts1.address]) {
        const refused = yield* Effect.flip(stale.membership.join([seed]))
        assert.instanceOf(refused, JoinError)
      }
      assert.isAbove((yield* ts1.membership.stats).streamErrors, streamErrors, "ts1 counts the K1 stream")
      // ...while a node with only K2 joins.
      const fresh = yield* startNode(scope, "kr-fresh", ip(7), [K2])
      assert.strictEqual(yield* fresh.membership.join([s2.address]), 1)
      assert.isUndefined((yield* s1.members).find((m) => m.name === stale.name))
      for (const a of agents) {
        assert.isTrue(a.process.exitCode === null && a.process.signalCode === null, `${a.name} exited:\n${a.logs()}`)
        assert.notMatch(a.logs(), /panic:|fatal error:/, `${a.name} crashed`)
      }
    })), 60_000)
})
