/**
 * What a topic is: a name, the `Schema` of its values and how they are written,
 * plus the typed error of topic operations.
 */
import { Schema } from "effect"
import type { ValueCodec, ValueFormat, ValueSchema } from "../codec/ValueCodec.ts"
import { fingerprint, makeValueCodec } from "../codec/ValueCodec.ts"
import { nameBytes } from "./Frame.ts"

const TypeId = "~effect-gossip/Topic"

/** Why a topic operation failed. */
export const TopicErrorReason = Schema.Literals(["BadName", "Conflict", "Encode", "TooLarge", "UnknownNode", "Transport", "Left"])
export type TopicErrorReason = typeof TopicErrorReason.Type

/** A topic operation failed; `topic` names the topic. */
export class TopicError extends Schema.TaggedError<TopicError>()("TopicError", {
  reason: TopicErrorReason,
  topic: Schema.String,
  message: Schema.String
}) {}

/** A typed application protocol: a name, and the schema of its values. */
export interface Topic<A> {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly schema: ValueSchema<A>
  /** How values are written on the wire. */
  readonly format: ValueFormat
  /** Deliveries each subscriber may hold before new ones are dropped (and counted). */
  readonly bufferSize: number
  /** The largest encoded value `send` takes and a receiver accepts, in bytes. */
  readonly maxValueBytes: number
  /** The schema bound to the format. */
  readonly codec: ValueCodec<A>
  /** Equal for declarations that read and write the same bytes. */
  readonly fingerprint: unknown
}

/** A received value, decoded. */
export interface Delivery<A> {
  readonly topic: string
  /** The name of the member that published or sent it. */
  readonly from: string
  /** `broadcast` for `publish`, `direct` for `send`. */
  readonly kind: "broadcast" | "direct"
  readonly value: A
}

/** How `Topic.make` writes values and bounds what it holds. */
export interface TopicOptions {
  /** `json` (default; readable by any language) or `msgpack` (the same data, smaller). */
  readonly format?: ValueFormat
  /** Deliveries a subscriber may hold (default 1024); beyond it new ones are dropped and counted. */
  readonly bufferSize?: number
  /** Largest encoded value in bytes (default 1 MiB). `publish` is bounded by one gossip packet anyway. */
  readonly maxValueBytes?: number
}

/** Declares a topic. Names are 1 to 255 bytes of UTF-8; the schema must need no services. */
export const make = <S extends ValueSchema<any>>(name: string, schema: S, options: TopicOptions = {}): Topic<S["Type"]> => {
  const format = options.format ?? "json"
  return {
    [TypeId]: TypeId,
    name,
    schema,
    format,
    bufferSize: Math.max(1, Math.floor(options.bufferSize ?? 1024)),
    maxValueBytes: Math.max(1, Math.floor(options.maxValueBytes ?? 1024 * 1024)),
    codec: makeValueCodec(schema, format),
    fingerprint: fingerprint(schema, format)
  }
}

/** True when `u` is a `Topic`. */
export const isTopic = (u: unknown): u is Topic<unknown> => typeof u === "object" && u !== null && TypeId in u

/** The error for a name that cannot be a topic's, if `name` is one. */
export const checkName = (name: string): TopicError | undefined =>
  nameBytes(name) === undefined
    ? new TopicError({ reason: "BadName", topic: name, message: "topic names are 1 to 255 bytes of UTF-8" })
    : undefined
