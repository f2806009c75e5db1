/**
 * How the process ends. `NodeRuntime.runMain` turns SIGINT/SIGTERM into an
 * interruption of the main fiber, whose finalizers perform the graceful
 * leave; this module gives such a stop exit code 0 (a requested, clean stop,
 * as serf reports it) and a usage error exit code 2, turns a second signal
 * during the leave into an immediate exit, and defines the error for failures
 * already logged.
 */
import { Cause, Effect, Exit, Runtime, Schema } from "effect"
import type { Scope } from "effect"
import { CliError } from "effect/cli"

/**
 * A failure that has already been logged in the agent's own format: the
 * process exits with code 1 without printing it again.
 */
export class AgentError extends Schema.TaggedError<AgentError>()("AgentError", {
  message: Schema.String
}) {
  override readonly [Runtime.errorReported] = false
}

/** Logs `message` (with `fields`) as an error and fails with an `AgentError`. */
export const fatal = (message: string, fields: Readonly<Record<string, unknown>> = {}): Effect.Effect<never, AgentError> =>
  Effect.logError(message).pipe(
    Effect.annotateLogs(fields),
    Effect.andThen(Effect.fail(new AgentError({ message })))
  )

/** The exit code of a usage error (a bad flag or argument), as Unix commands use it. */
export const USAGE_EXIT_CODE = 2

/** A command line that did not parse: effect/cli has printed the errors and the usage. */
const isUsageError = (error: unknown): boolean =>
  CliError.isCliError(error) && error._tag === "ShowHelp" && error.errors.length > 0

/**
 * `runMain` teardown: an interruption (a signal, after the graceful leave has
 * run in the finalizers) exits with 0, a usage error with 2; success and
 * failure keep the defaults (0, and 1 or the error's own code).
 */
export const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return onExit(0)
  if (Exit.isFailure(exit) && isUsageError(Cause.squash(exit.cause))) return onExit(USAGE_EXIT_CODE)
  return Runtime.defaultTeardown(exit, onExit)
}

/** The exit code of a stop forced by a second signal, as serf uses. */
export const FORCED_EXIT_CODE = 1

/**
 * While the scope is open, a SIGINT/SIGTERM that arrives when the agent is
 * already stopping (an earlier signal, or `stopping()` says a leave is under
 * way) ends the process at once: the operator does not want to wait for the
 * leave. The first signal is left to `runMain`, which starts the graceful stop.
 */
export const exitOnRepeatedSignal = (stopping: () => boolean): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    let signalled = false
    const listener = (signal: NodeJS.Signals) => {
      if (signalled || stopping()) {
        Effect.runSyncWith(context)(
          Effect.logWarning("second signal: exiting without finishing the leave").pipe(Effect.annotateLogs({ signal }))
        )
        process.exit(FORCED_EXIT_CODE)
      }
      signalled = true
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        // ahead of runMain's own listener: its interruption starts the leave
        // synchronously, and this one must still see the first signal as the first
        process.prependListener("SIGINT", listener)
        process.prependListener("SIGTERM", listener)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGINT", listener)
          process.off("SIGTERM", listener)
        })
    )
  })
