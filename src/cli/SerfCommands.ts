/**
 * What serf's event, query, key and monitor commands do (`Commands.ts`
 * declares them), run against a running agent's control endpoint (see
 * `SerfControl.ts`):
 *
 * - `gossip event NAME [PAYLOAD] [--coalesce=false]`: a user event, which
 *   serf agents deliver to their handlers and show in `serf monitor`;
 * - `gossip query NAME [PAYLOAD] [--timeout D] [--node N…] [--tag k=re…]`:
 *   a query, printing acks and responses as they arrive, as `serf query`;
 * - `gossip keys --install K | --use K | --remove K | --list`: key rotation
 *   on every member, serf agents included, as `serf keys` (exit code 1 when
 *   a member failed or did not answer);
 * - `gossip monitor [--log-level L] [--format json]`: the agent's log live,
 *   as `serf monitor`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Console, Duration, Effect, Option, Schema, Stream } from "effect"
import { CliError, GlobalFlag } from "effect/cli"
import { HttpClient, HttpClientRequest } from "effect/http"
import type { KeyOperation, KeyOperationResult } from "../serf/KeyManager.ts"
import { parseRecord, renderRecord } from "./Monitor.ts"
import { QueryLine } from "./SerfControl.ts"

/** The agent answered with an error status. */
class Refused extends Schema.TaggedError<Refused>()("Refused", { message: Schema.String }) {}

const decodeErrorBody = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ error: Schema.String })))

/** `POST path` with a JSON body, or `GET` without; the response, failed with the agent's own message on an error status. */
const request = (ctl: string, method: "GET" | "POST", path: string, body?: unknown) => {
  const url = `http://${ctl}${path}`
  const req = method === "GET" ? HttpClientRequest.get(url) : HttpClientRequest.post(url).pipe(
    HttpClientRequest.bodyJsonUnsafe(body ?? {})
  )
  return HttpClient.execute(req).pipe(
    Effect.flatMap((response) =>
      response.status < 400 ? Effect.succeed(response) : Effect.flatMap(response.text, (text) => {
        const decoded = decodeErrorBody(text)
        return Effect.fail(
          new Refused({
            message: decoded._tag === "Some" ? decoded.value.error : `HTTP ${response.status}: ${text.slice(0, 200)}`
          })
        )
      })
    )
  )
}

/** The answer's body as lines, as they arrive. */
const lines = (ctl: string, method: "GET" | "POST", path: string, body?: unknown) =>
  Stream.unwrap(Effect.map(request(ctl, method, path, body), (response) => response.stream)).pipe(
    Stream.decodeText,
    Stream.splitLines,
    Stream.filter((line) => line.length > 0)
  )

const explain = (error: unknown): string => {
  if (error instanceof Refused) return error.message
  if (!(error instanceof Error)) return String(error)
  let innermost = error
  for (let depth = 0; depth < 5 && innermost.cause instanceof Error; depth++) innermost = innermost.cause
  return innermost === error ? error.message : `${error.message}: ${innermost.message}`
}

const userError = (what: string) => (cause: unknown) =>
  new CliError.UserError({ cause, userMessage: `${what}: ${explain(cause)}` })

/** Fails like a flag that did not parse: the error and the command's usage (the usage exit code). */
const usageError = (command: string, message: string) =>
  Effect.fail(
    new CliError.ShowHelp({ commandPath: ["gossip", command], errors: [new CliError.ValidationError({ message })] })
  )

const withClient = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, NodeHttpClient.layerNodeHttp)

// -------------------------------------------------------------------------------------------------
// event

/** `gossip event`: sends a user event through the agent. */
export const sendEvent = Effect.fn("gossip.event")(function*(options: {
  readonly ctl: string
  readonly name: string
  readonly payload: Option.Option<string>
  readonly coalesce: boolean
}) {
  if (options.name.startsWith("_serf_")) return yield* usageError("event", "event names cannot start with _serf_")
  yield* request(options.ctl, "POST", "/v1/event", {
    name: options.name,
    ...(Option.isSome(options.payload) ? { payload: options.payload.value } : {}),
    coalesce: options.coalesce
  }).pipe(
    Effect.flatMap((r) => r.json),
    Effect.timeout(Duration.seconds(5)),
    withClient,
    Effect.mapError(userError("Error sending event"))
  )
  yield* Console.log(`Event '${options.name}' dispatched! Coalescing enabled: ${options.coalesce}`)
})

// -------------------------------------------------------------------------------------------------
// query

const decodeQueryLine = Schema.decodeUnknownOption(Schema.fromJsonString(QueryLine))

/** `gossip query`: sends a query through the agent and prints the acks and responses as they arrive. */
export const sendQuery = Effect.fn("gossip.query")(function*(options: {
  readonly ctl: string
  readonly name: string
  readonly payload: Option.Option<string>
  readonly timeout: Option.Option<number>
  readonly node: ReadonlyArray<string>
  readonly tag: ReadonlyArray<readonly [string, string]>
  readonly noAck: boolean
  readonly relayFactor: number
  readonly format: "text" | "json"
}) {
  // serf allows only its reachability check among its own queries
  if (options.name.startsWith("_serf_") && (options.name !== "_serf_ping" || Option.isSome(options.payload))) {
    return yield* usageError("query", "queries cannot start with _serf_ (except _serf_ping without payload)")
  }
  const body = {
    name: options.name,
    ...(Option.isSome(options.payload) ? { payload: options.payload.value } : {}),
    ...(Option.isSome(options.timeout) ? { timeoutMillis: options.timeout.value } : {}),
    ...(options.node.length > 0 ? { nodes: options.node } : {}),
    ...(options.tag.length > 0 ? { tags: Object.fromEntries(options.tag) } : {}),
    requestAck: !options.noAck,
    relayFactor: options.relayFactor
  }
  const acks: Array<string> = []
  const responses: Record<string, string> = {}
  const text = options.format === "text"
  yield* lines(options.ctl, "POST", "/v1/query", body).pipe(
    Stream.runForEach((raw) => {
      const line = decodeQueryLine(raw)
      if (line._tag === "None") return Effect.void
      const l = line.value
      switch (l.type) {
        case "dispatched":
          return text ? Console.log(`Query '${l.name}' dispatched`) : Effect.void
        case "ack":
          acks.push(l.from)
          return text ? Console.log(`Ack from '${l.from}'`) : Effect.void
        case "response":
          Object.defineProperty(responses, l.from, { value: l.payload, enumerable: true, configurable: true, writable: true })
          // as serf: one trailing newline (a handler script's) is not part of what is shown
          return text ? Console.log(`Response from '${l.from}': ${l.payload.replace(/\n$/, "")}`) : Effect.void
        case "done":
          if (!text) return Effect.void
          return Console.log(
            `${options.noAck ? "" : `Total Acks: ${l.acks}\n`}Total Responses: ${l.responses}`
          )
      }
    }),
    withClient,
    Effect.mapError(userError("Error sending query"))
  )
  if (!text) yield* Console.log(JSON.stringify({ Acks: acks, Responses: responses }, null, 2))
})

// -------------------------------------------------------------------------------------------------
// keys

const KeyResult = Schema.Struct({
  operation: Schema.Literals(["install", "use", "remove", "list"]),
  numNodes: Schema.Number,
  numResp: Schema.Number,
  numErr: Schema.Number,
  messages: Schema.Record(Schema.String, Schema.String),
  keys: Schema.Record(Schema.String, Schema.Number),
  primaryKeys: Schema.Record(Schema.String, Schema.Number),
  error: Schema.optional(Schema.String)
})

/** Rows as columns separated by two spaces (serf's `columnize`). */
export const columnize = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  "))
    .join("\n")
}

const keyWords: Readonly<Record<KeyOperation, readonly [string, string, string]>> = {
  install: ["Installing key on all members...", "Successfully installed key!", "Error installing key"],
  use: ["Changing primary key on all members...", "Successfully changed primary key!", "Error changing primary key"],
  remove: ["Removing key on all members...", "Successfully removed key!", "Error removing key"],
  list: ["Asking all members for installed keys...", "Keys gathered, listing cluster keys...", "Failed to gather member keys"]
}

/** What `gossip keys` prints for a result, as `serf keys` does; and whether it is a failure. */
export const formatKeyResult = (result: Omit<KeyOperationResult, "error"> & { readonly error?: string | undefined }) => {
  const [start, done, failed] = keyWords[result.operation]
  const out: Array<string> = [`==> ${start}`]
  if (result.error !== undefined) {
    const failures = Object.entries(result.messages).sort(([a], [b]) => a.localeCompare(b))
    if (failures.length > 0) out.push(columnize(failures.map(([node, message]) => ["failed:", node, message])))
    out.push("", `${failed}: ${result.error}`)
    return { text: out.join("\n"), failed: true }
  }
  out.push(`==> ${done}`)
  if (result.operation === "list") {
    out.push("")
    const rows = Object.entries(result.keys).sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => [key, `[${n}/${result.numNodes}]`])
    if (rows.length > 0) out.push(columnize(rows))
    const primaries = Object.entries(result.primaryKeys).sort(([a], [b]) => a.localeCompare(b))
    if (primaries.length > 0) {
      out.push("", "Primary keys:", columnize(primaries.map(([key, n]) => [key, `[${n}/${result.numNodes}]`])))
    }
  }
  return { text: out.join("\n"), failed: false }
}

/** `gossip keys`: one key operation on every member, through the agent. */
export const manageKeys = Effect.fn("gossip.keys")(function*(options: {
  readonly ctl: string
  readonly install: Option.Option<string>
  readonly use: Option.Option<string>
  readonly remove: Option.Option<string>
  readonly list: boolean
  readonly format: "text" | "json"
}) {
  const chosen: Array<readonly [KeyOperation, string | undefined]> = []
  if (Option.isSome(options.install)) chosen.push(["install", options.install.value])
  if (Option.isSome(options.use)) chosen.push(["use", options.use.value])
  if (Option.isSome(options.remove)) chosen.push(["remove", options.remove.value])
  if (options.list) chosen.push(["list", undefined])
  if (chosen.length !== 1) {
    return yield* usageError("keys", "give exactly one of --install KEY, --use KEY, --remove KEY or --list")
  }
  const [operation, key] = chosen[0]!
  const result = yield* request(options.ctl, "POST", "/v1/keys", { operation, ...(key === undefined ? {} : { key }) }).pipe(
    Effect.flatMap((r) => r.json),
    Effect.flatMap(Schema.decodeUnknownEffect(KeyResult)),
    // the agent waits for the query's timeout at most (a few seconds); this only guards a hung agent
    Effect.timeout(Duration.minutes(2)),
    withClient,
    Effect.mapError(userError("Error running the key operation"))
  )
  if (options.format === "json") {
    yield* Console.log(JSON.stringify(result, null, 2))
    if (result.error !== undefined) {
      return yield* new CliError.UserError({ cause: result.error, userMessage: result.error })
    }
    return
  }
  const { failed, text } = formatKeyResult(result)
  if (!failed) return yield* Console.log(text)
  const [, , summary] = keyWords[operation]
  const lines = text.split("\n")
  // the summary line goes out as the error (stderr, exit code 1), the rest first
  yield* Console.log(lines.slice(0, -1).join("\n"))
  return yield* new CliError.UserError({ cause: result.error, userMessage: `${summary}: ${result.error}` })
})

// -------------------------------------------------------------------------------------------------
// monitor

/** `gossip monitor`: prints the agent's log records live until interrupted or the agent goes away. */
export const monitor = Effect.fn("gossip.monitor")(function*(options: {
  readonly ctl: string
  readonly format: "text" | "json"
}) {
  const chosen = yield* GlobalFlag.LogLevel
  const level = Option.match(chosen, {
    onNone: () => "info",
    onSome: (l) => (l === "None" ? "fatal" : l.toLowerCase())
  })
  yield* lines(options.ctl, "GET", `/v1/monitor?level=${encodeURIComponent(level)}`).pipe(
    Stream.runForEach((line) => {
      const record = parseRecord(line)
      return record === undefined ? Effect.void : Console.log(renderRecord(record, options.format))
    }),
    withClient,
    Effect.mapError(userError("Error monitoring the agent"))
  )
  return yield* new CliError.UserError({
    cause: "ended",
    userMessage: "The agent ended the monitor: it has left or stopped"
  })
})
