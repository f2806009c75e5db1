/**
 * The control endpoint's routes for what an operator does to a running agent
 * (served next to those of `Control.ts`), the counterparts of serf's RPC
 * `join`, `force-leave` and `stats`:
 *
 * - `POST /v1/join` `{addresses}`: joins more seeds; answers `{contacted}`, or
 *   502 `{error}` when none answered;
 * - `POST /v1/force-leave` `{node, prune?}`: serf's force-leave; 404 `{error}` for
 *   an unknown member, 409 `{error}` for one that has not failed;
 * - `GET /v1/info`: `gossip info`'s sections.
 *
 * A malformed body gets 400 `{error}`.
 */
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { ForceLeaveError } from "./SerfMembers.ts"
import type { AgentInfo } from "./Info.ts"

/** The body of `POST /v1/join`. */
export const JoinRequest = Schema.Struct({ addresses: Schema.Array(Schema.String) })
/** The answer to `POST /v1/join`. */
export const JoinAnswer = Schema.Struct({ contacted: Schema.Number })
/** The body of `POST /v1/force-leave`. */
export const ForceLeaveRequest = Schema.Struct({ node: Schema.String, prune: Schema.optional(Schema.Boolean) })
/** The answer to `POST /v1/force-leave`. */
export const ForceLeaveAnswer = Schema.Struct({ node: Schema.String, prune: Schema.Boolean })

/** What these routes ask of the running agent. */
export interface AgentOps {
  /** Joins `addresses`; how many answered, or why none did. */
  join(addresses: ReadonlyArray<string>): Effect.Effect<number, { readonly message: string }>
  forceLeave(node: string, prune: boolean): Effect.Effect<void, ForceLeaveError>
  readonly info: Effect.Effect<AgentInfo>
}

const failure = (status: number, message: string) => HttpServerResponse.jsonUnsafe({ error: message }, { status })

const body = <A, I>(schema: Schema.Codec<A, I>) =>
  HttpServerRequest.schemaBodyJson(schema).pipe(
    Effect.mapError((e) => failure(400, `invalid request: ${e.message}`))
  )

const join = (ops: AgentOps) =>
  Effect.gen(function*() {
    const { addresses } = yield* body(JoinRequest)
    if (addresses.length === 0) return failure(400, "no address to join")
    return yield* ops.join(addresses).pipe(
      Effect.map((contacted) => HttpServerResponse.jsonUnsafe({ contacted })),
      Effect.catch((e) => Effect.succeed(failure(502, e.message)))
    )
  }).pipe(Effect.catch((answer) => Effect.succeed(answer)))

const forceLeave = (ops: AgentOps) =>
  Effect.gen(function*() {
    const { node, prune = false } = yield* body(ForceLeaveRequest)
    return yield* ops.forceLeave(node, prune).pipe(
      Effect.as(HttpServerResponse.jsonUnsafe({ node, prune })),
      Effect.catch((e) =>
        Effect.succeed(failure(e.reason === "UnknownMember" ? 404 : e.reason === "NotFailed" ? 409 : 502, e.message))
      )
    )
  }).pipe(Effect.catch((answer) => Effect.succeed(answer)))

/** The routes on `ops`, for `Control.layer`'s extra routes. */
export const opsRoutes = (ops: AgentOps): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  Layer.mergeAll(
    HttpRouter.add("POST", "/v1/join", join(ops)),
    HttpRouter.add("POST", "/v1/force-leave", forceLeave(ops)),
    HttpRouter.add("GET", "/v1/info", Effect.map(ops.info, (info) => HttpServerResponse.jsonUnsafe(info)))
  )
