/**
 * The control endpoint's serf routes (served next to those of `Control.ts`):
 *
 * - `POST /v1/event` `{name, payload?, coalesce?}`: sends a user event; answers `{ltime}`;
 * - `POST /v1/query` `{name, payload?, timeoutMillis?, nodes?, tags?, requestAck?, relayFactor?}`:
 *   sends a query and streams NDJSON: `{type:"dispatched",…}`, then one line per
 *   `ack` or `response` as it arrives, then `{type:"done", acks, responses}` at the deadline;
 * - `POST /v1/keys` `{operation: install|use|remove|list, key?}`: a cluster-wide key
 *   operation, answered with serf's tally (`KeyOperationResult`);
 * - `GET /v1/monitor?level=info`: the agent's log records as NDJSON, live, until the
 *   client hangs up (bounded per client, see `Monitor.ts`);
 * - `GET /v1/serf`: the serf counters and clocks.
 *
 * A request the agent refuses (bad body, event too large, invalid key) gets status 400
 * and `{error}`.
 */
import { Effect, Exit, Layer, Schema, Scope, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { SerfAgent } from "../serf/SerfAgent.ts"
import { levelRank, MonitorHub, monitorStream } from "./Monitor.ts"

/** The body of `POST /v1/event`. */
export const EventRequest = Schema.Struct({
  name: Schema.String,
  payload: Schema.optional(Schema.String),
  coalesce: Schema.optional(Schema.Boolean)
})

/** The body of `POST /v1/query`. */
export const QueryRequestBody = Schema.Struct({
  name: Schema.String,
  payload: Schema.optional(Schema.String),
  timeoutMillis: Schema.optional(Schema.Number),
  nodes: Schema.optional(Schema.Array(Schema.String)),
  tags: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  requestAck: Schema.optional(Schema.Boolean),
  relayFactor: Schema.optional(Schema.Number)
})

/** The body of `POST /v1/keys`. */
export const KeysRequest = Schema.Struct({
  operation: Schema.Literals(["install", "use", "remove", "list"]),
  key: Schema.optional(Schema.String)
})

/** One line of the `POST /v1/query` stream. */
export const QueryLine = Schema.Union([
  Schema.Struct({
    type: Schema.Literal("dispatched"),
    name: Schema.String,
    ltime: Schema.Number,
    id: Schema.Number,
    timeoutMillis: Schema.Number,
    numNodes: Schema.Number
  }),
  Schema.Struct({ type: Schema.Literal("ack"), from: Schema.String }),
  Schema.Struct({
    type: Schema.Literal("response"),
    from: Schema.String,
    payload: Schema.String,
    payloadBase64: Schema.String
  }),
  Schema.Struct({ type: Schema.Literal("done"), acks: Schema.Number, responses: Schema.Number })
])
export type QueryLine = typeof QueryLine.Type

const encoder = new TextEncoder()
const utf8 = (text: string | undefined) => text === undefined ? null : encoder.encode(text)
const line = (value: QueryLine) => encoder.encode(`${JSON.stringify(value)}\n`)

const badRequest = (message: string) => HttpServerResponse.jsonUnsafe({ error: message }, { status: 400 })

/** Refusals of the agent and malformed bodies become 400 `{error}`. */
const refusals = <E extends { readonly _tag: string; readonly message: string }, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.catch(handler, (e) =>
    Effect.succeed(badRequest(e._tag === "SerfError" ? e.message : `invalid request: ${e.message}`)))

const event = refusals(Effect.gen(function*() {
  const body = yield* HttpServerRequest.schemaBodyJson(EventRequest)
  const serf = yield* SerfAgent
  const ltime = yield* serf.userEvent(body.name, utf8(body.payload), body.coalesce ?? true)
  return HttpServerResponse.jsonUnsafe({ ltime })
}))

const query = refusals(Effect.gen(function*() {
  const body = yield* HttpServerRequest.schemaBodyJson(QueryRequestBody)
  const serf = yield* SerfAgent
  // the query lives as long as its response stream
  const scope = yield* Scope.make()
  const handle = yield* serf.query({
    name: body.name,
    payload: utf8(body.payload),
    requestAck: body.requestAck ?? true,
    ...(body.timeoutMillis === undefined ? {} : { timeoutMillis: Math.max(1, body.timeoutMillis) }),
    ...(body.nodes === undefined ? {} : { nodes: body.nodes }),
    ...(body.tags === undefined ? {} : { tags: body.tags }),
    ...(body.relayFactor === undefined ? {} : { relayFactor: body.relayFactor })
  }).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
  let acks = 0
  let responses = 0
  const answers = handle.answers.pipe(Stream.map((a) => {
    if (a._tag === "Ack") {
      acks++
      return line({ type: "ack", from: a.from })
    }
    responses++
    return line({
      type: "response",
      from: a.from,
      payload: new TextDecoder().decode(a.payload),
      payloadBase64: Buffer.from(a.payload).toString("base64")
    })
  }))
  const body$ = Stream.succeed(line({
    type: "dispatched",
    name: body.name,
    ltime: handle.ltime,
    id: handle.id,
    timeoutMillis: handle.timeoutMillis,
    numNodes: handle.numNodes
  })).pipe(
    Stream.concat(answers),
    Stream.concat(Stream.suspend(() => Stream.succeed(line({ type: "done", acks, responses })))),
    Stream.ensuring(Scope.close(scope, Exit.void))
  )
  return HttpServerResponse.stream(body$, { contentType: "application/x-ndjson" })
}))

const keys = refusals(Effect.gen(function*() {
  const body = yield* HttpServerRequest.schemaBodyJson(KeysRequest)
  if (body.operation !== "list" && body.key === undefined) return badRequest(`${body.operation} needs a key`)
  const serf = yield* SerfAgent
  return HttpServerResponse.jsonUnsafe(yield* serf.keys(body.operation, body.key))
}))

const monitor = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const level = new URL(request.url, "http://agent").searchParams.get("level") ?? "info"
  const rank = levelRank(level)
  if (rank === undefined) return badRequest(`unknown level "${level}"`)
  const hub = yield* MonitorHub
  return HttpServerResponse.stream(monitorStream(hub, rank), { contentType: "application/x-ndjson" })
})

const stats = Effect.map(SerfAgent.use((serf) => serf.stats), (s) => HttpServerResponse.jsonUnsafe(s))

/** The serf routes; they need the agent's `SerfAgent` and `MonitorHub`. */
export const serfRoutes = Layer.mergeAll(
  HttpRouter.add("POST", "/v1/event", event),
  HttpRouter.add("POST", "/v1/query", query),
  HttpRouter.add("POST", "/v1/keys", keys),
  HttpRouter.add("GET", "/v1/monitor", monitor),
  HttpRouter.add("GET", "/v1/serf", stats)
)
