/**
 * A runner address in member metadata. For nodes that announce nothing else:
 * UTF-8 JSON `{"runner":{"host":"10.0.0.5","port":34431}}` (other keys beside it
 * are ignored, and the bytes are those of a JSON `MemberMetadata` with a
 * `runner: { host, port }` field). For nodes with typed metadata: `select`.
 */
import { Option, Result, Schema } from "effect"
import { RunnerAddress } from "effect/cluster/RunnerAddress"
import type { Member } from "../Member.ts"
import type { MemberMetadata } from "../metadata/MemberMetadata.ts"
import type { RunnerOf } from "./RunnerLiveness.ts"

const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))

const Metadata = Schema.Struct({ runner: Schema.Struct({ host: Schema.NonEmptyString, port: Port }) })

const decodeJson = Schema.decodeUnknownOption(Schema.fromJsonString(Metadata))

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** The metadata bytes announcing `runner` (well under memberlist's 512-byte limit for any host name). */
const encode = (runner: { readonly host: string; readonly port: number }): Uint8Array =>
  utf8Encoder.encode(JSON.stringify({ runner: { host: runner.host, port: runner.port } }))

/** The runner address in `meta`, or `undefined` when the bytes are not such metadata. */
const decode = (meta: Uint8Array): RunnerAddress | undefined => {
  if (meta.length === 0) return undefined
  return Option.match(decodeJson(utf8Decoder.decode(meta)), {
    onNone: () => undefined,
    onSome: ({ runner }) => RunnerAddress.make({ host: runner.host, port: runner.port })
  })
}

/** A runner address in member metadata, as JSON: write it with `encode`, select it with `runnerOf`. */
export const RunnerMetadata = {
  /** The metadata bytes announcing `runner`: pass them as the gossip node's `meta`. */
  encode,
  /** The runner address in metadata bytes, or `undefined` when they carry none. */
  decode,
  /** The selector `GossipRunnerHealth.layer` takes, for members whose metadata `encode` wrote. */
  runnerOf: (member: Member): RunnerAddress | undefined => decode(member.meta),
  /**
   * The selector for typed metadata that carries the runner address:
   * `RunnerMetadata.select(AppMetadata, (meta) => meta.runner)`. Members whose
   * metadata does not decode name no runner.
   */
  select: <A>(
    metadata: Pick<MemberMetadata<A>, "decodeBytes">,
    pick: (value: A) => { readonly host: string; readonly port: number } | undefined
  ): RunnerOf =>
  (member) => {
    const decoded = metadata.decodeBytes(member.meta)
    return Result.isSuccess(decoded) ? pick(decoded.success) : undefined
  }
} as const
