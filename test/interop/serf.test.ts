/**
 * Interop with real serf agents (Debian's serf: memberlist 0.2.2, agent protocol 5).
 *
 * Every test uses its own loopback addresses in 127.0.60.0/24 and OS-chosen (or free)
 * ports, starts its agents and nodes in the test's scope (agents are SIGKILLed and nodes
 * closed when it ends, whatever happens), and waits by polling (`eventually`), never by
 * sleeping and hoping. The `local` profile is used on both sides wherever timing does not
 * matter; the measured failure detection uses `lan` on both sides.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope, Stream } from "effect"
import { Codec } from "../../src/codec/Codec.ts"
import type { CodecShape } from "../../src/codec/Codec.ts"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { GossipConfig, presets } from "../../src/Config.ts"
import type { GossipConfigInput, Profile } from "../../src/Config.ts"
import { JoinError } from "../../src/Errors.ts"
import { Gossip } from "../../src/Gossip.ts"
import type { Member } from "../../src/Member.ts"
import type { MemberEvent } from "../../src/MemberEvent.ts"
import type { UserMessage } from "../../src/Membership.ts"
import { Membership } from "../../src/Membership.ts"
import { decodeSerfMessage, encodeLeaveIntent } from "../../src/serf/Messages.ts"
import { decodeTags, encodeTags } from "../../src/serf/Tags.ts"
import { lzwDecompress } from "../../src/security/Lzw.ts"
import { UdpTcpTransport } from "../../src/transport/UdpTcpTransport.ts"
import { describeWithSerf, eventually, serfCli, startSerf } from "./serf.ts"
import type { SerfAgent, SerfMember } from "./serf.ts"

// ---------------------------------------------------------------------------------------
// helpers

/** 127.0.60.x: this file's loopback range. */
const ip = (x: number) => `127.0.60.${x}`

const KEY_AES256 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // vectors/08: bytes 00..1f
const KEY_AES128 = "ABEiM0RVZneImaq7zN3u/w==" // vectors/09: 00 11 22 .. ff
const KEY_OTHER256 = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo="

const text = (s: string) => new TextEncoder().encode(s)
const utf8 = (b: Uint8Array | null) => (b === null ? "" : new TextDecoder().decode(b))

interface Recorded<A> {
  readonly at: number
  readonly value: A
}

interface TsNode {
  readonly name: string
  readonly address: string
  readonly membership: Membership["Service"]
  /** Every membership event since the node started, stamped with `Date.now()` on arrival. */
  readonly events: Array<Recorded<MemberEvent>>
  /** Every user message since the node started. */
  readonly messages: Array<Recorded<UserMessage>>
}

interface NodeOptions {
  readonly name: string
  readonly ip: string
  readonly profile?: Profile
  readonly tags?: Record<string, string>
  readonly encryptionKeys?: ReadonlyArray<string>
}

/** What serf needs from a memberlist node: delegate versions 2..5 (current 5) and tag meta. */
const serfCompatible = (o: NodeOptions): GossipConfigInput => ({
  name: o.name,
  profile: o.profile ?? "local",
  delegateProtocolMin: 2,
  delegateProtocolMax: 5,
  delegateProtocolVersion: 5,
  meta: encodeTags(o.tags ?? {})
})

/** Records a node's events and messages from now on (subscribed before this returns). */
const record = (scope: Scope.Scope, membership: Membership["Service"]) =>
  Effect.gen(function*() {
    const events: Array<Recorded<MemberEvent>> = []
    const messages: Array<Recorded<UserMessage>> = []
    yield* Stream.runForEach(membership.events, (value) => Effect.sync(() => void events.push({ at: Date.now(), value })))
      .pipe(Effect.forkIn(scope))
    yield* Stream.runForEach(membership.messages, (value) =>
      Effect.sync(() => void messages.push({ at: Date.now(), value }))).pipe(Effect.forkIn(scope))
    // Setup only: lets both collector fibers start and subscribe before anything can happen.
    yield* Effect.yieldNow
    yield* Effect.sleep(20)
    return { events, messages }
  })

/** Starts one of our nodes in `scope`, bound to `ip` with an OS-chosen port. */
const startNode = (scope: Scope.Scope, o: NodeOptions) =>
  Effect.gen(function*() {
    const context = yield* Layer.buildWithScope(
      Gossip.layer({
        ...serfCompatible(o),
        bind: `${o.ip}:0`,
        ...(o.encryptionKeys === undefined ? {} : { encryptionKeys: o.encryptionKeys })
      }),
      scope
    )
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const transport = context.mapUnsafe.get(UdpTcpTransport.key) as UdpTcpTransport["Service"]
    const recorded = yield* record(scope, membership)
    const node: TsNode = { name: o.name, address: `${o.ip}:${transport.port}`, membership, ...recorded }
    return node
  })

const byName = (ms: ReadonlyArray<SerfMember>, name: string) => ms.find((m) => m.name === name)

/** Every agent lists `name` with `status` (and, if given, exactly these tags). */
const agentsSee = (
  agents: ReadonlyArray<SerfAgent>,
  name: string,
  status: string,
  tags?: Record<string, string>
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    for (const agent of agents) {
      const m = byName(yield* agent.members, name)
      if (m === undefined || m.status !== status) return false
      if (tags !== undefined && JSON.stringify(sortKeys(m.tags)) !== JSON.stringify(sortKeys(tags))) return false
    }
    return true
  })

/** `eventually(agentsSee(…))`, reporting what every agent lists when it times out. */
const awaitAgents = (
  agents: ReadonlyArray<SerfAgent>,
  name: string,
  status: string,
  ms: number,
  what: string,
  tags?: Record<string, string>
) =>
  eventually(agentsSee(agents, name, status, tags), ms, what).pipe(
    Effect.catch((e) => Effect.flatMap(clusterViews(agents, []), (v) => Effect.fail(new Error(`${e.message}\n${v}`))))
  )

const sortKeys = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))

const memberOf = (node: TsNode, name: string): Effect.Effect<Member | undefined> =>
  Effect.map(node.membership.currentMembers, (ms) => ms.find((m) => m.name === name))

/** Our node lists every one of `names` with `state`. */
const nodeSees = (node: TsNode, names: ReadonlyArray<string>, state: Member["state"]): Effect.Effect<boolean> =>
  Effect.map(node.membership.currentMembers, (ms) => names.every((n) => ms.some((m) => m.name === n && m.state === state)))

/** The whole cluster (agents and our nodes) agrees that all of them are alive. */
const converged = (agents: ReadonlyArray<SerfAgent>, nodes: ReadonlyArray<TsNode>) => {
  const names = [...agents.map((a) => a.name), ...nodes.map((n) => n.name)]
  return Effect.gen(function*() {
    for (const agent of agents) {
      const ms = yield* agent.members
      if (!names.every((n) => byName(ms, n)?.status === "alive")) return false
    }
    for (const node of nodes) if (!(yield* nodeSees(node, names, "alive"))) return false
    return true
  })
}

/** Who sees whom, for failure messages. */
const clusterViews = (agents: ReadonlyArray<SerfAgent>, nodes: ReadonlyArray<TsNode>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    for (const agent of agents) {
      const ms = yield* agent.members
      lines.push(`${agent.name}: ${ms.map((m) => `${m.name}=${m.status}`).join(" ")}`)
    }
    for (const node of nodes) {
      const ms = yield* node.membership.currentMembers
      lines.push(`${node.name}: ${ms.map((m) => `${m.name}=${m.state}/${m.incarnation}`).join(" ")}`)
    }
    return lines.join("\n")
  })

/** `eventually(converged(…))`, reporting every member's view when it times out. */
const awaitConverged = (agents: ReadonlyArray<SerfAgent>, nodes: ReadonlyArray<TsNode>, ms: number, what: string) =>
  eventually(converged(agents, nodes), ms, what).pipe(
    Effect.catch((e) => Effect.flatMap(clusterViews(agents, nodes), (v) => Effect.fail(new Error(`${e.message}\n${v}`))))
  )

/**
 * How long to wait for what joins carry. A join is a push/pull: when it returns, the joiner
 * and its seed each hold the other's whole member table.
 */
const JOINED = 20_000

/**
 * How long to wait for news that only gossip carries to reach every member: a member that
 * joined through someone else, a tag update. Gossip usually delivers it within a few hundred
 * ms but guarantees nothing: the local profile transmits each update 2 × ceil(log10(n + 1))
 * times (twice in these clusters), each copy to a random member, the update's subject
 * included, so in a cluster of four some member misses every copy about one time in ten.
 * Only the periodic push/pull repairs that, and memberlist runs an agent's first one after a
 * random stagger below one interval *plus* one full interval (15–30 s after it starts, on
 * local), then one every interval, each with a random partner that may have missed the news
 * too. Three intervals leave a miss very unlikely.
 */
const GOSSIPED = 3 * presets.local.pushPullInterval + 5_000

const processAlive = (agent: SerfAgent) => agent.process.exitCode === null && agent.process.signalCode === null

/** Nothing in the agent's log that looks like a Go crash. */
const assertNoCrash = (agent: SerfAgent) => {
  assert.isTrue(processAlive(agent), `${agent.name} exited:\n${agent.logs()}`)
  assert.notMatch(agent.logs(), /panic:|goroutine \d+ \[|fatal error:/, `${agent.name} crashed`)
}

const firstEvent = <T extends MemberEvent["_tag"]>(node: TsNode, tag: T, member: string) =>
  node.events.find((e) => e.value._tag === tag && e.value.member.name === member) as
    | Recorded<Extract<MemberEvent, { _tag: T }>>
    | undefined

/**
 * Lifeguard's worst case for detecting a crash, from a profile and the member-table size `n`
 * (self included), as memberlist computes it:
 *
 *   probe round     (n − 1) × probeInterval     the crashed member was probed just before it
 *                                               died, so every other member comes first
 *   the probe       probeInterval               ping, probeTimeout, indirect pings + TCP ping,
 *                                               failure declared when the interval ends
 *   suspicion       suspicionMaxTimeoutMult × suspicionMult × max(1, log10 n) × probeInterval
 *                                               (the timer with no confirmations at all; every
 *                                               confirmation only shortens it, down to the min)
 *   dissemination   5 × gossipInterval           the dead/suspect reaching us through gossip
 *
 * e.g. lan, n = 4: 3 × 1 s + 1 s + 6 × 4 × max(1, 0.6) × 1 s + 5 × 200 ms = 3 + 1 + 24 + 1 = 29 s.
 * (Lifeguard awareness stretches a prober's interval to probeInterval × (score + 1); during a
 * detection serf's and our score briefly reach 1–2 because helpers' nacks arrive at the very end
 * of the probe interval — the suspicion term, which confirmations cut to 4 s, leaves ample slack.)
 */
const detectionBound = (profile: Profile, n: number) => {
  const p = presets[profile]
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)))
  const probeRound = (n - 1) * p.probeInterval
  const probe = p.probeInterval
  const suspicionMax = p.suspicionMaxTimeoutMult * p.suspicionMult * nodeScale * p.probeInterval
  const dissemination = 5 * p.gossipInterval
  return { total: probeRound + probe + suspicionMax + dissemination, probeRound, probe, suspicionMax, dissemination }
}

// ---------------------------------------------------------------------------------------

describeWithSerf("interop with real serf agents", () => {
  it.live("1. our node joins a 3-agent serf cluster: tags and liveness agree on both sides", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const s1 = yield* startSerf({ name: "t1-s1", ip: ip(1), profile: "local", tags: { role: "web", dc: "lab" } })
      const s2 = yield* startSerf({ name: "t1-s2", ip: ip(2), profile: "local", join: [s1.address], tags: { role: "db" } })
      const s3 = yield* startSerf({ name: "t1-s3", ip: ip(3), profile: "local", join: [s1.address, s2.address] })
      const agents = [s1, s2, s3]
      yield* awaitConverged(agents, [], JOINED, "serf cluster of 3")

      const ourTags = { role: "gossip", lang: "typescript", zone: "zürich-β", "empty": "" }
      const node = yield* startNode(scope, { name: "t1-ts", ip: ip(4), tags: ourTags })
      assert.strictEqual(yield* node.membership.join([s1.address]), 1)

      // serf's side: every agent lists us alive, with our tags, at our address (t1-s1 from our
      // join, the others from gossip or a push/pull).
      yield* awaitAgents(agents, node.name, "alive", GOSSIPED, "every agent lists t1-ts alive with its tags", ourTags)
      for (const agent of agents) {
        const us = byName(yield* agent.members, node.name)!
        assert.strictEqual(us.addr, node.address) // serf prints "ip:port"
        assert.strictEqual(us.port, Number(node.address.split(":")[1]))
      }

      // our side: every agent alive, tags decoded with serf's rules.
      yield* eventually(nodeSees(node, agents.map((a) => a.name), "alive"), JOINED, "t1-ts lists every agent alive")
      const expected: Record<string, Record<string, string>> = {
        "t1-s1": { role: "web", dc: "lab" },
        "t1-s2": { role: "db" },
        "t1-s3": {}
      }
      for (const agent of agents) {
        const m = (yield* memberOf(node, agent.name))!
        assert.deepStrictEqual(sortKeys(decodeTags(m.meta)), sortKeys(expected[agent.name]!), agent.name)
        assert.strictEqual(m.address, agent.address)
        assert.deepStrictEqual(
          [m.protocolMin, m.protocolMax, m.protocolCur, m.delegateMin, m.delegateMax, m.delegateCur],
          [1, 5, 2, 2, 5, 5]
        )
      }
      assert.strictEqual(yield* node.membership.numMembers, 4)
      for (const agent of agents) assertNoCrash(agent)
    })), 2 * JOINED + GOSSIPED + 10_000)

  it.live("2. serf agents join through our node and learn about each other through us", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const node = yield* startNode(scope, { name: "t2-ts", ip: ip(11), tags: { role: "seed" } })
      const s1 = yield* startSerf({ name: "t2-s1", ip: ip(12), profile: "local", join: [node.address] })
      const s2 = yield* startSerf({ name: "t2-s2", ip: ip(13), profile: "local", join: [node.address] })
      const s3 = yield* startSerf({ name: "t2-s3", ip: ip(14), profile: "local", join: [node.address] })
      const agents = [s1, s2, s3]
      // None of them was given another agent's address: they can only know each other via us
      // (an agent learns of the earlier ones from our join reply, of the later ones by gossip).
      yield* awaitConverged(agents, [node], GOSSIPED, "everyone knows everyone")
      yield* awaitAgents(agents, node.name, "alive", 5_000, "our tags at every agent", { role: "seed" })
      for (const agent of agents) {
        assert.match(agent.logs(), /serf: EventMemberJoin: t2-ts/, `${agent.name} joined through t2-ts`)
        assertNoCrash(agent)
      }
      assert.deepStrictEqual(
        node.events.filter((e) => e.value._tag === "MemberJoined").map((e) => e.value.member.name).sort(),
        ["t2-s1", "t2-s2", "t2-s3"]
      )
    })), GOSSIPED + 20_000)

  describe("3. failure detection, lan profile on both sides", () => {
    it.live("a SIGKILLed serf agent is declared failed by our node within the Lifeguard bound", () =>
      Effect.scoped(Effect.gen(function*() {
        const scope = yield* Effect.scope
        const s1 = yield* startSerf({ name: "t3a-s1", ip: ip(21), profile: "lan" })
        const s2 = yield* startSerf({ name: "t3a-s2", ip: ip(22), profile: "lan", join: [s1.address] })
        const s3 = yield* startSerf({ name: "t3a-s3", ip: ip(23), profile: "lan", join: [s1.address, s2.address] })
        const node = yield* startNode(scope, { name: "t3a-ts", ip: ip(24), profile: "lan" })
        assert.strictEqual(yield* node.membership.join([s1.address, s2.address, s3.address]), 3)
        const agents = [s1, s2, s3]
        yield* awaitConverged(agents, [node], 15_000, "cluster of 4 converged")

        const n = (yield* node.membership.currentMembers).length
        assert.strictEqual(n, 4)
        const bound = detectionBound("lan", n)
        const t0 = Date.now()
        yield* s3.kill("SIGKILL")
        yield* eventually(
          Effect.sync(() => firstEvent(node, "MemberFailed", s3.name) !== undefined),
          bound.total + 5_000,
          "MemberFailed for the killed agent"
        )
        const failed = firstEvent(node, "MemberFailed", s3.name)!
        const suspected = firstEvent(node, "MemberSuspected", s3.name)
        const measured = failed.at - t0
        console.log(
          `[measured] serf agent SIGKILL -> our MemberFailed: ${measured} ms ` +
            `(suspected after ${suspected === undefined ? "-" : suspected.at - t0} ms by ${suspected?.value.from ?? "-"}, ` +
            `declared by ${failed.value.from}; lan, n=${n}, bound ${bound.total} ms = ${bound.probeRound} + ` +
            `${bound.probe} + ${bound.suspicionMax} + ${bound.dissemination})`
        )
        assert.isAtMost(measured, bound.total)
        assert.strictEqual((yield* memberOf(node, s3.name))?.state, "dead")
        assert.strictEqual((yield* node.membership.stats).internalErrors, 0)
        // The surviving agents agree, and still list our node alive.
        yield* awaitAgents([s1, s2], s3.name, "failed", 10_000, "the agents list t3a-s3 as failed")
        assert.isTrue(yield* agentsSee([s1, s2], node.name, "alive"))
      })), 60_000)

    it.live("our node stopped hard (scope closed, no leave) is declared failed by serf", () =>
      Effect.scoped(Effect.gen(function*() {
        const scope = yield* Effect.scope
        const s1 = yield* startSerf({ name: "t3b-s1", ip: ip(26), profile: "lan" })
        const s2 = yield* startSerf({ name: "t3b-s2", ip: ip(27), profile: "lan", join: [s1.address] })
        const s3 = yield* startSerf({ name: "t3b-s3", ip: ip(28), profile: "lan", join: [s1.address, s2.address] })
        const nodeScope = yield* Scope.fork(scope)
        const node = yield* startNode(nodeScope, { name: "t3b-ts", ip: ip(29), profile: "lan" })
        assert.strictEqual(yield* node.membership.join([s1.address, s2.address, s3.address]), 3)
        const agents = [s1, s2, s3]
        yield* awaitConverged(agents, [node], 15_000, "cluster of 4 converged")

        const n = (yield* s1.members).length
        const bound = detectionBound("lan", n)
        const t0 = Date.now()
        yield* Scope.close(nodeScope, Exit.void)
        const closedIn = Date.now() - t0
        // Poll one agent for the measurement (each poll runs the serf CLI, ~tens of ms)...
        yield* awaitAgents([s1], node.name, "failed", bound.total + 5_000, "s1 lists t3b-ts as failed")
        const measured = Date.now() - t0
        // ...then the others.
        yield* awaitAgents(agents, node.name, "failed", 10_000, "every agent lists t3b-ts as failed")
        const all = Date.now() - t0
        console.log(
          `[measured] our node hard-stopped -> serf 'failed': ${measured} ms at t3b-s1, ${all} ms at all three ` +
            `(scope closed in ${closedIn} ms; lan, n=${n}, bound ${bound.total} ms)`
        )
        assert.isAtMost(measured, bound.total)
        assert.match(s1.logs(), /EventMemberFailed: t3b-ts|Marking t3b-ts as failed|memberlist: Suspect t3b-ts/)
        for (const agent of agents) assertNoCrash(agent)
      })), 60_000)
  })

  it.live("4. graceful leave both ways: serf shows our node left; our node shows a serf agent left", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const s1 = yield* startSerf({ name: "t4-s1", ip: ip(31), profile: "local" })
      const s2 = yield* startSerf({ name: "t4-s2", ip: ip(32), profile: "local", join: [s1.address] })
      const s3 = yield* startSerf({ name: "t4-s3", ip: ip(33), profile: "local", join: [s1.address, s2.address] })
      const node = yield* startNode(scope, { name: "t4-ts", ip: ip(34) })
      yield* node.membership.join([s1.address, s2.address, s3.address])
      yield* awaitConverged([s1, s2, s3], [node], JOINED, "cluster of 4 converged")

      // `serf leave` of an agent: our node sees a graceful leave, not a failure.
      yield* s3.leave
      yield* eventually(
        Effect.sync(() => firstEvent(node, "MemberLeft", s3.name) !== undefined),
        10_000,
        "MemberLeft for t4-s3"
      )
      assert.strictEqual((yield* memberOf(node, s3.name))?.state, "left")
      assert.isUndefined(firstEvent(node, "MemberFailed", s3.name))
      // serf's side: nobody lists it alive any more, and the leave intent reached at least one
      // agent. (Not necessarily both: serf spends some of its few retransmissions of the intent
      // on our node, which does not pass serf messages on; an agent that got the memberlist
      // leave without the intent shows "failed" until a serf–serf push/pull brings LeftMembers.)
      yield* eventually(
        Effect.gen(function*() {
          const statuses: Array<string | undefined> = []
          for (const agent of [s1, s2]) statuses.push(byName(yield* agent.members, s3.name)?.status)
          return statuses.every((st) => st === "left" || st === "failed") && statuses.includes("left")
        }),
        10_000,
        "the agents list t4-s3 as left (or failed, not yet told)"
      ).pipe(Effect.catch((e) =>
        Effect.flatMap(clusterViews([s1, s2], []), (v) => Effect.fail(new Error(`${e.message}\n${v}`)))
      ))

      // Our leave: serf's leave intent (serf type 0, LTime 1: we never sent a join intent, so
      // serf's status time for us is 0) to every live serf member, then the memberlist leave.
      const intent = encodeLeaveIntent({ ltime: 1, node: node.name, prune: false })
      for (const m of yield* node.membership.currentMembers) {
        if (m.name !== node.name && m.state === "alive") yield* node.membership.sendBestEffort(m.name, intent)
      }
      // serf marks us "leaving" once it has the intent; only then leave, so the memberlist
      // dead cannot overtake the intent in serf's (newest-first) message queue.
      yield* awaitAgents([s1, s2], node.name, "leaving", 5_000, "serf marks t4-ts leaving")
      yield* node.membership.leave
      yield* awaitAgents([s1, s2], node.name, "left", 10_000, "serf lists t4-ts as left")
      for (const agent of [s1, s2]) {
        assert.notMatch(agent.logs(), /EventMemberFailed: t4-ts/)
        assertNoCrash(agent)
      }
    })), 60_000)

  describe("5. encryption", () => {
    const encryptedCluster = (label: string, key: string, wrongKey: string, base: number) =>
      Effect.scoped(Effect.gen(function*() {
        const scope = yield* Effect.scope
        const s1 = yield* startSerf({ name: `${label}-s1`, ip: ip(base), profile: "local", encrypt: key })
        const s2 = yield* startSerf({ name: `${label}-s2`, ip: ip(base + 1), profile: "local", encrypt: key, join: [s1.address] })
        const node = yield* startNode(scope, { name: `${label}-ts`, ip: ip(base + 2), encryptionKeys: [key] })
        assert.strictEqual(yield* node.membership.join([s1.address, s2.address]), 2)
        yield* awaitConverged([s1, s2], [node], JOINED, "encrypted cluster of 3 converged")

        // A node of ours with the wrong key is refused: typed JoinError, never listed by serf.
        const outsider = yield* startNode(scope, { name: `${label}-wrong`, ip: ip(base + 3), encryptionKeys: [wrongKey] })
        const refused = yield* Effect.flip(outsider.membership.join([s1.address]))
        assert.instanceOf(refused, JoinError)
        assert.strictEqual(refused._tag, "JoinError")
        assert.isAtLeast(refused.errors.length, 1)
        console.log(`[${label}] our wrong-key join refused: ${refused.message}`)
        // serf dropped the stream it could not decrypt, and lists nothing new.
        yield* eventually(
          Effect.sync(() => /No installed keys could decrypt/.test(s1.logs())),
          5_000,
          "serf logs the undecryptable stream"
        )
        assert.isTrue(
          (yield* s1.members).every((m) => m.name !== outsider.name) &&
            (yield* s2.members).every((m) => m.name !== outsider.name),
          "serf lists the wrong-key node"
        )
        assert.deepStrictEqual((yield* outsider.membership.currentMembers).map((m) => m.name), [outsider.name])

        // A serf agent with the wrong key joining us: it fails, we count the refused stream and
        // our member table stays as it was.
        const tableOf = (t: TsNode) =>
          Effect.map(t.membership.currentMembers, (ms) => ms.map((m) => `${m.name}:${m.state}`).sort())
        const tableBefore = yield* tableOf(node)
        const statsBefore = yield* node.membership.stats
        const intruder = yield* startSerf({ name: `${label}-intruder`, ip: ip(base + 4), profile: "local", encrypt: wrongKey })
        const join = yield* serfCli(["join", `-rpc-addr=${intruder.rpc}`, node.address])
        assert.notStrictEqual(join.status, 0, `serf join with the wrong key succeeded:\n${join.stdout}`)
        yield* eventually(
          Effect.map(node.membership.stats, (s) =>
            s.streamErrors + s.decodeErrors > statsBefore.streamErrors + statsBefore.decodeErrors),
          5_000,
          "our node counts the undecryptable stream"
        )
        const statsAfter = yield* node.membership.stats
        console.log(
          `[${label}] wrong-key serf join refused: "${(join.stdout + join.stderr).trim().split("\n").pop()}"; ` +
            `our streamErrors ${statsBefore.streamErrors} -> ${statsAfter.streamErrors}, ` +
            `decodeErrors ${statsBefore.decodeErrors} -> ${statsAfter.decodeErrors}`
        )
        assert.deepStrictEqual(yield* tableOf(node), tableBefore)
        assert.deepStrictEqual((yield* intruder.members).map((m) => m.name), [intruder.name])

        // Failure detection works encrypted: a SIGKILLed agent is declared failed by us...
        yield* s2.kill("SIGKILL")
        const t0 = Date.now()
        const n = (yield* node.membership.currentMembers).length
        yield* eventually(
          Effect.sync(() => firstEvent(node, "MemberFailed", s2.name) !== undefined),
          detectionBound("local", n).total + 5_000,
          "MemberFailed for the killed agent"
        )
        console.log(`[${label}] encrypted: SIGKILLed agent -> our MemberFailed in ${Date.now() - t0} ms (local, n=${n})`)
        // ...while our encrypted acks keep us alive at serf all along.
        yield* awaitAgents([s1], s2.name, "failed", 10_000, "s1 lists s2 as failed")
        assert.isTrue(yield* agentsSee([s1], node.name, "alive"), "serf still lists our node alive")

        // serf never listed the wrong-key nodes.
        for (const stranger of [outsider.name, intruder.name]) {
          assert.isUndefined(byName(yield* s1.members, stranger), `${stranger} at s1`)
          assert.isUndefined(yield* memberOf(node, stranger), `${stranger} at our node`)
        }
        assert.strictEqual((yield* node.membership.stats).internalErrors, 0)
        assertNoCrash(s1)
        assertNoCrash(intruder)
      }))

    it.live("AES-256 (32-byte key): join, failure detection, wrong keys refused both ways", () =>
      encryptedCluster("t5a", KEY_AES256, KEY_OTHER256, 41), 60_000)

    it.live("AES-128 (16-byte key): join, failure detection, wrong keys refused both ways", () =>
      encryptedCluster("t5b", KEY_AES128, KEY_AES256, 51), 60_000)
  })

  it.live("6. user messages: ours reach serf harmlessly; serf user events reach us", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const s1 = yield* startSerf({ name: "t6-s1", ip: ip(61), profile: "local" })
      const s2 = yield* startSerf({ name: "t6-s2", ip: ip(62), profile: "local", join: [s1.address] })
      const node = yield* startNode(scope, { name: "t6-ts", ip: ip(63) })
      yield* node.membership.join([s1.address, s2.address])
      yield* awaitConverged([s1, s2], [node], JOINED, "cluster of 3 converged")

      // serf type bytes it does not know (0x7f, 0x7e): serf logs a warning and drops them, which
      // also proves they arrived and were decoded as user messages.
      yield* node.membership.sendBestEffort(s1.name, Uint8Array.of(0x7f, ...text("over UDP")))
      yield* node.membership.sendReliable(s1.name, Uint8Array.of(0x7e, ...text("over TCP")))
      yield* eventually(
        Effect.sync(() => /unknown type: 127/.test(s1.logs()) && /unknown type: 126/.test(s1.logs())),
        5_000,
        "serf received both user messages"
      )
      assert.notMatch(s1.logs(), /memberlist: (Failed to handle|Received invalid msgType|Failed to decode)/)
      assertNoCrash(s1)
      yield* awaitConverged([s1, s2], [node], 10_000, "still one healthy cluster")

      // A serf user event, fired at the other agent, reaches us by gossip.
      const fired = yield* serfCli(["event", `-rpc-addr=${s2.rpc}`, "deploy", "v42"])
      assert.strictEqual(fired.status, 0, fired.stdout + fired.stderr)
      const deploy = () =>
        node.messages
          .map((m) => decodeSerfMessage(m.value.payload))
          .find((m) => m?._tag === "UserEvent" && m.name === "deploy")
      yield* eventually(Effect.sync(() => deploy() !== undefined), 5_000, "serf user event at our node")
      const event = deploy()!
      assert.strictEqual(event._tag, "UserEvent")
      if (event._tag === "UserEvent") {
        assert.strictEqual(utf8(event.payload), "v42")
        assert.isAtLeast(event.ltime, 1)
      }
      const raw = node.messages.find((m) => m.value.payload[0] === 3)!.value.payload
      assert.strictEqual(raw[0], 3) // serf's user-event type
      assert.include(utf8(raw), "deploy")

      // A serf query reaches us too (serf's own message type 4); we do not answer it.
      const query = yield* serfCli(["query", `-rpc-addr=${s1.rpc}`, "-timeout=500ms", "whoami", "hello"])
      assert.strictEqual(query.status, 0, query.stdout + query.stderr)
      const whoami = () =>
        node.messages.map((m) => decodeSerfMessage(m.value.payload)).find((m) => m?._tag === "Query" && m.name === "whoami")
      yield* eventually(Effect.sync(() => whoami() !== undefined), 5_000, "serf query at our node")
      const q = whoami()!
      if (q._tag === "Query") {
        assert.strictEqual(utf8(q.payload), "hello")
        assert.strictEqual(q.sourceNode, s1.name)
        assert.strictEqual(q.flags & 1, 1) // ack requested
        assert.strictEqual(`${[...q.addr!].join(".")}:${q.port}`, s1.address)
      }

      // Everything serf sent us is one of its message types, and decodes.
      const kinds = node.messages.map((m) => decodeSerfMessage(m.value.payload)?._tag ?? "malformed")
      console.log(`[t6] serf messages at our node: ${kinds.join(", ")}`)
      assert.notInclude(kinds, "malformed")
      assert.notInclude(kinds, "Unknown")

      const stats = yield* node.membership.stats
      assert.strictEqual(stats.internalErrors, 0)
      assert.strictEqual(stats.decodeErrors, 0)
      assertNoCrash(s1)
      assertNoCrash(s2)
    })), 45_000)

  it.live("7. while serf gossips, our node understands everything it sends", () =>
    Effect.scoped(Effect.gen(function*() {
      const scope = yield* Effect.scope
      const seen = new Map<string, number>()
      const node = yield* startTappedNode(scope, { name: "t7-ts", ip: ip(71), tags: { role: "tap" } }, (k) =>
        seen.set(k, (seen.get(k) ?? 0) + 1))
      // s1 joins us (their push/pull request with serf state); we join s2 (their reply with it).
      const s1 = yield* startSerf({ name: "t7-s1", ip: ip(72), profile: "local", join: [node.address] })
      const s2 = yield* startSerf({ name: "t7-s2", ip: ip(73), profile: "local", tags: { role: "db" } })
      yield* node.membership.join([s2.address])
      const s3 = yield* startSerf({ name: "t7-s3", ip: ip(74), profile: "local", join: [s1.address, s2.address] })
      const agents = [s1, s2, s3]
      // t7-s1 hears of t7-s2 only by gossip (or a push/pull).
      yield* awaitConverged(agents, [node], GOSSIPED, "cluster of 4 converged")
      // More gossip: user events (serf broadcasts, compounds) and a tag update (alive, incarnation 2).
      for (const [i, agent] of agents.entries()) {
        const r = yield* serfCli(["event", `-rpc-addr=${agent.rpc}`, `ev-${i}`, "x".repeat(100 * i)])
        assert.strictEqual(r.status, 0, r.stdout + r.stderr)
      }
      const tagged = yield* serfCli(["tags", `-rpc-addr=${s2.rpc}`, "-set", "role=primary"])
      assert.strictEqual(tagged.status, 0, tagged.stdout + tagged.stderr)
      // Gossip: t7-s2 sends its new alive twice, and each agent that hears it passes it on
      // twice, every copy to a random member; all of them miss us about one time in twenty,
      // and then the update comes with the next push/pull between us and an agent.
      yield* eventually(
        Effect.map(memberOf(node, s2.name), (m) => m !== undefined && decodeTags(m.meta)["role"] === "primary"),
        GOSSIPED,
        "tag update reached us"
      )

      const wanted = [
        "udp:crc", // hasCrc wrapper (serf gossips to pmax 5 with CRC)
        "udp:compress", // LZW-compressed datagram
        "udp:compound", // several messages in one datagram
        "msg:Ping",
        "msg:Ack+coordinate", // ack payload: 0x01 + msgpack Vivaldi coordinate
        "msg:Alive",
        "msg:User", // serf messages (join intents, user events)
        "tcp:PushPull+serf-state:in", // a serf agent's push/pull request (joining us)
        "tcp:PushPull+serf-state:reply" // a serf agent's push/pull reply (to our join)
      ]
      const missing = () => wanted.filter((k) => !seen.has(k))
      // A compound needs two broadcasts queued at one agent at once, and the local profile
      // spends a broadcast within one gossip tick (100 ms: 3 targets, 2 transmissions). So
      // while a kind is missing, every agent fires an event at the same moment, every 2 s,
      // and each relays the others' within the same few ticks.
      let bursts = 0
      let lastBurst = Date.now()
      const burst = Effect.suspend(() => {
        if (missing().length === 0 || Date.now() - lastBurst < 2_000) return Effect.void
        lastBurst = Date.now()
        bursts++
        return Effect.forEach(
          agents,
          (agent) => serfCli(["event", `-rpc-addr=${agent.rpc}`, `burst-${bursts}-${agent.name}`, "y"]),
          { concurrency: "unbounded", discard: true }
        )
      })
      // ~3 packets/s reach us from 3 agents on the local profile (pings, acks, gossip): 40 take ~15 s.
      yield* eventually(
        Effect.andThen(burst, Effect.map(node.membership.stats, (s) => s.packetsReceived >= 40 && missing().length === 0)),
        25_000,
        "every kind of serf traffic seen"
      ).pipe(Effect.catch((e) =>
        Effect.flatMap(node.membership.stats, (s) =>
          Effect.fail(new Error(`${e.message}: missing [${missing()}], ${s.packetsReceived} packets`)))
      ))
      const stats = yield* node.membership.stats
      console.log(
        `[t7] ${stats.packetsReceived} packets from serf, ${bursts} event bursts: ` +
          [...seen.entries()].sort().map(([k, v]) => `${k}=${v}`).join(" ") +
          ` | decodeErrors=${stats.decodeErrors} streamErrors=${stats.streamErrors} internalErrors=${stats.internalErrors}`
      )
      assert.strictEqual(stats.decodeErrors, 0)
      assert.strictEqual(stats.streamErrors, 0)
      assert.strictEqual(stats.internalErrors, 0)
      assert.isTrue(yield* converged(agents, [node]))
      for (const agent of agents) assertNoCrash(agent)
    })), 2 * GOSSIPED + 45_000)
})

// ---------------------------------------------------------------------------------------
// test 7: a node whose codec reports the shape of everything it decodes

/** Classifies a plaintext datagram the way memberlist's receive path unwraps it. */
const classifyPacket = (bytes: Uint8Array, note: (kind: string) => void) => {
  let b = bytes
  if (b.length >= 5 && b[0] === 12) {
    note("udp:crc")
    b = b.subarray(5)
  }
  const walk = (m: Uint8Array, depth: number): void => {
    if (m.length === 0 || depth > 4) return
    if (m[0] === 9) {
      note("udp:compress")
      // 09 82 a4 'Algo' 00 a3 'Buf' <raw header> <lzw>
      const at = m.indexOf(0x42 /* B */, 1)
      if (at < 0) return
      let i = at + 3
      const h = m[i]!
      let len = 0
      if (h >= 0xa0 && h <= 0xbf) (len = h & 0x1f), (i += 1)
      else if (h === 0xda) (len = (m[i + 1]! << 8) | m[i + 2]!), (i += 3)
      else if (h === 0xdb) (len = new DataView(m.buffer, m.byteOffset + i + 1, 4).getUint32(0)), (i += 5)
      else return
      const inner = lzwDecompress(m, 1 << 20, i, i + len)
      if (typeof inner !== "string") walk(inner.slice(), depth + 1)
    } else if (m[0] === 7) {
      note("udp:compound")
      const count = m[1]!
      let off = 2 + 2 * count
      for (let k = 0; k < count; k++) {
        const len = (m[2 + 2 * k]! << 8) | m[3 + 2 * k]!
        walk(m.subarray(off, off + len), depth + 1)
        off += len
      }
    }
  }
  walk(b, 0)
}

const tapCodec = (codec: CodecShape, note: (kind: string) => void): CodecShape => ({
  ...codec,
  decodePacket: (bytes) => {
    classifyPacket(bytes, note)
    const decoded = codec.decodePacket(bytes)
    for (const m of decoded.messages) {
      note(`msg:${m._tag}`)
      if (m._tag === "Ack" && m.payload !== null && m.payload.length > 1 && m.payload[0] === 1) note("msg:Ack+coordinate")
    }
    for (const e of decoded.errors) note(`error:${e.reason}`)
    return decoded
  },
  decodeStream: (buffer, options) => {
    const r = codec.decodeStream(buffer, options)
    if (r._tag === "Complete") {
      const m = r.message
      const serfState = m._tag === "PushPull" && m.userState.length > 0 && m.userState[0] === 2 ? "+serf-state" : ""
      note(`tcp:${m._tag}${serfState}:${options.initiator ? "reply" : "in"}`)
    } else if (r._tag === "Failed") note(`tcp-error:${r.error.reason}`)
    return r
  }
})

/** `Gossip.layer` assembled by hand (plaintext memberlist codec) with a tap on decoding. */
const startTappedNode = (scope: Scope.Scope, o: NodeOptions, note: (kind: string) => void) =>
  Effect.gen(function*() {
    const layer = Membership.layer.pipe(
      Layer.provideMerge(UdpTcpTransport.layerNode({ bindAddress: o.ip, bindPort: 0 })),
      Layer.provide(Layer.succeed(Codec, tapCodec(makeMemberlistCodec({ compression: true }), note))),
      Layer.provide(GossipConfig.layer(serfCompatible(o)))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const transport = context.mapUnsafe.get(UdpTcpTransport.key) as UdpTcpTransport["Service"]
    const recorded = yield* record(scope, membership)
    const node: TsNode = { name: o.name, address: `${o.ip}:${transport.port}`, membership, ...recorded }
    return node
  })
