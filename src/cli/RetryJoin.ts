/**
 * Joins that do not stop the agent when no seed answers, as serf's:
 *
 * - `rejoin`: the members a snapshot remembers, one at a time in random
 *   order, until one answers (serf's `handleRejoin`); a warning when none does;
 * - `retryJoin`: `--retry-join` seeds, tried every `--retry-interval` until a
 *   join succeeds; when the first attempt and `--retry-max` retries have all
 *   failed (0: retry forever) the agent stops with an error (serf's `retryJoin`).
 */
import { Effect } from "effect"
import type { MembershipShape } from "../Membership.ts"
import type { SnapshotMember } from "./Snapshot.ts"
import type { AgentError } from "./Shutdown.ts"
import { fatal } from "./Shutdown.ts"

/** Tries the remembered members one at a time; true once one answered. */
export const rejoin = (membership: MembershipShape, previous: ReadonlyArray<SnapshotMember>): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    for (const member of previous) {
      yield* Effect.logInfo("rejoining a previously known member").pipe(
        Effect.annotateLogs({ node: member.name, address: member.address })
      )
      const result = yield* Effect.result(membership.join([member.address]))
      if (result._tag === "Success") {
        yield* Effect.logInfo("rejoined").pipe(Effect.annotateLogs({ node: member.name, address: member.address }))
        return true
      }
      yield* Effect.logDebug("rejoin attempt failed", member.name, result.failure.message)
    }
    yield* Effect.logWarning("could not rejoin any previously known member").pipe(
      Effect.annotateLogs({ tried: previous.length })
    )
    return false
  })

/** How `retryJoin` goes on. */
export interface RetryJoinOptions {
  readonly seeds: ReadonlyArray<string>
  /** Between two attempts. */
  readonly intervalMillis: number
  /** Retries after the first attempt before giving up; 0 = no limit. */
  readonly maxAttempts: number
}

/**
 * Joins `seeds`, retrying every interval until one attempt succeeds (the
 * number of members contacted) or `maxAttempts` retries have failed too.
 */
export const retryJoin = (membership: MembershipShape, options: RetryJoinOptions): Effect.Effect<number, AgentError> =>
  Effect.gen(function*() {
    for (let attempt = 1;; attempt++) {
      const result = yield* Effect.result(membership.join(options.seeds))
      if (result._tag === "Success") {
        yield* Effect.logInfo("joined").pipe(
          Effect.annotateLogs({ contacted: result.success, seeds: options.seeds, attempt })
        )
        return result.success
      }
      if (options.maxAttempts > 0 && attempt > options.maxAttempts) {
        return yield* fatal("retry-join gave up", {
          attempts: attempt,
          seeds: options.seeds,
          reason: result.failure.message
        })
      }
      yield* Effect.logWarning("join failed, retrying").pipe(
        Effect.annotateLogs({ attempt, seeds: options.seeds, reason: result.failure.message, inMillis: options.intervalMillis })
      )
      yield* Effect.sleep(options.intervalMillis)
    }
  })
