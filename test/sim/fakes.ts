/**
 * Scripted peers for exact-timing tests: raw transports on the SimNetwork that
 * answer pings like a live node but otherwise only send what the test tells them.
 */
import { Effect, Queue } from "effect"
import { makeCompactCodec } from "../../src/codec/CompactCodec.ts"
import { parseIp, splitHostPort } from "../../src/Address.ts"
import type { Alive, PacketMessage } from "../../src/protocol/Messages.ts"
import * as Msg from "../../src/protocol/Messages.ts"
import { SimNetwork } from "../../src/transport/SimNetwork.ts"

export const codec = makeCompactCodec()

export interface FakePeer {
  readonly name: string
  readonly address: string
  readonly alive: (incarnation: number) => Alive
  send(to: string, ...messages: ReadonlyArray<PacketMessage>): Effect.Effect<void>
}

/** A peer that acks every ping addressed to it (or to nobody in particular) when `responsive`. */
export const fakePeer = (name: string, address: string, responsive = true) =>
  Effect.gen(function*() {
    const network = yield* SimNetwork
    const transport = yield* network.bind(address)
    const { host, port } = splitHostPort(address)
    const addr = parseIp(host)!
    const send = (to: string, ...messages: ReadonlyArray<PacketMessage>) =>
      Effect.orDie(transport.sendPacket(to, codec.encodePacket(messages.map((m) => codec.encodeMessage(m)), { checksum: false })))
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const packet = yield* Queue.take(transport.packets)
      if (!responsive) return
      for (const m of codec.decodePacket(packet.bytes).messages) {
        if (m._tag === "Ping" && (m.node === "" || m.node === name)) yield* send(packet.from, Msg.ack(m.seqNo, null))
      }
    })))
    const peer: FakePeer = {
      name,
      address,
      alive: (incarnation) => ({
        _tag: "Alive",
        incarnation,
        node: name,
        addr,
        port: port!,
        meta: null,
        vsn: Uint8Array.of(1, 5, 2, 0, 0, 0)
      }),
      send
    }
    return peer
  })
