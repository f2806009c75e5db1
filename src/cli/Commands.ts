/**
 * The `gossip` command tree: `gossip agent` runs a node, `gossip members`
 * lists the members a running agent sees, `gossip stats` prints its counters;
 * `join`, `leave`, `force-leave` and `info` act on it as serf's commands do. `--help`, `--version` and
 * `--log-level` come from `effect/cli`.
 */
import { Effect } from "effect"
import { Command } from "effect/cli"
import { forceLeaveParams, infoFlags, joinParams, leaveFlags, membersQueryFlags } from "./ClientOptions.ts"
import { agentFlags, membersFlags } from "./Options.ts"
import { eventParams, keysParams, monitorParams, queryParams } from "./SerfOptions.ts"

/**
 * A command's handler, read from its module only when the command runs: the agent never
 * reads the HTTP client, and a client command never reads the node.
 */
const lazy = <A, B, E, R>(load: () => Promise<(input: A) => Effect.Effect<B, E, R>>) => (input: A): Effect.Effect<B, E, R> =>
  Effect.flatMap(Effect.promise(load), (run) => run(input))

/** `gossip agent …`: one cluster member in the foreground. */
export const agent = Command.make("agent", agentFlags, lazy(() => import("./Agent.ts").then((m) => m.runAgent))).pipe(
  Command.withDescription(
    "Run a cluster member in the foreground (memberlist wire protocol, serf-compatible). " +
      "SIGINT, SIGTERM or POST /v1/leave make it leave gracefully and exit."
  ),
  Command.withExamples([
    {
      command: "gossip agent --name web-1 --bind 10.0.0.5:7946 --join 10.0.0.4 --tag role=web",
      description: "Join an existing (serf) cluster with a tag"
    },
    {
      command: "gossip agent --name n1 --bind 127.0.0.1:7946 --ctl 127.0.0.1:7373 --log-format json",
      description: "Start a first node with a control endpoint and JSON logs"
    },
    {
      command: "gossip agent --transport ws --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem " +
        "--join https://seed.example.com/gossip",
      description: "Gossip over WebSocket (wss), joining through an HTTPS endpoint"
    }
  ])
)

/** `gossip members …`: the member table of a running agent. */
export const members = Command.make("members", membersQueryFlags, lazy(() => import("./Members.ts").then((m) => m.listMembers))).pipe(
  Command.withDescription(
    "List the members a running agent sees, as `serf members` does: status alive, leaving, left or failed; " +
      "--status, --name and --tag key=regexp filter (whole-value regexps, all must match)"
  ),
  Command.withExamples([
    { command: "gossip members --ctl 127.0.0.1:7373", description: "Print the member list" },
    {
      command: "gossip members --ctl 127.0.0.1:7373 --status failed --tag role=web.* --detailed",
      description: "Failed web members, with protocol versions and incarnations"
    }
  ])
)

/** `gossip stats …`: a running agent's view of the cluster and its counters. */
export const stats = Command.make("stats", membersFlags, lazy(() => import("./Members.ts").then((m) => m.printStats))).pipe(
  Command.withDescription("Show a running agent's members by state, health score and counters"),
  Command.withExamples([{ command: "gossip stats --ctl 127.0.0.1:7373", description: "Print the cluster stats" }])
)

/** `gossip join ADDR…`: a running agent joins more members. */
export const join = Command.make("join", joinParams, lazy(() => import("./ClusterOps.ts").then((m) => m.joinCluster))).pipe(
  Command.withDescription("Tell a running agent to join more members; prints how many it contacted"),
  Command.withExamples([{ command: "gossip join --ctl 127.0.0.1:7373 10.0.0.4:7946", description: "Join a seed" }])
)

/** `gossip leave`: a running agent leaves gracefully and exits. */
export const leave = Command.make("leave", leaveFlags, lazy(() => import("./ClusterOps.ts").then((m) => m.leaveCluster))).pipe(
  Command.withDescription("Tell a running agent to leave the cluster gracefully and exit"),
  Command.withExamples([{ command: "gossip leave --ctl 127.0.0.1:7373", description: "Graceful leave" }])
)

/** `gossip force-leave NAME`: a failed member is marked left everywhere. */
export const forceLeaveCommand = Command.make(
  "force-leave",
  forceLeaveParams,
  lazy(() => import("./ClusterOps.ts").then((m) => m.forceLeave))
).pipe(
  Command.withDescription(
    "Force a failed member into the left state, on every agent (serf's too); --prune also erases it from their lists"
  ),
  Command.withExamples([{ command: "gossip force-leave --ctl 127.0.0.1:7373 web-3", description: "Clean out a failed member" }])
)

/** `gossip info`: what a running agent says about itself. */
export const info = Command.make("info", infoFlags, lazy(() => import("./Info.ts").then((m) => m.printInfo))).pipe(
  Command.withDescription("Show a running agent's name, address, tags, memberlist runtime, serf clocks and counters"),
  Command.withExamples([{ command: "gossip info --ctl 127.0.0.1:7373 --format json", description: "As JSON" }])
)

/** `gossip event …`. */
export const event = Command.make("event", eventParams, lazy(() => import("./SerfCommands.ts").then((m) => m.sendEvent))).pipe(
  Command.withDescription("Send a serf user event to the cluster through a running agent"),
  Command.withExamples([
    { command: "gossip event --ctl 127.0.0.1:7373 deploy v42", description: "Send event 'deploy' with payload 'v42'" },
    {
      command: "gossip event --ctl 127.0.0.1:7373 --coalesce=false restart web-1",
      description: "An event serf agents must not coalesce"
    }
  ])
)

/** `gossip query …`. */
export const query = Command.make("query", queryParams, lazy(() => import("./SerfCommands.ts").then((m) => m.sendQuery))).pipe(
  Command.withDescription("Send a serf query through a running agent and print the acks and responses"),
  Command.withExamples([
    { command: "gossip query --ctl 127.0.0.1:7373 uptime", description: "Ask every member" },
    {
      command: "gossip query --ctl 127.0.0.1:7373 --tag role=^web$ --timeout 2s load",
      description: "Ask the web members, for two seconds"
    }
  ])
)

/** `gossip keys …`. */
export const keys = Command.make("keys", keysParams, lazy(() => import("./SerfCommands.ts").then((m) => m.manageKeys))).pipe(
  Command.withDescription(
    "Install, use, remove or list encryption keys on every member (serf agents too), as `serf keys`"
  ),
  Command.withExamples([
    { command: "gossip keys --ctl 127.0.0.1:7373 --install <base64 key>", description: "Install a new key everywhere" },
    { command: "gossip keys --ctl 127.0.0.1:7373 --list", description: "List the keys of every member" }
  ])
)

/** `gossip monitor …`. */
export const monitorCommand = Command.make("monitor", monitorParams, lazy(() => import("./SerfCommands.ts").then((m) => m.monitor))).pipe(
  Command.withDescription(
    "Stream a running agent's log live: member changes, user events, queries (--log-level sets the level, default info)"
  ),
  Command.withExamples([
    { command: "gossip monitor --ctl 127.0.0.1:7373", description: "Follow the agent at info level" },
    { command: "gossip monitor --ctl 127.0.0.1:7373 --log-level debug --format json", description: "Everything, as JSON" }
  ])
)

/** The root command. */
export const gossip = Command.make("gossip").pipe(
  Command.withDescription("SWIM + Lifeguard gossip membership, compatible with hashicorp/memberlist and serf"),
  Command.withSubcommands([agent, members, stats, join, leave, forceLeaveCommand, info, event, query, keys, monitorCommand])
)
