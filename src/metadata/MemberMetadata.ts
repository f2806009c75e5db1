/**
 * Typed metadata: a node's metadata declared by a `Schema`. `MemberMetadata.make`
 * declares it; its `layer(initial)` announces this node's value and gives a
 * member table in which every member's metadata is decoded. A member whose
 * metadata does not decode stays in the table, marked undecodable and counted;
 * it is never dropped.
 */
import { Context, Effect, Layer, Result, Schema, Stream, SubscriptionRef } from "effect"
import type { ValueSchema } from "../codec/ValueCodec.ts"
import type { BroadcastTimeoutError, MetadataTooLargeError } from "../Errors.ts"
import type { Member } from "../Member.ts"
import { Membership } from "../Membership.ts"
import { counter, counterFeed } from "../runtime/Metrics.ts"
import type { MetadataFormat } from "./MetadataCodec.ts"
import { makeMetadataCodec } from "./MetadataCodec.ts"

/** A value could not be encoded by the metadata's schema. */
export class MetadataEncodeError extends Schema.TaggedError<MetadataEncodeError>()("MetadataEncodeError", {
  metadata: Schema.String,
  message: Schema.String
}) {}

/** A member's metadata that did not decode with the schema; the member stays in the table. */
export class UndecodableMetadata extends Schema.TaggedError<UndecodableMetadata>()("UndecodableMetadata", {
  member: Schema.String,
  message: Schema.String
}) {}

/** A member with its metadata decoded, or the reason it could not be. */
export interface TypedMember<A> extends Member {
  readonly metadata: Result.Result<A, UndecodableMetadata>
}

/** What a typed-metadata layer provides. */
export interface MemberMetadataShape<A> {
  /** This node's current value. */
  readonly local: Effect.Effect<A>
  /**
   * The member table (self included) with decoded metadata: the current table first, then
   * each change, a moment after `Membership.members` shows it.
   */
  readonly members: Stream.Stream<ReadonlyArray<TypedMember<A>>>
  /** The member table with decoded metadata, right now. */
  readonly currentMembers: Effect.Effect<ReadonlyArray<TypedMember<A>>>
  /** Announces a new value (new incarnation, broadcast) and waits for the broadcast. */
  update(value: A): Effect.Effect<void, MetadataEncodeError | MetadataTooLargeError | BroadcastTimeoutError>
  /** Decodes one member's metadata. */
  decode(member: Member): Result.Result<A, UndecodableMetadata>
  /** Distinct announcements whose metadata did not decode, since the layer started (none announced: not counted). */
  readonly undecodable: Effect.Effect<number>
}

/** The service identifier of a typed metadata declaration. */
export interface MemberMetadataId<A> {
  readonly _MemberMetadata: (a: A) => A
}

/** A typed metadata declaration: a service key, plus its layer and accessors. */
export interface MemberMetadata<A> extends Context.Service<MemberMetadataId<A>, MemberMetadataShape<A>> {
  readonly id: string
  readonly schema: ValueSchema<A>
  readonly format: MetadataFormat
  /** Bytes of `value` as announced, or why it cannot be encoded. */
  encode(value: A): Result.Result<Uint8Array, MetadataEncodeError>
  /** The value in announced bytes, or why they do not decode. */
  decodeBytes(bytes: Uint8Array): Result.Result<A, string>
  /**
   * Announces `initial` as this node's metadata when built (keeping whatever else the
   * node announces, such as its application) and provides the typed view.
   */
  layer(
    initial: A
  ): Layer.Layer<MemberMetadataId<A>, MetadataEncodeError | MetadataTooLargeError | BroadcastTimeoutError, Membership>
  /** The member table with decoded metadata, from the layer in context. */
  readonly members: Stream.Stream<ReadonlyArray<TypedMember<A>>, never, MemberMetadataId<A>>
  /** Announces a new value, through the layer in context. */
  update(value: A): Effect.Effect<void, MetadataEncodeError | MetadataTooLargeError | BroadcastTimeoutError, MemberMetadataId<A>>
}

/** How `MemberMetadata.make` writes values. */
export interface MemberMetadataOptions {
  /** `json` (default), `msgpack`, or `serf-tags` (for schemas that encode to a map of strings). */
  readonly format?: MetadataFormat
}

const undecodableCounter = counter(
  "gossip_metadata_undecodable",
  "Member announcements whose metadata did not decode with the declared schema"
)

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Distinct members whose last decode is remembered; the table itself is the usual bound. */
const CACHE_LIMIT = 65_536

/**
 * Declares typed metadata. `id` names the declaration (one per node and schema);
 * the schema must need no services.
 */
export const make = <S extends ValueSchema<any>>(
  id: string,
  schema: S,
  options: MemberMetadataOptions = {}
): MemberMetadata<S["Type"]> => {
  type A = S["Type"]
  const format = options.format ?? "json"
  const codec = makeMetadataCodec<A>(schema, format)
  const key = Context.Service<MemberMetadataId<A>, MemberMetadataShape<A>>(`effect-gossip/MemberMetadata/${id}`)

  const encode = (value: A): Result.Result<Uint8Array, MetadataEncodeError> => {
    const r = codec.encode(value)
    return r.ok ? Result.succeed(r.value) : Result.fail(new MetadataEncodeError({ metadata: id, message: r.error }))
  }
  const decodeBytes = (bytes: Uint8Array): Result.Result<A, string> => {
    const r = codec.decode(bytes)
    return r.ok ? Result.succeed(r.value) : Result.fail(r.error)
  }

  const make = Effect.gen(function*() {
    const membership = yield* Membership
    const node = membership.config.name
    // The last decode per member: a table change re-decodes only the members whose bytes changed.
    const cache = new Map<string, { readonly meta: Uint8Array; readonly result: Result.Result<A, UndecodableMetadata> }>()
    let undecodable = 0

    const decode = (member: Member): Result.Result<A, UndecodableMetadata> => {
      const hit = cache.get(member.name)
      if (hit !== undefined && bytesEqual(hit.meta, member.meta)) return hit.result
      // No metadata at all is a member that announced none (yet): marked, but not counted as bad.
      const r = member.meta.length === 0 ? { ok: false as const, error: "no metadata announced" } : codec.decode(member.meta)
      const result: Result.Result<A, UndecodableMetadata> = r.ok
        ? Result.succeed(r.value)
        : Result.fail(new UndecodableMetadata({ member: member.name, message: r.error }))
      if (!r.ok && member.meta.length > 0) undecodable++
      if (cache.size >= CACHE_LIMIT && !cache.has(member.name)) cache.delete(cache.keys().next().value!)
      cache.set(member.name, { meta: member.meta, result })
      return result
    }
    const typed = (members: ReadonlyArray<Member>): ReadonlyArray<TypedMember<A>> =>
      members.map((m) => ({ ...m, metadata: decode(m) }))

    // One fiber decodes each table as it is published, so that undecodable metadata is counted
    // whether or not anyone reads the typed table, and readers share one decode per change.
    const table = yield* SubscriptionRef.make(typed(yield* membership.currentMembers))
    const feed = counterFeed()
    const report = Effect.suspend(() => feed(id, undecodableCounter, undecodable, { node, metadata: id }))
    yield* membership.members.pipe(
      Stream.runForEach((ms) => SubscriptionRef.set(table, typed(ms)).pipe(Effect.andThen(report))),
      Effect.forkScoped
    )

    const update = (value: A): Effect.Effect<void, MetadataEncodeError | MetadataTooLargeError | BroadcastTimeoutError> =>
      Effect.suspend((): Effect.Effect<void, MetadataEncodeError | MetadataTooLargeError | BroadcastTimeoutError> => {
        const bytes = encode(value)
        return Result.isFailure(bytes) ? Effect.fail(bytes.failure) : membership.updateMetadata(bytes.success)
      })

    const local = Effect.flatMap(membership.localMember, (self) => {
      const r = decode(self)
      // Our own metadata was encoded by this schema: failing to decode it is a bug.
      return Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.die(r.failure)
    })

    return key.of({
      local,
      members: SubscriptionRef.changes(table),
      currentMembers: SubscriptionRef.get(table),
      update,
      decode,
      undecodable: Effect.sync(() => undecodable)
    })
  })

  const layer = (initial: A) =>
    Layer.effect(
      key,
      Effect.gen(function*() {
        const service = yield* make
        const membership = yield* Membership
        const bytes = encode(initial)
        if (Result.isFailure(bytes)) return yield* bytes.failure
        const self = yield* membership.localMember
        if (!bytesEqual(self.meta, bytes.success)) yield* membership.updateMetadata(bytes.success)
        return service
      })
    )

  return Object.assign(key, {
    id,
    schema,
    format,
    encode,
    decodeBytes,
    layer,
    members: Stream.unwrap(key.useSync((s) => s.members)),
    update: (value: A) => key.use((s) => s.update(value))
  }) as MemberMetadata<A>
}

/** serf's tags (a map of strings), as serf agents announce and read them. */
export const serfTags: MemberMetadata<Readonly<Record<string, string>>> = make(
  "serf-tags",
  Schema.Record(Schema.String, Schema.String),
  { format: "serf-tags" }
)

