#!/usr/bin/env node
/**
 * The `gossip` executable: `gossip agent` runs a cluster member, `gossip
 * members` queries a running one. See `gossip --help`.
 *
 * Only a loader: it turns on Node's compile cache before the program is
 * read, so that every start after the first skips compiling it (the program
 * itself cannot do that for its own code, which is compiled before it runs).
 */
import { enableCompileCache } from "node:module"

enableCompileCache()
await import("./cli/Main.ts")
