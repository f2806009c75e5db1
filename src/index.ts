/**
 * effect-gossip: SWIM + Lifeguard cluster membership, failure detection and
 * gossip for Effect, speaking the hashicorp/memberlist wire protocol.
 */
export { addressOf, formatIp, joinHostPort, parseIp, splitHostPort } from "./Address.ts"
export type { CodecShape, DecodedPacket, PacketOptions, StreamOptions, StreamRead } from "./codec/Codec.ts"
export { Codec, DecodeError, DecodeReason } from "./codec/Codec.ts"
export { CompactCodec, makeCompactCodec } from "./codec/CompactCodec.ts"
export type { GossipConfigInput, GossipConfigValues, Profile } from "./Config.ts"
export { generatedName, GossipConfig, GossipConfigError, presets, resolveConfig } from "./Config.ts"
export {
  ApplicationSchema,
  BroadcastTimeoutError,
  IncompatibleMemberError,
  JoinError,
  MessageError,
  MetadataTooLargeError,
  PushPullError
} from "./Errors.ts"
export type { Application, CompatibilityRule } from "./protocol/Application.ts"
export { sameMajorVersion } from "./protocol/Application.ts"
export type { Member, MemberState, Versions } from "./Member.ts"
export type {
  MemberAlive,
  MemberEvent,
  MemberFailed,
  MemberJoined,
  MemberLeft,
  MemberReaped,
  MemberRefused,
  MemberSuspected,
  MemberUpdated
} from "./MemberEvent.ts"
export type { MembershipShape, MembershipStats, NodeStats, RemoteState, UserMessage } from "./Membership.ts"
export { Membership } from "./Membership.ts"
export type { Channel } from "./channel/Channel.ts"
export { ChannelError, ChannelErrorReason, MAX_CHANNEL_FRAME } from "./channel/Channel.ts"
export type { ValueFormat, ValueSchema } from "./codec/ValueCodec.ts"
/** Typed application messages: `Topic.make`, `Topic.publish`, `Topic.send`, `Topic.subscribe`. */
export * as Topic from "./topic/Topic.ts"
export type { TopicsStats, TopicStats } from "./topic/Hub.ts"
/** Typed metadata: `MemberMetadata.make(id, schema)`, its `layer(initial)`, and `MemberMetadata.serfTags`. */
export * as MemberMetadata from "./metadata/MemberMetadata.ts"
export type { MetadataFormat } from "./metadata/MetadataCodec.ts"
export type { SimLink, SimNetworkOptions, SimNetworkShape, SimNodeStats } from "./transport/SimNetwork.ts"
export { SimNetwork } from "./transport/SimNetwork.ts"
export type { InboundPacket, StreamConnection, TransportShape } from "./transport/Transport.ts"
export { Transport, TransportError, TransportReason } from "./transport/Transport.ts"
export type { UdpTcpTransportOptions } from "./transport/UdpTcpTransport.ts"
export { UdpTcpTransport } from "./transport/UdpTcpTransport.ts"
export type { GossipError, GossipOptions, GossipWebSocketOptions } from "./Gossip.ts"
export { ClusterKeyring, Gossip, GossipLive, GossipLiveWebSocket } from "./Gossip.ts"
/** The WebSocket transport: its layers (standalone, mounted, simulated), the route for an application's router, its counters. */
export type { WebSocketTlsOptions, WebSocketTransportOptions, WebSocketTransportShape } from "./transport/ws/WebSocketTransport.ts"
export { WebSocketTransport } from "./transport/ws/WebSocketTransport.ts"
export type { WebSocketLimits, WebSocketLimitsInput } from "./transport/ws/Limits.ts"
/** What the WebSocket transport refused (a request, a connection or a frame), by reason, and its counters. */
export type { WebSocketStats } from "./transport/ws/Stats.ts"
export { RefusalReason, WebSocketRefusal } from "./transport/ws/Stats.ts"
export type { MemberlistCodecOptions } from "./codec/MemberlistCodec.ts"
export { CodecConfigError, makeMemberlistCodec, MemberlistCodec } from "./codec/MemberlistCodec.ts"
export type { EncryptionVersion } from "./security/Keyring.ts"
export { Keyring, KeyringError } from "./security/Keyring.ts"
export type { SerfMessage } from "./serf/Messages.ts"
export { decodeSerfMessage, encodeLeaveIntent, leaveIntentMessage } from "./serf/Messages.ts"
export { decodeTags, encodeTags } from "./serf/Tags.ts"
export { relayKey, SerfRelay } from "./serf/Relay.ts"
/** effect/rpc between members: `serve` / `layerServer` an `RpcGroup` on a node, `client` to call it on a member by name, `stats`. */
export { GossipRpc } from "./rpc/GossipRpc.ts"
/** A client's transport failure (unknown, gone, refused, unreachable, silent, closed, undecodable) and its reasons. */
export { GossipRpcError, GossipRpcErrorReason } from "./rpc/GossipRpcError.ts"
/** The client `GossipRpc.client` returns (`RpcClient` with `GossipRpcError`) and its options. */
export type { GossipRpcClient, GossipRpcClientOptions } from "./rpc/Client.ts"
/** Options of `GossipRpc.serve` / `GossipRpc.layerServer`: channel, connection limit, idle timeout, effect/rpc's server options. */
export type { GossipRpcServerOptions } from "./rpc/Server.ts"
/** The counters `GossipRpc.stats` returns (also Effect metrics `gossip_rpc_*`, labelled with the node name). */
export type { GossipRpcStats } from "./rpc/Stats.ts"
/** Effect Cluster's `RunnerHealth` from membership: a runner is healthy while its member is alive or suspect. */
export { GossipRunnerHealth } from "./cluster/GossipRunnerHealth.ts"
/** How `GossipRunnerHealth` finds the runner address a member announces. */
export type { RunnerOf } from "./cluster/RunnerLiveness.ts"
/** A runner address in member metadata: `encode`, `decode`, `runnerOf`, and `select` for typed metadata. */
export { RunnerMetadata } from "./cluster/RunnerMetadata.ts"
