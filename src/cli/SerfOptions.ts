/**
 * The flags and arguments of `gossip event`, `gossip query`, `gossip keys` and
 * `gossip monitor`, decoded while the command line is parsed, so a bad value
 * is a usage error (with the usage) before anything talks to the agent.
 */
import { Schema, SchemaTransformation } from "effect"
import { Argument, Flag } from "effect/cli"
import { compileTagExpr } from "../serf/QueryPayloads.ts"
import { parseGoDuration } from "./GoDuration.ts"
import { EncryptionKey, membersFlags } from "./Options.ts"

/** `--timeout`: a Go duration such as `5s` or `500ms`, decoded to milliseconds (at least 1 ms, at most an hour). */
export const QueryTimeout = Schema.String.check(Schema.makeFilter((text: string) => {
  const ms = parseGoDuration(text)
  if (ms === undefined) return "expected a duration such as 500ms, 5s or 1m30s"
  return (ms >= 1 && ms <= 3_600_000) || "expected a duration between 1ms and 1h"
})).pipe(Schema.decodeTo(
  Schema.Number,
  SchemaTransformation.transform({ decode: (text) => parseGoDuration(text) ?? 0, encode: (ms) => `${ms}ms` })
))

/** `--tag key=regexp` of `gossip query`: a tag filter whose expression this node can evaluate too. */
export const TagFilter = Schema.String.check(Schema.makeFilter((text: string) => {
  const eq = text.indexOf("=")
  if (eq <= 0) return "expected key=regexp with a non-empty key"
  const re = compileTagExpr(text.slice(eq + 1))
  return typeof re !== "string" || `invalid regular expression: ${re}`
})).pipe(Schema.decodeTo(
  Schema.Tuple([Schema.String, Schema.String]),
  SchemaTransformation.transform({
    decode: (text): readonly [string, string] => {
      const eq = text.indexOf("=")
      return [text.slice(0, eq), text.slice(eq + 1)]
    },
    encode: ([key, value]) => `${key}=${value}`
  })
))

/** How `query` and `keys` print their results. */
export type ResultFormat = "text" | "json"

const format = Flag.Literals("format", ["text", "json"]).pipe(
  Flag.withDefault<ResultFormat>("text"),
  Flag.withDescription("text, or json")
)

/** The flags and arguments of `gossip event`. */
export const eventParams = {
  ctl: membersFlags.ctl,
  coalesce: Flag.Boolean("coalesce").pipe(
    Flag.withDefault(true),
    Flag.withDescription("Let serf agents coalesce events of the same name (--coalesce=false to deliver each)")
  ),
  name: Argument.String("name").pipe(Argument.withDescription("Event name")),
  payload: Argument.String("payload").pipe(Argument.optional, Argument.withDescription("Event payload (text)"))
} as const

/** The flags and arguments of `gossip query`. */
export const queryParams = {
  ctl: membersFlags.ctl,
  timeout: Flag.String("timeout").pipe(
    Flag.withSchema(QueryTimeout),
    Flag.optional,
    Flag.withDescription("How long to collect answers (Go duration, e.g. 5s); serf's default when absent")
  ),
  node: Flag.String("node").pipe(
    Flag.atLeast(0),
    Flag.withDescription("Only this node answers (repeatable)")
  ),
  tag: Flag.String("tag").pipe(
    Flag.withSchema(TagFilter),
    Flag.atLeast(0),
    Flag.withDescription("Only nodes whose tag matches key=regexp answer (repeatable)")
  ),
  noAck: Flag.Boolean("no-ack").pipe(Flag.withDefault(false), Flag.withDescription("Do not ask for delivery acks")),
  relayFactor: Flag.Int("relay-factor").pipe(
    Flag.withSchema(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 5 }))),
    Flag.withDefault(0),
    Flag.withDescription("Responders also send their answers through this many other members (0 to 5)")
  ),
  format,
  name: Argument.String("name").pipe(Argument.withDescription("Query name")),
  payload: Argument.String("payload").pipe(Argument.optional, Argument.withDescription("Query payload (text)"))
} as const

/** The flags of `gossip keys`. */
export const keysParams = {
  ctl: membersFlags.ctl,
  install: Flag.String("install").pipe(
    Flag.withSchema(EncryptionKey),
    Flag.optional,
    Flag.withDescription("Install a key on every member (it decrypts at once, encrypts after --use)")
  ),
  use: Flag.String("use").pipe(
    Flag.withSchema(EncryptionKey),
    Flag.optional,
    Flag.withDescription("Make an installed key the primary (encrypting) key on every member")
  ),
  remove: Flag.String("remove").pipe(
    Flag.withSchema(EncryptionKey),
    Flag.optional,
    Flag.withDescription("Remove a key from every member (not the primary key)")
  ),
  list: Flag.Boolean("list").pipe(Flag.withDefault(false), Flag.withDescription("List the keys of every member")),
  format
} as const

/** The flags of `gossip monitor` (the level is the global `--log-level`). */
export const monitorParams = {
  ctl: membersFlags.ctl,
  format: Flag.Literals("format", ["text", "json"]).pipe(
    Flag.withDefault<ResultFormat>("text"),
    Flag.withDescription("text lines, or json: one JSON object per line")
  )
} as const
