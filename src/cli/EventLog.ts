/**
 * The agent's membership log: one log record per membership change, carrying
 * the fields a reader filters on (`event`, `node`, `state`, and `from` for a
 * suspicion or a failure), so that `--log-format json` gives one JSON object
 * per change.
 */
import { Effect, Stream } from "effect"
import type { MemberEvent } from "../MemberEvent.ts"
import type { MembershipShape } from "../Membership.ts"
import { decodeTags } from "../serf/Tags.ts"

/** The `event` field of a membership log line. */
export type EventName = "joined" | "updated" | "suspected" | "alive" | "left" | "failed" | "reaped"

const names: Record<MemberEvent["_tag"], EventName> = {
  MemberJoined: "joined",
  MemberUpdated: "updated",
  MemberSuspected: "suspected",
  MemberAlive: "alive",
  MemberLeft: "left",
  MemberFailed: "failed",
  MemberReaped: "reaped"
}

/** The log message, level and fields for one membership event. */
export const describeEvent = (event: MemberEvent): {
  readonly message: string
  readonly warning: boolean
  readonly fields: Readonly<Record<string, unknown>>
} => {
  const m = event.member
  const name = names[event._tag]
  const base = { event: name, node: m.name, state: m.state, address: m.address, incarnation: m.incarnation }
  switch (event._tag) {
    case "MemberJoined":
    case "MemberUpdated":
      return { message: `member ${name}`, warning: false, fields: { ...base, tags: decodeTags(m.meta) } }
    case "MemberSuspected":
    case "MemberFailed":
      // suspicions and failures are what an operator looks for: warn level, with who raised them
      return { message: `member ${name}`, warning: true, fields: { ...base, from: event.from } }
    default:
      return { message: `member ${name}`, warning: false, fields: base }
  }
}

/** Logs one membership event. */
export const logEvent = (event: MemberEvent): Effect.Effect<void> => {
  const { fields, message, warning } = describeEvent(event)
  return (warning ? Effect.logWarning(message) : Effect.logInfo(message)).pipe(Effect.annotateLogs(fields))
}

/** Logs every membership event of `membership` as it happens; runs until interrupted. */
export const logEvents = (membership: MembershipShape): Effect.Effect<void> =>
  membership.events.pipe(Stream.runForEach(logEvent))
