/**
 * Throughput of the memberlist wire codec and its building blocks.
 * Run: ./node_modules/.bin/node bench/codec.ts
 *
 * Each row runs the operation in a loop for a fixed time after a warm-up and
 * reports operations per second and the mean time per operation. The numbers
 * are for comparing changes on one machine, not across machines.
 */
import { cpus } from "node:os"
import { makeMemberlistCodec } from "../src/codec/MemberlistCodec.ts"
import type { Alive, PushNodeState, PushPull } from "../src/protocol/Messages.ts"
import { ping } from "../src/protocol/Messages.ts"
import { Keyring } from "../src/security/Keyring.ts"
import { lzwCompress, lzwDecompress } from "../src/security/Lzw.ts"
import { encodeTags } from "../src/serf/Tags.ts"

const MEASURE_MS = 400
const WARMUP_MS = 100

let sink = 0

const measure = (fn: () => unknown): { opsPerSec: number; nsPerOp: number } => {
  const run = (ms: number) => {
    const end = performance.now() + ms
    let ops = 0
    const start = performance.now()
    while (performance.now() < end) {
      for (let i = 0; i < 64; i++) {
        const r = fn()
        if (r !== undefined) sink++
      }
      ops += 64
    }
    return { ops, elapsed: performance.now() - start }
  }
  run(WARMUP_MS)
  const { elapsed, ops } = run(MEASURE_MS)
  return { opsPerSec: (ops / elapsed) * 1000, nsPerOp: (elapsed * 1e6) / ops }
}

const vsn = Uint8Array.of(1, 5, 2, 2, 5, 5)
const alive = (i: number): Alive => ({
  _tag: "Alive",
  incarnation: i + 1,
  node: `node-${i}`,
  addr: Uint8Array.of(10, 0, (i >> 8) & 0xff, i & 0xff),
  port: 7946,
  meta: encodeTags({ role: "web", dc: "lab" }),
  vsn
})
const nodeState = (i: number): PushNodeState => {
  const a = alive(i)
  return { name: a.node, addr: a.addr, port: a.port, meta: a.meta, incarnation: a.incarnation, state: 0, vsn }
}

const codec = makeMemberlistCodec()
const plainCodec = makeMemberlistCodec({ compression: false })
const keyring = Keyring.makeUnsafe([new Uint8Array(32).fill(7)])

const pingMsg = ping(42, "node-1", Uint8Array.of(10, 0, 0, 1), "node-2", 7946)
const pingPacket = codec.encodePacket([codec.encodeMessage(pingMsg)], { checksum: false })
const aliveMsg = alive(1)
const alivePacket = codec.encodePacket([codec.encodeMessage(aliveMsg)], { checksum: true })
const alives = Array.from({ length: 10 }, (_, i) => alive(i))
const aliveParts = alives.map((m) => codec.encodeMessage(m))
const compoundPacket = codec.encodePacket(aliveParts, { checksum: true })
const compoundPlain = plainCodec.encodePacket(aliveParts, { checksum: true })
const pushPull: PushPull = {
  _tag: "PushPull",
  join: false,
  nodes: Array.from({ length: 100 }, (_, i) => nodeState(i)),
  userState: new Uint8Array(600)
}
const pushPullStream = codec.encodeStream(pushPull, { initiator: true })
const kib = plainCodec.encodeStream(pushPull, { initiator: true }).subarray(0, 1024)
const kibLzw = lzwCompress(kib)
const kibRandom = Uint8Array.from({ length: 1024 }, (_, i) => (i * 2654435761) >>> 24)
const kibRandomLzw = lzwCompress(kibRandom)
const noAad = new Uint8Array(0)
const kibSealed = keyring.encrypt(kib, 1, noAad)
const encrypted = makeMemberlistCodec({ keyring })
const encryptedCompound = encrypted.encodePacket(aliveParts, { checksum: true })

const rows: Array<[string, string, () => unknown]> = [
  ["ping", `encode (${pingPacket.length} B)`, () => codec.encodePacket([codec.encodeMessage(pingMsg)], { checksum: false })],
  ["ping", "decode", () => codec.decodePacket(pingPacket)],
  ["alive", `encode (${alivePacket.length} B)`, () => codec.encodePacket([codec.encodeMessage(aliveMsg)], { checksum: true })],
  ["alive", "decode", () => codec.decodePacket(alivePacket)],
  ["compound of 10 alives", `encode, LZW + CRC (${compoundPacket.length} B)`, () =>
    codec.encodePacket(alives.map((m) => codec.encodeMessage(m)), { checksum: true })],
  ["compound of 10 alives", "decode, LZW + CRC", () => codec.decodePacket(compoundPacket)],
  ["compound of 10 alives", `encode, no compression (${compoundPlain.length} B)`, () =>
    plainCodec.encodePacket(alives.map((m) => plainCodec.encodeMessage(m)), { checksum: true })],
  ["compound of 10 alives", "decode, no compression", () => plainCodec.decodePacket(compoundPlain)],
  ["compound of 10 alives", `encode, LZW + CRC + AES-256-GCM (${encryptedCompound.length} B)`, () =>
    encrypted.encodePacket(alives.map((m) => encrypted.encodeMessage(m)), { checksum: true })],
  ["compound of 10 alives", "decode, AES-256-GCM + CRC + LZW", () => encrypted.decodePacket(encryptedCompound)],
  ["push/pull of 100 nodes", `encode, LZW (${pushPullStream.length} B)`, () =>
    codec.encodeStream(pushPull, { initiator: true })],
  ["push/pull of 100 nodes", "decode, LZW", () => codec.decodeStream(pushPullStream, { initiator: false })],
  ["LZW 1 KiB (push/pull bytes)", `compress (→ ${kibLzw.length} B)`, () => lzwCompress(kib)],
  ["LZW 1 KiB (push/pull bytes)", "decompress", () => lzwDecompress(kibLzw)],
  ["LZW 1 KiB (pseudo-random)", `compress (→ ${kibRandomLzw.length} B)`, () => lzwCompress(kibRandom)],
  ["LZW 1 KiB (pseudo-random)", "decompress", () => lzwDecompress(kibRandomLzw)],
  ["AES-256-GCM 1 KiB", "seal", () => keyring.encrypt(kib, 1, noAad)],
  ["AES-256-GCM 1 KiB", "open", () => keyring.decrypt(kibSealed, noAad)]
]

const cpu = cpus()
console.log(`machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, node ${process.version}`)
console.log(`each row: ${WARMUP_MS} ms warm-up, ${MEASURE_MS} ms measured\n`)
const header = ["payload", "operation", "ops/s", "µs/op"]
const lines: Array<Array<string>> = []
for (const [what, op, fn] of rows) {
  const { nsPerOp, opsPerSec } = measure(fn)
  lines.push([what, op, Math.round(opsPerSec).toLocaleString("en-US"), (nsPerOp / 1000).toFixed(2)])
}
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
const fmt = (cells: ReadonlyArray<string>) =>
  cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ")
console.log(fmt(header))
console.log(widths.map((w) => "-".repeat(w)).join("  "))
for (const l of lines) console.log(fmt(l))
if (sink < 0) console.log(sink)
