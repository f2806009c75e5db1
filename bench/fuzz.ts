/**
 * Fuzzing at scale: mutated datagrams and mutated stream messages into a live
 * node, on SimNetwork under TestClock, seeded (so any failure replays with the
 * same `--seed`). The corpus is serf's captured traffic (plain and AES-256)
 * plus messages our own codec writes (compounds, push/pull states, encrypted
 * frames). Two targets: a plain node and an encrypted one (the capture's key).
 * The node must count what it cannot decode, never fail internally, and keep
 * its real members' entries as they were (a plain node may take in members a
 * well-formed mutated alive announces: that is valid input, reported, not
 * hidden). Exits 1 when either fails.
 *
 *   ./node_modules/.bin/node bench/fuzz.ts                       # 10⁶ datagrams, 20,000 streams
 *   ./node_modules/.bin/node bench/fuzz.ts --datagrams 100000 --streams 2000 --seed 7
 */
import { Context, Effect, Fiber, Layer, Random } from "effect"
import { TestClock } from "effect/testing"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { CodecShape } from "../src/codec/Codec.ts"
import { Codec } from "../src/codec/Codec.ts"
import { makeMemberlistCodec } from "../src/codec/MemberlistCodec.ts"
import { GossipConfig } from "../src/Config.ts"
import { Membership } from "../src/Membership.ts"
import * as Msg from "../src/protocol/Messages.ts"
import { Keyring } from "../src/security/Keyring.ts"
import { SimNetwork } from "../src/transport/SimNetwork.ts"
import { num, printHeader, table } from "./harness.ts"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const DATAGRAMS = arg("datagrams", 1_000_000)
const STREAMS = arg("streams", 20_000)
const SEED = arg("seed", 2026)

// ---- corpus --------------------------------------------------------------------------------------

interface Capture {
  readonly encryption_key_base64: string | null
  readonly entries: ReadonlyArray<{ readonly transport?: string; readonly hex?: string }>
}
const vectors = fileURLToPath(new URL("../../shared/protocol/vectors/", import.meta.url))
const captures: Array<Capture> = readdirSync(vectors)
  .filter((f) => /^\d\d-.*\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(vectors, f), "utf8")))
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"))
const KEY = captures.find((c) => c.encryption_key_base64 !== null && Buffer.from(c.encryption_key_base64, "base64").length === 32)!
  .encryption_key_base64!
const captured = (encrypted: boolean, transport: string) =>
  captures
    .filter((c) => (c.encryption_key_base64 === KEY) === encrypted && (encrypted || c.encryption_key_base64 === null))
    .flatMap((c) => c.entries.filter((e) => e.transport === transport && typeof e.hex === "string"))
    .map((e) => fromHex(e.hex!))

/**
 * Messages our codec writes: compounds of every packet message, and push/pull states. They
 * speak of members outside the target's cluster (`peer-*` at 10.2.0.x): a message that names
 * a real member with its real address is news, not noise, and is not what this run measures.
 */
const ownTraffic = (codec: CodecShape) => {
  const addr = Uint8Array.of(10, 2, 0, 1)
  const vsn = Uint8Array.of(1, 5, 2, 0, 0, 0)
  const alive: Msg.Alive = { _tag: "Alive", incarnation: 3, node: "peer-1", addr, port: 7946, meta: Uint8Array.of(0xff, 0x80), vsn }
  const messages: Array<Msg.PacketMessage> = [
    Msg.ping(7, "node-0", addr, "peer-1", 7946),
    Msg.ack(7, null),
    Msg.nack(7),
    alive,
    Msg.suspect(3, "peer-1", "peer-2"),
    Msg.dead(3, "peer-1", "peer-2"),
    Msg.user(Uint8Array.of(0xeb, 0, 0, 0, 1, 1, 0x61, 0xed, 0, 1, 0x74, 1, 0x61, 0x7b, 0x7d))
  ]
  const parts = messages.map((m) => codec.encodeMessage(m))
  const packets = [...parts.map((p) => codec.encodePacket([p], { checksum: true })), codec.encodePacket(parts, { checksum: false })]
  const state: Msg.PushPull = {
    _tag: "PushPull",
    join: true,
    nodes: [0, 1, 2].map((i) => ({ name: `peer-${i}`, addr, port: 7946 + i, meta: null, incarnation: 2, state: 0, vsn })),
    userState: new Uint8Array(0)
  }
  const streams = [
    codec.encodeStream(state, { initiator: true }),
    codec.encodeStream(Msg.ping(9, "node-0", addr, "peer-1", 7946), { initiator: true }),
    codec.encodeStream(Msg.user(Uint8Array.of(0xec, 3, 0x72, 0x70, 0x63, 1, 0x61)), { initiator: true })
  ]
  return { packets, streams }
}

// ---- mutation ------------------------------------------------------------------------------------

/** mulberry32: the whole run follows from `--seed`. */
const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Flips bits, overwrites, truncates, duplicates a slice, or splices two inputs. */
const mutate = (input: Uint8Array, other: Uint8Array, next: () => number): Uint8Array => {
  const out = Uint8Array.from(input)
  const at = () => Math.floor(next() * out.length)
  switch (Math.floor(next() * 6)) {
    case 0:
      for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i++) out[at()]! ^= 1 << Math.floor(next() * 8)
      return out
    case 1:
      for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i++) out[at()] = Math.floor(next() * 256)
      return out
    case 2:
      return out.subarray(0, at())
    case 3: {
      const from = at()
      const to = Math.min(out.length, from + 1 + Math.floor(next() * 16))
      const dup = new Uint8Array(out.length + to - from)
      dup.set(out.subarray(0, to))
      dup.set(out.subarray(from), to)
      return dup
    }
    case 4: {
      const cut = at()
      const joined = new Uint8Array(cut + other.length)
      joined.set(out.subarray(0, cut))
      joined.set(other, cut)
      return joined
    }
    default:
      // A length or type byte set to an extreme: 0, 0xff or 0x7f.
      out[at()] = [0, 0xff, 0x7f][Math.floor(next() * 3)]!
      return out
  }
}

// ---- one target ----------------------------------------------------------------------------------

interface Row {
  readonly target: string
  readonly datagrams: number
  readonly datagramsPerSecond: number
  readonly decodeErrors: number
  readonly streams: number
  readonly streamErrors: number
  readonly internalErrors: number
  readonly handoffDropped: number
  readonly realMembersAlive: boolean
  readonly realMembers: string
  readonly incarnationsUnchanged: boolean
  readonly added: number
  readonly seconds: number
}

const address = (i: number) => `10.1.0.${i + 1}:7946`

const fuzz = (name: string, encrypted: boolean, seed: number) =>
  Effect.gen(function*() {
    const network = yield* SimNetwork
    const keyring = encrypted ? Keyring.makeUnsafe([Uint8Array.from(Buffer.from(KEY, "base64"))]) : undefined
    const codec = makeMemberlistCodec(keyring === undefined ? {} : { keyring })
    const nodes: Array<Membership["Service"]> = []
    for (let i = 0; i < 3; i++) {
      const layer = Membership.layer.pipe(
        Layer.provide(SimNetwork.transport(address(i))),
        Layer.provide(Layer.succeed(Codec, codec)),
        Layer.provide(GossipConfig.layer({ name: `node-${i}` }))
      )
      nodes.push(Context.get(yield* Layer.buildWithScope(layer, yield* Effect.scope), Membership))
    }
    for (let i = 1; i < 3; i++) {
      const join = yield* Effect.forkChild(nodes[i]!.join([address(0)]))
      yield* TestClock.adjust(100)
      yield* Fiber.join(join)
    }
    yield* TestClock.adjust("5 seconds")
    const target = nodes[0]!
    const view = Effect.map(target.currentMembers, (ms) =>
      ms.filter((m) => /^node-[0-2]$/.test(m.name)).map((m) => `${m.name}:${m.state}:${m.incarnation}`).join(","))
    const before = yield* view

    const own = ownTraffic(codec)
    const packets = [...captured(encrypted, "udp"), ...own.packets]
    const streams = [...captured(encrypted, "tcp"), ...own.streams]
    const next = prng(seed)
    const pick = (xs: ReadonlyArray<Uint8Array>) => xs[Math.floor(next() * xs.length)]!
    const attacker = yield* network.bind("10.9.9.9:7946")
    const started = performance.now()
    for (let i = 0; i < DATAGRAMS; i++) {
      yield* Effect.ignore(attacker.sendPacket(address(0), mutate(pick(packets), pick(packets), next)))
      // The node keeps running its protocol meanwhile: 10 virtual ms per 500 datagrams.
      if (i % 500 === 499) yield* TestClock.adjust(10)
    }
    const datagramSeconds = (performance.now() - started) / 1000
    for (let i = 0; i < STREAMS; i++) {
      const bytes = mutate(pick(streams), pick(streams), next)
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* attacker.dial(address(0), 1000)
        yield* conn.write(bytes)
        yield* conn.close
      })).pipe(Effect.ignore, Effect.forkChild)
      if (i % 100 === 99) yield* TestClock.adjust(50)
    }
    // Past every stream's read timeout and six push/pull intervals. A plain node believes forged
    // news (a member declared dead); the gossip that would correct it can be spent on members the
    // flood made up, and then anti-entropy (push/pull) repairs the table.
    yield* TestClock.adjust("180 seconds")
    const stats = yield* target.stats
    const after = yield* view
    const all = yield* target.currentMembers
    const row: Row = {
      target: name,
      datagrams: DATAGRAMS,
      datagramsPerSecond: DATAGRAMS / datagramSeconds,
      decodeErrors: stats.decodeErrors,
      streams: STREAMS,
      streamErrors: stats.streamErrors,
      internalErrors: stats.internalErrors,
      handoffDropped: stats.handoffDropped,
      realMembersAlive: after.split(",").length === 3 && after.split(",").every((e) => e.split(":")[1] === "alive"),
      realMembers: after,
      incarnationsUnchanged: after === before,
      added: all.filter((m) => !/^node-[0-2]$/.test(m.name)).length,
      seconds: (performance.now() - started) / 1000
    }
    return row
  }).pipe(
    Effect.scoped,
    Effect.provide(SimNetwork.layer()),
    Effect.provide(TestClock.layer({ warningDelay: "3600 seconds" })),
    Random.withSeed(seed)
  )

const rows: Array<Row> = []
for (const [name, encrypted] of [["plain", false], ["AES-256", true]] as const) {
  const row = await Effect.runPromise(fuzz(name, encrypted, SEED))
  process.stderr.write(`${name}: ${num(row.decodeErrors)} decode errors, ${row.internalErrors} internal, ${row.seconds.toFixed(1)} s; ${row.realMembers}\n`)
  rows.push(row)
}

printHeader("Fuzzing a live node (mutated datagrams and streams, SimNetwork + TestClock)", [
  `seed ${SEED} (replay: --seed ${SEED}); corpus: serf captures (${captured(false, "udp").length} plain and ${
    captured(true, "udp").length
  } AES-256 datagrams, ${captured(false, "tcp").length + captured(true, "tcp").length} streams) plus our codec's own messages.`,
  "Each datagram and stream is a mutation: bit flips, overwritten or extreme bytes, truncation, a duplicated slice, a splice of two inputs.",
  "Target: node-0 of a 3-node lan cluster; 10 virtual ms per 500 datagrams and 50 per 100 streams, then 180 virtual s of quiet.",
  "real members: node-0..2 alive in the target's table at the end, with the incarnations they had before; members added:",
  "entries for names the flood made up (a mutation that is still a well-formed alive is valid input on an unencrypted node)."
])
console.log(table(
  ["target", "datagrams", "datagrams/s", "decode errors", "handoff drops", "streams", "stream errors", "internal errors", "real members alive", "incarnations unchanged", "members added", "wall s"],
  rows.map((r) => [
    r.target,
    num(r.datagrams),
    num(r.datagramsPerSecond),
    num(r.decodeErrors),
    num(r.handoffDropped),
    num(r.streams),
    num(r.streamErrors),
    num(r.internalErrors),
    r.realMembersAlive ? "yes" : "NO",
    r.incarnationsUnchanged ? "yes" : "NO",
    num(r.added),
    r.seconds.toFixed(1)
  ])
))
if (rows.some((r) => r.internalErrors > 0 || !r.realMembersAlive || !r.incarnationsUnchanged)) {
  console.error("FAILED: an internal error, or the real members' entries changed")
  process.exit(1)
}
