/**
 * Effect Cluster's `RunnerHealth` answered by gossip: a runner is healthy while
 * the member announcing its address is alive or suspect. Sharding then moves a
 * failed runner's shards once the failure detector declares it dead, in the
 * same time whether its ports refuse connections or hang (where pings would
 * wait out their timeouts).
 */
import { Effect, Layer, Stream } from "effect"
import { RunnerHealth } from "effect/cluster/RunnerHealth"
import type { Scope } from "effect"
import { Membership } from "../Membership.ts"
import type { RunnerOf } from "./RunnerLiveness.ts"
import { RunnerLiveness } from "./RunnerLiveness.ts"

/**
 * The service, kept current from `Membership.members` by a fiber in the scope.
 * `isAlive` is a map lookup: sharding may ask about every runner on each check.
 */
const make = (runnerOf: RunnerOf): Effect.Effect<RunnerHealth["Service"], never, Membership | Scope.Scope> =>
  Effect.gen(function*() {
    const membership = yield* Membership
    const liveness = new RunnerLiveness(runnerOf)
    // The table now, so the first check already has an answer; then every change.
    liveness.update(yield* membership.currentMembers)
    yield* membership.members.pipe(
      Stream.runForEach((members) => Effect.sync(() => liveness.update(members))),
      Effect.forkScoped
    )
    return RunnerHealth.of({ isAlive: (address) => Effect.sync(() => liveness.isAlive(address)) })
  })

/**
 * Effect Cluster's `RunnerHealth` from gossip membership: provide `layer` to
 * `SocketRunner.layer` / `HttpRunner` in place of `RunnerHealth.layerPing`.
 * Sharding asks it every `ShardingConfig.runnerHealthCheckInterval` (default 1
 * minute, which would dwarf gossip's detection); answers are lookups, so an
 * interval of a second or less costs nothing.
 */
export const GossipRunnerHealth = {
  /**
   * `RunnerHealth` from the `Membership` in context. `runnerOf` picks the runner
   * address a member announces (in its metadata, typically; `RunnerMetadata.runnerOf`
   * reads the format `RunnerMetadata.encode` writes). Alive or suspect: healthy.
   * Dead, left, or reaped after either: not healthy. An address no member has
   * carried yet: healthy, so a runner that has just started is not evicted while
   * gossip spreads the news of its node.
   */
  layer: (runnerOf: RunnerOf): Layer.Layer<RunnerHealth, never, Membership> => Layer.effect(RunnerHealth, make(runnerOf)),
  /** The service itself, for composing by hand; it follows the member table until the scope closes. */
  make
} as const
