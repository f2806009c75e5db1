/**
 * The `gossip` command tree: `gossip agent` runs a node, `gossip members`
 * lists the members a running agent sees, `gossip stats` prints its counters. `--help`, `--version` and
 * `--log-level` come from `effect/cli`.
 */
import { Command } from "effect/cli"
import { runAgent } from "./Agent.ts"
import { listMembers, printStats } from "./Members.ts"
import { agentFlags, membersFlags } from "./Options.ts"
import { event, keys, monitorCommand, query } from "./SerfCommands.ts"

/** `gossip agent …`: one cluster member in the foreground. */
export const agent = Command.make("agent", agentFlags, runAgent).pipe(
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
export const members = Command.make("members", membersFlags, listMembers).pipe(
  Command.withDescription("List the members a running agent sees, through its control endpoint"),
  Command.withExamples([{ command: "gossip members --ctl 127.0.0.1:7373", description: "Print the member table" }])
)

/** `gossip stats …`: a running agent's view of the cluster and its counters. */
export const stats = Command.make("stats", membersFlags, printStats).pipe(
  Command.withDescription("Show a running agent's members by state, health score and counters"),
  Command.withExamples([{ command: "gossip stats --ctl 127.0.0.1:7373", description: "Print the cluster stats" }])
)

/** The root command. */
export const gossip = Command.make("gossip").pipe(
  Command.withDescription("SWIM + Lifeguard gossip membership, compatible with hashicorp/memberlist and serf"),
  Command.withSubcommands([agent, members, stats, event, query, keys, monitorCommand])
)
