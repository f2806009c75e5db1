/**
 * `gossip join`, `gossip leave` and `gossip force-leave`: what serf's commands
 * of the same names do, through a running agent's control endpoint. Each
 * prints serf's line on success, and one clear line and exit code 1 when the
 * agent cannot be reached or refuses.
 */
import { Effect, Schema } from "effect"
import { call, printAnswer } from "./ControlClient.ts"
import { ForceLeaveAnswer, JoinAnswer } from "./OpsControl.ts"

/** A join waits on every seed in turn, each up to the TCP timeout. */
const JOIN_TIMEOUT = "2 minutes"
/** A leave waits until the leave is gossiped (bounded by the agent's leave timeout). */
const LEAVE_TIMEOUT = "1 minute"

/** `gossip join ADDR…`: the agent joins more seeds; prints how many nodes it contacted. */
export const joinCluster = Effect.fn("gossip.join")(
  (options: { readonly ctl: string; readonly addresses: ReadonlyArray<string> }) =>
    printAnswer(
      call(options.ctl, "POST", "/v1/join", JoinAnswer, { body: { addresses: options.addresses }, timeout: JOIN_TIMEOUT }),
      `error joining the cluster through the agent at ${options.ctl}`,
      ({ contacted }) => `Successfully joined cluster by contacting ${contacted} nodes.`
    )
)

/** `gossip leave`: the agent leaves gracefully, then exits. */
export const leaveCluster = Effect.fn("gossip.leave")((options: { readonly ctl: string }) =>
  printAnswer(
    call(options.ctl, "POST", "/v1/leave", Schema.Struct({ left: Schema.Boolean }), { timeout: LEAVE_TIMEOUT }),
    `error leaving through the agent at ${options.ctl}`,
    () => "Graceful leave complete"
  )
)

/** `gossip force-leave NAME`: a failed member is marked left cluster-wide (and erased with `prune`). */
export const forceLeave = Effect.fn("gossip.force-leave")(
  (options: { readonly ctl: string; readonly node: string; readonly prune: boolean }) =>
    printAnswer(
      call(options.ctl, "POST", "/v1/force-leave", ForceLeaveAnswer, { body: { node: options.node, prune: options.prune } }),
      `error force leaving "${options.node}"`,
      // silent on success, as serf's
      () => ""
    )
)
