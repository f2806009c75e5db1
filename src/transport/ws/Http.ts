/**
 * The HTTP face of the WebSocket transport: what answers a request for the
 * gossip path, whether on the transport's own server or as a route of the
 * application's `HttpRouter`. A WebSocket upgrade within the connection limits
 * becomes a connection of the transport; anything else is refused with an
 * HTTP status, counted, and the node goes on.
 */
import { Effect, Option } from "effect"
import type { HttpServerRequest } from "effect/http"
import { HttpServerResponse } from "effect/http"
import { canonicalIp } from "../Resolve.ts"
import type { Core } from "./Core.ts"
import { socketLink } from "./NodeLink.ts"
import { type RefusalReason, WebSocketRefusal } from "./Stats.ts"

/** The status each refusal is answered with. */
const statusOf: Partial<Record<RefusalReason, number>> = {
  WrongPath: 404,
  NotUpgrade: 426,
  PeerLimit: 429,
  ConnectionLimit: 503,
  BadRequest: 400
}

/** The path of a request target, without its query. */
const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q < 0 ? url : url.slice(0, q)
}

/** The source IP of a request, as the per-peer limit counts it. */
export const sourceOf = (request: HttpServerRequest.HttpServerRequest): string =>
  Option.match(request.remoteAddress, { onNone: () => "unknown", onSome: canonicalIp })

const refuse = (core: Core, reason: RefusalReason, peer: string, message: string) =>
  core.counters.refuse(new WebSocketRefusal({ reason, peer, message })).pipe(
    Effect.as(HttpServerResponse.text(`${message}\n`, {
      status: statusOf[reason] ?? 400,
      ...(reason === "NotUpgrade" ? { headers: { upgrade: "websocket", connection: "Upgrade" } } : {})
    }))
  )

/** Options of the request handler. */
export interface HandlerOptions {
  /** The gossip path; requests for others are `WrongPath`. Undefined: a router already matched it. */
  readonly path: string | undefined
  /** Whether connection limits are checked here (false when the server checks them at accept). */
  readonly admit: boolean
}

/**
 * Answers one request. An accepted upgrade holds the request until its
 * connection closes; the transport's own shutdown closes it.
 */
export const makeHandler = (core: Core, options: HandlerOptions) =>
(request: HttpServerRequest.HttpServerRequest): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function*() {
    const peer = sourceOf(request)
    const path = pathOf(request.url)
    if (options.path !== undefined && path !== options.path) {
      return yield* refuse(core, "WrongPath", peer, `nothing at ${path}; gossip is at ${options.path}`)
    }
    const upgrade = request.headers["upgrade"]
    if (request.method !== "GET" || upgrade === undefined || upgrade.toLowerCase() !== "websocket") {
      return yield* refuse(core, "NotUpgrade", peer, "this path only takes WebSocket upgrades")
    }
    if (core.isClosed()) return HttpServerResponse.text("shutting down\n", { status: 503 })
    const slot = options.admit ? core.admit(peer) : { release: () => {} }
    if (typeof slot === "string") return yield* refuse(core, slot, peer, `over the ${slot === "PeerLimit" ? "per-peer" : "total"} connection limit`)
    yield* Effect.gen(function*() {
      const socket = yield* request.upgrade
      const link = yield* socketLink(socket, peer)
      yield* core.serve(link)
    }).pipe(
      Effect.scoped,
      // a handshake ws itself refused (a bad key or version): counted, answered by ws with 400
      Effect.catch((e) => core.counters.refuse(new WebSocketRefusal({ reason: "BadRequest", peer, message: e.message }))),
      Effect.ensuring(Effect.sync(slot.release))
    )
    return HttpServerResponse.empty()
  })
