/**
 * How typed metadata becomes the bytes a member announces: a value's schema
 * written as JSON or msgpack, or as serf's tags (0xff and a msgpack map of
 * strings), so that serf agents read it.
 */
import { Exit, Schema } from "effect"
import type { ValueCodec, ValueFormat, ValueResult, ValueSchema } from "../codec/ValueCodec.ts"
import { makeValueCodec } from "../codec/ValueCodec.ts"
import { decodeTagsStrict, encodeTags } from "../serf/Tags.ts"

/** `json` and `msgpack` as for topics; `serf-tags` for a schema whose encoded form is a string map. */
export type MetadataFormat = ValueFormat | "serf-tags"

const failure = (error: string): { readonly ok: false; readonly error: string } => ({ ok: false, error })

const reason = (exit: Exit.Exit<unknown, Schema.SchemaError>): string => {
  if (Exit.isSuccess(exit)) return ""
  const fail = exit.cause.reasons.find((r) => r._tag === "Fail")
  return fail !== undefined && fail._tag === "Fail" ? fail.error.message : "the schema could not run synchronously"
}

const isStringMap = (u: unknown): u is Readonly<Record<string, string>> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && Object.values(u).every((v) => typeof v === "string")

const serfTagsCodec = <A>(schema: ValueSchema<A>): ValueCodec<A> => {
  const encode = Schema.encodeExit(schema)
  const decode = Schema.decodeUnknownExit(schema)
  return {
    encode: (value): ValueResult<Uint8Array> => {
      const exit = encode(value)
      if (Exit.isFailure(exit)) return failure(reason(exit))
      if (!isStringMap(exit.value)) return failure("serf tags are a map of strings; the schema encodes to something else")
      return { ok: true, value: encodeTags(exit.value) }
    },
    decode: (bytes): ValueResult<A> => {
      const tags = decodeTagsStrict(bytes)
      if (typeof tags === "string") return failure(tags)
      const exit = decode(tags)
      return Exit.isSuccess(exit) ? { ok: true, value: exit.value } : failure(reason(exit))
    }
  }
}

/** The codec for `schema` in `format`. */
export const makeMetadataCodec = <A>(schema: ValueSchema<A>, format: MetadataFormat): ValueCodec<A> =>
  format === "serf-tags" ? serfTagsCodec(schema) : makeValueCodec(schema, format)
