/**
 * Typed failures of the public API.
 */
import { Schema } from "effect"

/** No seed answered a join: `errors` has one line per address tried. */
export class JoinError extends Schema.TaggedError<JoinError>()("JoinError", {
  message: Schema.String,
  errors: Schema.Array(Schema.String)
}) {}

/** A push/pull (state exchange) with one peer failed. */
export class PushPullError extends Schema.TaggedError<PushPullError>()("PushPullError", {
  address: Schema.String,
  message: Schema.String
}) {}

/** A leave or metadata update was not fully gossiped before its timeout. */
export class BroadcastTimeoutError extends Schema.TaggedError<BroadcastTimeoutError>()("BroadcastTimeoutError", {
  operation: Schema.Literals(["leave", "updateMetadata"]),
  message: Schema.String
}) {}

/** Metadata larger than `metaMaxSize`. */
export class MetadataTooLargeError extends Schema.TaggedError<MetadataTooLargeError>()("MetadataTooLargeError", {
  size: Schema.Number,
  limit: Schema.Number
}) {}

/** An application message could not be sent. */
export class MessageError extends Schema.TaggedError<MessageError>()("MessageError", {
  reason: Schema.Literals(["TooLarge", "UnknownNode", "Transport", "Left"]),
  message: Schema.String
}) {}

/** An application name and version, as members announce them. */
export const ApplicationSchema = Schema.Struct({ name: Schema.String, version: Schema.String })

/**
 * A member runs an application this node's compatibility rule refuses (see
 * `GossipConfigInput.application`): it was kept out of the table.
 */
export class IncompatibleMemberError extends Schema.TaggedError<IncompatibleMemberError>()("IncompatibleMemberError", {
  /** The refused member's name. */
  member: Schema.String,
  /** What it announced; undefined when it announces no application. */
  remote: Schema.UndefinedOr(ApplicationSchema),
  /** What this node runs. */
  local: ApplicationSchema,
  message: Schema.String
}) {}
