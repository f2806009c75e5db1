#!/usr/bin/env node
/**
 * The `gossip` executable: `gossip agent` runs a cluster member, `gossip
 * members` queries a running one. See `gossip --help`.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { gossip } from "./cli/Commands.ts"
import { teardown } from "./cli/Shutdown.ts"
import { version } from "./cli/Version.ts"

gossip.pipe(
  Command.run({ version }),
  Effect.provide(NodeServices.layer),
  (program) => NodeRuntime.runMain(program, { teardown })
)
