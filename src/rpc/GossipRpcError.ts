/**
 * The one error a `GossipRpc` client fails with when a call cannot reach the
 * member, next to the rpc's own typed failures.
 */
import { Schema } from "effect"
import type { RpcClientError as RpcClientErrors } from "effect/rpc"
import type { ChannelError } from "../channel/Channel.ts"

type RpcClientError = RpcClientErrors.RpcClientError

/**
 * Why a call or a client failed:
 * - `UnknownMember`: no member has that name.
 * - `MemberGone`: the member is dead or has left (at once, or mid-call when the member table says so).
 * - `Refused`: the member does not serve the rpc channel, or is at its connection limit.
 * - `Unreachable`: the connection could not be opened.
 * - `Timeout`: the connection went silent for longer than the ping timeout (the member likely died mid-call).
 * - `Closed`: the member closed the connection.
 * - `Protocol`: bytes that do not decode as rpc messages.
 */
export const GossipRpcErrorReason = Schema.Literals([
  "UnknownMember",
  "MemberGone",
  "Refused",
  "Unreachable",
  "Timeout",
  "Closed",
  "Protocol"
])
export type GossipRpcErrorReason = typeof GossipRpcErrorReason.Type

/** A call to `member` could not be made or completed. */
export class GossipRpcError extends Schema.TaggedError<GossipRpcError>()("GossipRpcError", {
  reason: GossipRpcErrorReason,
  member: Schema.String,
  message: Schema.String
}) {}

/** True for the reasons that mean the member itself is not there (rather than the connection). */
export const isMemberAbsent = (e: GossipRpcError): boolean => e.reason === "UnknownMember" || e.reason === "MemberGone"

/** A channel that could not be opened or broke, as an rpc error. */
export const fromChannelError = (member: string, e: ChannelError): GossipRpcError => {
  switch (e.reason) {
    case "UnknownMember":
      return new GossipRpcError({ reason: "UnknownMember", member, message: e.message })
    case "Refused":
    case "BadName":
    case "InUse":
      return new GossipRpcError({ reason: "Refused", member, message: e.message })
    case "Closed":
      return new GossipRpcError({ reason: "Closed", member, message: e.message })
    case "Decode":
      return new GossipRpcError({ reason: "Protocol", member, message: e.message })
    case "Transport":
      return new GossipRpcError({ reason: "Unreachable", member, message: e.message })
  }
}

/**
 * effect/rpc's client error as ours. Our socket adapter puts a `GossipRpcError` in the
 * cause of every error it raises; anything else comes from effect/rpc itself (a ping
 * timeout, a message that does not decode).
 */
export const fromClientError = (member: string, e: RpcClientError | GossipRpcError): GossipRpcError => {
  if (e instanceof GossipRpcError) return e
  const reason = e.reason
  const cause = "cause" in reason ? reason.cause : undefined
  if (cause instanceof GossipRpcError) return cause
  if (reason._tag === "SocketReadError" && cause instanceof Error && cause.message === "ping timeout") {
    return new GossipRpcError({ reason: "Timeout", member, message: "no answer from the member within the ping timeout" })
  }
  if (reason._tag === "SocketCloseError") {
    return new GossipRpcError({ reason: "Closed", member, message: `connection closed (${reason.message})` })
  }
  return new GossipRpcError({ reason: "Protocol", member, message: e.message })
}
