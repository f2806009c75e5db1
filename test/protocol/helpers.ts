import type { GossipConfigInput, GossipConfigValues } from "../../src/Config.ts"
import { presets } from "../../src/Config.ts"
import type { Alive, PacketMessage } from "../../src/protocol/Messages.ts"
import { NodeCore } from "../../src/protocol/Node.ts"
import type { Output } from "../../src/protocol/Outputs.ts"
import type { Timer } from "../../src/protocol/Timer.ts"

/** A seeded uniform source (mulberry32) for core tests. */
export const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Core tests only need sizes and identities of encoded messages: JSON does. */
export const encodeJson = (m: PacketMessage): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v)))

export const decodeJson = (bytes: Uint8Array): PacketMessage => JSON.parse(new TextDecoder().decode(bytes))

export const config = (overrides: Partial<GossipConfigInput> & { name: string }): GossipConfigValues => ({
  ...presets.lan,
  meta: new Uint8Array(0),
  profile: "lan",
  ...overrides
} as GossipConfigValues)

export const makeCore = (name: string, overrides: Partial<GossipConfigInput> = {}, ip = [10, 0, 0, 1]) =>
  new NodeCore({
    config: config({ name, ...overrides }),
    encode: encodeJson,
    compoundHeaderOverhead: 2,
    compoundPartOverhead: 2,
    packetOverhead: () => 0,
    addr: Uint8Array.from(ip),
    port: 7946,
    random: seeded(42)
  }, 0)

export const VSN = Uint8Array.of(1, 5, 2, 0, 0, 0)

export const alive = (node: string, incarnation: number, ip: number, meta: Array<number> = []): Alive => ({
  _tag: "Alive",
  node,
  incarnation,
  addr: Uint8Array.of(10, 0, 0, ip),
  port: 7946,
  meta: Uint8Array.from(meta),
  vsn: VSN
})

export const outputsOf = <T extends Output["_tag"]>(outputs: ReadonlyArray<Output>, tag: T) =>
  outputs.filter((o): o is Extract<Output, { _tag: T }> => o._tag === tag)

/** Every message that left in packets, decoded. */
export const sentMessages = (outputs: ReadonlyArray<Output>) =>
  outputsOf(outputs, "SendPacket").flatMap((p) => p.parts.map((part) => ({ to: p.to, message: decodeJson(part) })))

/** The timer of `tag` among `outputs`' `SetTimer`s, with the instant it was armed for. */
export const armedIn = (outputs: ReadonlyArray<Output>, tag: Timer["_tag"]) =>
  outputsOf(outputs, "SetTimer").find((t) => t.timer._tag === tag)

/** Fires the probe timer the core waits for, as the shell would at `now`. */
export const fireProbeTimeout = (core: NodeCore, now: number) => core.timer(core.armedTimer("ProbeTimeout")!, now)
