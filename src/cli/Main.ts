/**
 * The `gossip` program: the command tree run on Node, with `runMain`'s
 * signal handling and the agent's exit codes. `src/cli.ts` loads it.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as NodeRuntime from "@effect/platform-node-shared/NodeRuntime"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { gossip } from "./Commands.ts"
import { teardown } from "./Shutdown.ts"
import { version } from "./Version.ts"

gossip.pipe(
  Command.run({ version }),
  Effect.provide(NodeServices.layer),
  (program) => NodeRuntime.runMain(program, { teardown })
)
