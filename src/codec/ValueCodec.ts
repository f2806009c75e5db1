/**
 * Application values to bytes and back, through their `Schema`: the schema's
 * canonical JSON form, written as JSON text (readable by any language) or as
 * msgpack. Used by topics and typed metadata; decoding never throws.
 */
import { Exit, Schema } from "effect"
import { decodeJsonMsgpack, encodeJsonMsgpack } from "./msgpack/Json.ts"

/** How values are written: JSON text or msgpack of the same JSON data. */
export type ValueFormat = "json" | "msgpack"

/** A schema whose encoding and decoding need no services. */
export type ValueSchema<A> = Schema.ConstraintCodec<A, unknown, never, never>

export type ValueResult<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: string }

export interface ValueCodec<A> {
  encode(value: A): ValueResult<Uint8Array>
  decode(bytes: Uint8Array): ValueResult<A>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const failure = (error: string): { readonly ok: false; readonly error: string } => ({ ok: false, error })

export const makeValueCodec = <A>(schema: ValueSchema<A>, format: ValueFormat): ValueCodec<A> => {
  const json = Schema.toCodecJson(schema) as unknown as Schema.ConstraintCodec<A, unknown, never, never>
  const toJson = Schema.encodeExit(json)
  const fromJson = Schema.decodeUnknownExit(json)
  const write = format === "json" ? (v: unknown) => encoder.encode(JSON.stringify(v)) : encodeJsonMsgpack
  const read = format === "json"
    ? (bytes: Uint8Array): ValueResult<unknown> => {
      try {
        return { ok: true, value: JSON.parse(decoder.decode(bytes)) }
      } catch (e) {
        return failure(`not JSON: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    : decodeJsonMsgpack
  return {
    encode: (value) => {
      const exit = toJson(value)
      if (Exit.isFailure(exit)) return failure(messageOf(exit))
      try {
        return { ok: true, value: write(exit.value) }
      } catch (e) {
        return failure(e instanceof Error ? e.message : String(e))
      }
    },
    decode: (bytes) => {
      const raw = read(bytes)
      if (!raw.ok) return raw
      const exit = fromJson(raw.value)
      return Exit.isSuccess(exit) ? { ok: true, value: exit.value } : failure(messageOf(exit))
    }
  }
}

const messageOf = (exit: Exit.Exit<unknown, Schema.SchemaError>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return error !== undefined && error._tag === "Fail" ? error.error.message : "the schema could not run synchronously"
}

/**
 * A structural fingerprint of a schema and format: two declarations with the same
 * fingerprint read and write the same bytes. Schemas without a JSON Schema form fall
 * back to identity.
 */
export const fingerprint = (schema: Schema.Constraint, format: ValueFormat): string | Schema.Constraint => {
  try {
    return `${format}:${JSON.stringify(Schema.toJsonSchemaDocument(schema))}`
  } catch {
    return schema
  }
}
