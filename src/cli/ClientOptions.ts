/**
 * The flags and arguments of the commands that act on a running agent:
 * `gossip members` (with serf's filters), `join`, `leave`, `force-leave` and
 * `info`. Every value is checked while the command line is parsed: a bad one
 * is a usage error (the usage, and exit code 2) before the agent is asked.
 */
import { Argument, Flag } from "effect/cli"
import { StatusPattern, TagPattern, Pattern } from "./MemberFilter.ts"
import { JoinAddress, membersFlags, NodeName } from "./Options.ts"

const { ctl, format } = membersFlags

/** The flags of `gossip members`. */
export const membersQueryFlags = {
  ctl,
  format,
  status: Flag.String("status").pipe(
    Flag.withSchema(StatusPattern),
    Flag.optional,
    Flag.withDescription("Only members whose status (alive, leaving, left, failed) matches this regexp")
  ),
  tags: Flag.String("tag").pipe(
    Flag.withSchema(TagPattern),
    Flag.atLeast(0),
    Flag.withDescription("Only members whose tag matches key=regexp (repeatable: all must match)")
  ),
  name: Flag.String("name").pipe(
    Flag.withSchema(Pattern),
    Flag.optional,
    Flag.withDescription("Only members whose name matches this regexp")
  ),
  detailed: Flag.Boolean("detailed").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Also print protocol versions and incarnations (text format)")
  )
} as const

/** The arguments of `gossip join`. */
export const joinParams = {
  ctl,
  addresses: Argument.String("address").pipe(
    Argument.withSchema(JoinAddress),
    Argument.atLeast(1),
    Argument.withDescription("Address of a member to join (one or more)")
  )
} as const

/** The flags of `gossip leave`. */
export const leaveFlags = { ctl } as const

/** The arguments of `gossip force-leave`. */
export const forceLeaveParams = {
  ctl,
  prune: Flag.Boolean("prune").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Also erase the member from every member list (a left member too)")
  ),
  node: Argument.String("name").pipe(
    Argument.withSchema(NodeName),
    Argument.withDescription("The failed member")
  )
} as const

/** The flags of `gossip info`. */
export const infoFlags = { ctl, format } as const
