/**
 * What `gossip agent` does for the people who run it, beyond running a node,
 * as serf's agent does: the serf member list (statuses, force-leave), the
 * snapshot (restored before the node starts, kept up to date while it runs),
 * the rejoin of the members a snapshot remembers, `--retry-join`, and the
 * control routes for `join`, `force-leave` and `info`.
 */
import { Context, Deferred, Effect, Layer, Option } from "effect"
import type { HttpRouter } from "effect/http"
import type { FileSystem, Scope } from "effect"
import { ClusterKeyring } from "../Gossip.ts"
import { Membership } from "../Membership.ts"
import type { SerfAgent } from "../serf/SerfAgent.ts"
import { collectInfo } from "./Info.ts"
import { type MemberInfo, toMemberInfo } from "./MemberInfo.ts"
import { type AgentOps, opsRoutes } from "./OpsControl.ts"
import type { AgentOptions } from "./Options.ts"
import { agentClocks, followRemoteClocks, restoreClocks } from "./PersistedClocks.ts"
import { rejoin, retryJoin } from "./RetryJoin.ts"
import type { MemberClock } from "./SerfCompat.ts"
import { SerfMembers } from "./SerfMembers.ts"
import type { AgentError } from "./Shutdown.ts"
import * as Snapshotter from "./Snapshotter.ts"

/** What the snapshot gave the starting agent; none without `--snapshot`. */
export type Restored = Snapshotter.Restored | undefined

/** Reads the snapshot, when the agent keeps one (before the node starts: it holds the keyring). */
export const restore = (options: AgentOptions): Effect.Effect<Restored, never, FileSystem.FileSystem> =>
  Option.match(options.snapshot, {
    onNone: () => Effect.succeed(undefined),
    onSome: (path) => Snapshotter.restore(path, options.name, options.rejoin)
  })

/**
 * The options the node starts with: the keys of `--keyring-file` or
 * `--encrypt` when given (they win, as the operator's explicit choice), else
 * the snapshot's keyring.
 */
export const startOptions = (options: AgentOptions, restored: Restored): Effect.Effect<AgentOptions> => {
  const keyring = restored?.keyring ?? []
  if (keyring.length === 0 || Option.isSome(options.keyringFile)) return Effect.succeed(options)
  if (options.encrypt.length > 0) {
    const same = keyring.length === options.encrypt.length && keyring.every((k, i) => k === options.encrypt[i])
    return same
      ? Effect.succeed(options)
      : Effect.as(Effect.logWarning("snapshot keyring not used: --encrypt given"), options)
  }
  return Effect.succeed({ ...options, encrypt: keyring })
}

/** The running operations. */
export interface Operations {
  /** The member list for `GET /v1/members`: serf's view. */
  readonly members: Effect.Effect<ReadonlyArray<MemberInfo>>
  /** The control routes of `join`, `force-leave` and `info`. */
  readonly routes: Layer.Layer<never, never, HttpRouter.HttpRouter>
  /** Starts the rejoin and `--retry-join`, in the background; run after the startup join. */
  readonly background: Effect.Effect<void, never, Scope.Scope>
  /** Fails when `--retry-join` gives up (the agent then stops with an error). */
  readonly stopped: Effect.Effect<never, AgentError>
  /** Run first in a graceful leave: the snapshot records it. */
  readonly beforeLeave: Effect.Effect<void>
}

/** Starts the operations on the node in `services`, with what the snapshot restored. */
export const start = Effect.fnUntraced(function*(
  options: AgentOptions,
  services: Context.Context<Membership | ClusterKeyring | MemberClock | SerfAgent>,
  restored: Restored
): Effect.fn.Return<Operations, AgentError, Scope.Scope | FileSystem.FileSystem> {
  const membership = Context.get(services, Membership)
  const keyring = Context.get(services, ClusterKeyring)
  const serf = Context.get(
    yield* Layer.build(SerfMembers.layer.pipe(Layer.provide(Layer.succeedContext(services)))),
    SerfMembers
  )
  const clocks = yield* agentClocks.pipe(Effect.provideContext(services))
  if (restored !== undefined) yield* restoreClocks(clocks, restored.clocks)
  yield* followRemoteClocks(membership, clocks)
  const snapshotter = Option.isSome(options.snapshot)
    ? yield* Snapshotter.start({
      path: options.snapshot.value,
      self: options.name,
      rejoin: options.rejoin,
      restored: restored ?? { previous: [], clocks: {}, keyring: [] },
      clocks,
      members: serf,
      keyring
    })
    : undefined
  const stopped = yield* Deferred.make<never, AgentError>()

  const ops: AgentOps = {
    join: (addresses) =>
      membership.join(addresses).pipe(
        Effect.tap((contacted) => Effect.logInfo("joined").pipe(Effect.annotateLogs({ contacted, seeds: addresses }))),
        Effect.mapError((e) => ({ message: e.message }))
      ),
    forceLeave: serf.forceLeave,
    info: collectInfo({
      agent: {
        transport: options.transport,
        profile: options.profile,
        snapshot: Option.getOrUndefined(options.snapshot)
      },
      membership,
      keyring,
      serf,
      clocks
    })
  }

  const previous = restored?.previous ?? []
  return {
    members: Effect.map(serf.members, (members) => members.map(toMemberInfo)),
    routes: opsRoutes(ops),
    background: Effect.gen(function*() {
      if (previous.length > 0) yield* Effect.forkScoped(rejoin(membership, previous))
      if (options.retryJoin.length > 0) {
        const seeds = { seeds: options.retryJoin, intervalMillis: options.retryInterval, maxAttempts: options.retryMax }
        yield* retryJoin(membership, seeds).pipe(
          Effect.catch((e) => Deferred.fail(stopped, e)),
          Effect.forkScoped
        )
      }
    }),
    stopped: Deferred.await(stopped),
    beforeLeave: snapshotter?.leave ?? Effect.void
  }
})
