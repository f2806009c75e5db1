/**
 * The client side of the agent's control endpoint, for the commands that talk
 * to a running agent (`gossip members`, `join`, `leave`, `force-leave`,
 * `info`, `stats`): one request, its answer decoded with a Schema, and every
 * failure turned into one clear line for the operator (exit code 1).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Console, Duration, Effect, Schema } from "effect"
import { CliError } from "effect/cli"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "effect/http"

/** The agent answered with an error status; `message` is its own explanation. */
export class AgentRefusal extends Schema.TaggedError<AgentRefusal>()("AgentRefusal", {
  status: Schema.Number,
  message: Schema.String
}) {}

/** The body of every error answer of the control endpoint. */
export const ErrorBody = Schema.Struct({ error: Schema.String })

/** Most answers come from memory: a slow one means trouble. */
export const DEFAULT_TIMEOUT = Duration.seconds(5)

const decodeError = Schema.decodeUnknownOption(Schema.fromJsonString(ErrorBody))

/**
 * `method path` on the agent at `ctl` (`ip:port`) with an optional JSON body,
 * the answer decoded with `schema`. Through `node:http` rather than `fetch`,
 * which refuses some ports (6000, 6665, …) a control endpoint may well use.
 */
export const call = <A, I>(
  ctl: string,
  method: "GET" | "POST",
  path: string,
  schema: Schema.Codec<A, I>,
  options: { readonly body?: unknown; readonly timeout?: Duration.Input } = {}
): Effect.Effect<A, Error> => {
  const url = `http://${ctl}${path}`
  const request = method === "GET"
    ? HttpClientRequest.get(url)
    : HttpClientRequest.post(url).pipe(HttpClientRequest.bodyJsonUnsafe(options.body ?? {}))
  return HttpClient.execute(request).pipe(
    Effect.flatMap((response): Effect.Effect<A, Error> => {
      if (response.status < 400) return HttpClientResponse.schemaBodyJson(schema)(response)
      return Effect.flatMap(response.text, (text) => {
        const body = decodeError(text)
        const message = body._tag === "Some" ? body.value.error : `HTTP ${response.status}: ${text.slice(0, 200)}`
        return Effect.fail(new AgentRefusal({ status: response.status, message }))
      })
    }),
    Effect.timeout(options.timeout ?? DEFAULT_TIMEOUT),
    Effect.provide(NodeHttpClient.layerNodeHttp)
  )
}

/** The innermost cause says what actually happened (ECONNREFUSED, …); the wrappers only say where. */
export const explain = (error: Error): string => {
  if (error instanceof AgentRefusal) return error.message
  let innermost = error
  for (let depth = 0; depth < 5 && innermost.cause instanceof Error; depth++) innermost = innermost.cause
  return innermost === error ? error.message : `${error.message}: ${innermost.message}`
}

/** Fails with a `UserError` saying `what` went wrong and why: printed as one line, exit code 1. */
export const failWith = (what: string) => (cause: Error): CliError.UserError =>
  new CliError.UserError({ cause, userMessage: `${what}: ${explain(cause)}` })

/** Runs `effect` against the agent and prints what `render` makes of its answer. */
export const printAnswer = <A>(
  effect: Effect.Effect<A, Error>,
  what: string,
  render: (a: A) => string
): Effect.Effect<void, CliError.UserError> =>
  effect.pipe(
    Effect.mapError(failWith(what)),
    Effect.flatMap((a) => {
      const text = render(a)
      return text === "" ? Effect.void : Console.log(text)
    })
  )
