/**
 * `gossip agent`: one cluster member running in the foreground, in the
 * manner of `serf agent`. It starts the node and the control endpoint, joins
 * the given seeds (exiting with code 1 if none answers), logs every
 * membership change, and runs until SIGINT/SIGTERM or `POST /v1/leave`; then
 * it leaves gracefully (serf leave intent, then the memberlist leave) and
 * exits with code 0.
 */
import { Cause, Context, Deferred, Effect, Exit, Layer, Option } from "effect"
import type { Scope } from "effect"
import type { HttpRouter } from "effect/http"
import { GossipConfigError } from "../Config.ts"
import { ClusterKeyring, Gossip, type GossipError } from "../Gossip.ts"
import { WebSocketTransport } from "../transport/ws/WebSocketTransport.ts"
import { Membership } from "../Membership.ts"
import { SerfAgent } from "../serf/SerfAgent.ts"
import { encodeTags } from "../serf/Tags.ts"
import type { AgentControl } from "./Control.ts"
import { logEvents } from "./EventLog.ts"
import { agentLogging, MonitorHub } from "./Monitor.ts"
import { toStatsInfo } from "./StatsInfo.ts"
import type { AgentOptions } from "./Options.ts"
import { announceLeave, MemberClock, serfDelegateVersions } from "./SerfCompat.ts"
import { serfAgentLayer, startKeys } from "./SerfSetup.ts"
import type { AgentError } from "./Shutdown.ts"
import { exitOnRepeatedSignal, fatal } from "./Shutdown.ts"
import * as Operations from "./Operations.ts"

/**
 * The node, configured from the flags, plus what a serf agent does besides
 * memberlist: following serf's member clock, and passing serf's intents,
 * events and queries on (serf counts on every member to re-gossip them).
 */
export const nodeLayer = (options: AgentOptions) =>
  Layer.unwrap(Effect.map(startKeys(options), (encrypt) =>
    Layer.mergeAll(MemberClock.layer, serfAgentLayer(options)).pipe(
      Layer.provideMerge(gossipLayer({ ...options, encrypt }))
    )))

/** The flags that only mean something with `--transport ws`. */
const webSocketFlags = ["path", "advertiseUrl", "tlsCert", "tlsKey", "tlsCa", "tlsServerName"] as const

const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/** The node on the transport the flags ask for. */
const gossipLayer = (options: AgentOptions): Layer.Layer<Membership | ClusterKeyring, GossipError> => {
  const common = {
    name: options.name,
    bind: options.bind,
    profile: options.profile,
    meta: encodeTags(options.tags),
    ...serfDelegateVersions,
    ...(Option.isSome(options.advertise) ? { advertise: options.advertise.value } : {}),
    ...(options.encrypt.length > 0 ? { encryptionKeys: options.encrypt } : {})
  }
  if (options.transport === "udp") {
    const misplaced = webSocketFlags.filter((key) => Option.isSome(options[key]))
    if (misplaced.length > 0) {
      const error = GossipConfigError.of(misplaced.map((key) => ({ field: flagName(key), message: "only with --transport ws" })))
      return Layer.unwrap(Effect.fail(error))
    }
    return Gossip.layer(common)
  }
  const value = (o: Option.Option<string>) => Option.getOrUndefined(o)
  const tls = {
    cert: value(options.tlsCert),
    key: value(options.tlsKey),
    ca: value(options.tlsCa),
    serverName: value(options.tlsServerName)
  }
  return Gossip.webSocket({
    ...common,
    ...(Option.isSome(options.path) ? { path: options.path.value } : {}),
    ...(Option.isSome(options.advertiseUrl) ? { advertiseUrl: options.advertiseUrl.value } : {}),
    tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined))
  })
}

/** How long a leaving agent keeps running after its leave was gossiped (serf's default). */
export const LEAVE_PROPAGATE_DELAY = "1 second"

/** serf's graceful leave: the leave intent first, then the memberlist leave (bounded by its timeout). */
const gracefulLeave = Effect.gen(function*() {
  yield* Effect.logInfo("leaving")
  const intent = yield* announceLeave
  yield* Membership.use((m) => m.leave).pipe(
    Effect.catchTag("BroadcastTimeoutError", (e) => Effect.logWarning("leave not fully gossiped", e.message))
  )
  yield* Effect.logInfo("left").pipe(Effect.annotateLogs({ ltime: intent.ltime, notified: intent.sent }))
  // serf's LeavePropagateDelay: "gossiped" means handed to the transport, and a WebSocket peer
  // may still be dialing; the node keeps running a moment so the leave reaches everyone.
  yield* Effect.sleep(LEAVE_PROPAGATE_DELAY)
})

/**
 * Serves the control endpoint on `ctl` in the current scope. Its HTTP server is read only
 * here, once the node answers probes: the node does not wait for code it does not use.
 */
const serveControl = (
  ctl: string,
  control: AgentControl["Service"],
  services: Context.Context<SerfAgent | MonitorHub>,
  routes: Layer.Layer<never, never, HttpRouter.HttpRouter>
): Effect.Effect<void, AgentError, Scope.Scope> =>
  Effect.promise(() => Promise.all([import("./Control.ts"), import("./SerfControl.ts")])).pipe(
    Effect.flatMap(([Control, { serfRoutes }]) =>
      Layer.build(
        Control.layer(ctl, Layer.mergeAll(serfRoutes, routes)).pipe(
          Layer.provide(Layer.succeed(Control.AgentControl, control)),
          Layer.provide(Layer.succeedContext(services))
        )
      )
    ),
    Effect.catch((e) =>
      fatal("cannot serve the control endpoint", {
        reason: e.cause instanceof Error ? e.cause.message : String(e.cause),
        ctl
      })
    ),
    Effect.asVoid
  )

/** Runs the agent until it is asked to leave; fails (already logged) when it cannot start or join. */
export const runAgent = Effect.fn("gossip.agent")(
  function*(options: AgentOptions) {
    const leaveRequested = yield* Deferred.make<void>()
    const left = yield* Deferred.make<void>()
    let stopping = false
    yield* exitOnRepeatedSignal(() => stopping)

    const restored = yield* Operations.restore(options)
    const services = yield* Layer.build(nodeLayer(yield* Operations.startOptions(options, restored))).pipe(
      Effect.catch((e) =>
        fatal("cannot start the node", {
          error: e._tag,
          reason: e.message,
          ...(e._tag === "TransportError" ? { address: e.address } : {}),
          bind: options.bind
        })
      )
    )
    const membership = Context.get(services, Membership)
    const operations = yield* Operations.start(options, services, restored)
    yield* Effect.forkScoped(logEvents(membership))
    // let the event logger subscribe before the join produces the first events
    yield* Effect.yieldNow

    if (Option.isSome(options.ctl)) {
      const hub = yield* MonitorHub
      yield* serveControl(options.ctl.value, {
        members: operations.members,
        stats: Effect.all([membership.currentMembers, membership.healthScore, membership.stats]).pipe(
          Effect.map(([ms, health, counters]) => toStatsInfo(options.name, ms, health, counters))
        ),
        leave: Deferred.succeed(leaveRequested, undefined).pipe(Effect.andThen(Deferred.await(left)))
      }, Context.add(Context.make(MonitorHub, hub), SerfAgent, Context.get(services, SerfAgent)), operations.routes)
      // however the agent stops, a pending POST /v1/leave gets its answer before the server closes
      yield* Effect.addFinalizer(() => Deferred.done(left, Exit.void))
    }
    const self = yield* membership.localMember
    const webSocket = Context.getOption(services as unknown as Context.Context<WebSocketTransport>, WebSocketTransport)
    yield* Effect.logInfo("agent started").pipe(Effect.annotateLogs({
      address: self.address,
      transport: options.transport,
      ...(Option.isSome(webSocket) ? { url: webSocket.value.url } : {}),
      bind: options.bind,
      profile: options.profile,
      tags: options.tags,
      encrypted: Context.get(services, ClusterKeyring) !== undefined,
      ...(Option.isSome(options.ctl) ? { ctl: options.ctl.value } : {})
    }))

    if (options.join.length > 0) {
      const contacted = yield* membership.join(options.join).pipe(
        Effect.catchTag("JoinError", (e) => fatal("join failed", { reason: e.message, seeds: options.join }))
      )
      yield* Effect.logInfo("joined").pipe(Effect.annotateLogs({ contacted, seeds: options.join }))
    }
    yield* operations.background

    // The last finalizer runs first when the scope closes, while the node and
    // the endpoint are still up, whether a signal interrupted the agent or a
    // leave was requested. A failure (--retry-join gave up) stops it without a leave, as serf's.
    yield* Effect.addFinalizer((exit) =>
      Effect.sync(() => {
        stopping = true
      }).pipe(
        Effect.andThen(
          Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
            ? Effect.void
            : Effect.andThen(operations.beforeLeave, gracefulLeave)
        ),
        Effect.provide(services),
        Effect.ensuring(Deferred.done(left, Exit.void))
      )
    )
    yield* Effect.raceFirst(Deferred.await(leaveRequested), operations.stopped)
  },
  Effect.scoped,
  Effect.onExit((exit) =>
    Exit.isSuccess(exit) || Exit.hasInterrupts(exit) ? Effect.logInfo("agent stopped") : Effect.void
  ),
  (effect, options) =>
    effect.pipe(
      Effect.annotateLogs({ agent: options.name }),
      Effect.provide(agentLogging(options.logFormat))
    )
)
