/**
 * Effect Cluster socket runners on loopback, in one process, each with a gossip
 * node that `GossipRunnerHealth` reads, sharing one in-memory `RunnerStorage`;
 * and a way to crash one the way a dying process goes.
 */
import { NodeClusterSocket, NodeSocketServer } from "@effect/platform-node"
import { Context, Effect, Exit, Latch, Layer, Logger, Option, Ref, Schema, Scope } from "effect"
import { PersistenceError } from "effect/cluster/ClusterError"
import * as Entity from "effect/cluster/Entity"
import * as EntityId from "effect/cluster/EntityId"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as Rpc from "effect/rpc/Rpc"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as SocketServer from "effect/socket/SocketServer"
import { GossipRunnerHealth } from "../../src/cluster/GossipRunnerHealth.ts"
import { RunnerMetadata } from "../../src/cluster/RunnerMetadata.ts"
import { Gossip } from "../../src/Gossip.ts"
import { Membership } from "../../src/Membership.ts"

export const shardsPerGroup = 24
export const runnerHealthCheckInterval = 500
export const refreshAssignmentsInterval = 500

/** A counter that answers with its count and the runner it runs on. */
export const Increment = Rpc.make("Increment", {
  success: Schema.Struct({ count: Schema.Int, runner: Schema.String })
})
export const Counter = Entity.make("Counter", [Increment])

const counterOn = (runner: string) =>
  Counter.toLayer(Effect.gen(function*() {
    const count = yield* Ref.make(0)
    return Counter.of({ Increment: () => Effect.map(Ref.updateAndGet(count, (n) => n + 1), (n) => ({ count: n, runner })) })
  }))

export interface TestRunner {
  readonly name: string
  readonly sharding: Sharding.Sharding["Service"]
  readonly membership: Membership["Service"]
  /** Stops answering without a word: connections and listening socket close, the gossip node stops without leaving, storage is out of reach. */
  readonly crash: Effect.Effect<void>
}

/**
 * One runner's view of the shared storage: its own shard locks (the memory
 * storage keeps one list for everybody, right for a single runner only), and
 * nothing at all once it has crashed.
 */
const storageView = (shared: RunnerStorage.RunnerStorage["Service"], down: Latch.Latch) => {
  const held = new Set<string>()
  const guard = <A>(effect: Effect.Effect<A, PersistenceError>) =>
    Effect.suspend(() => down.isOpen() ? Effect.fail(new PersistenceError({ cause: new Error("crashed") })) : effect)
  return RunnerStorage.RunnerStorage.of({
    register: (runner, healthy) => guard(shared.register(runner, healthy)),
    unregister: (address) => guard(shared.unregister(address)),
    getRunners: guard(shared.getRunners),
    setRunnerHealth: (address, healthy) => guard(shared.setRunnerHealth(address, healthy)),
    acquire: (address, ids) =>
      guard(Effect.tap(shared.acquire(address, ids), (got) => Effect.sync(() => got.forEach((id) => held.add(id.toString()))))),
    refresh: (_address, ids) => guard(Effect.sync(() => Array.from(ids).filter((id) => held.has(id.toString())))),
    release: (address, id) => guard(Effect.andThen(Effect.sync(() => held.delete(id.toString())), shared.release(address, id))),
    releaseAll: (address) => guard(Effect.andThen(Effect.sync(() => held.clear()), shared.releaseAll(address)))
  })
}

/** Starts a runner in scopes that are children of the current one; `seed` is a gossip address to join. */
export const startRunner = Effect.fnUntraced(function*(
  name: string,
  shared: RunnerStorage.RunnerStorage["Service"],
  seed: string | undefined
) {
  const parent = yield* Effect.scope
  const [socketScope, gossipScope, runnerScope] = yield* Effect.all([
    Scope.fork(parent, "sequential"),
    Scope.fork(parent, "sequential"),
    Scope.fork(parent, "sequential")
  ])
  const down = Latch.makeUnsafe(false)
  const server = yield* Scope.provide(NodeSocketServer.make({ host: "127.0.0.1", port: 0 }), socketScope)
  const port = server.address._tag === "InetAddressV4" ? server.address.port : 0
  const address = RunnerAddress.make("127.0.0.1", port)

  const gossip = yield* Layer.buildWithScope(
    Gossip.layer({ name, bind: "127.0.0.1:0", profile: "local", retransmitMult: 4, meta: RunnerMetadata.encode(address) }),
    gossipScope
  )
  const membership = Context.get(gossip, Membership)
  if (seed !== undefined) yield* membership.join([seed])

  // Connections end with the crash, as the kernel ends a dead process's.
  const serving = SocketServer.SocketServer.of({
    address: server.address,
    run: (handler) => server.run((socket) => Effect.raceFirst(handler(socket), down.await))
  })
  const layer = counterOn(name).pipe(
    Layer.provideMerge(SocketRunner.layer),
    Layer.provide(GossipRunnerHealth.layer(RunnerMetadata.runnerOf)),
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provide([
      Layer.succeed(Membership, membership),
      MessageStorage.layerNoop,
      Layer.succeed(RunnerStorage.RunnerStorage, storageView(shared, down)),
      Layer.succeed(SocketServer.SocketServer, serving),
      ShardingConfig.layer({
        runnerAddress: Option.some(address),
        shardsPerGroup,
        runnerHealthCheckInterval,
        refreshAssignmentsInterval,
        shardLockRefreshInterval: "1 second"
      }),
      RpcSerialization.layerSchemaBinary()
    ]),
    // Quiet: a crashed runner's fibers wind down in this process, failing against storage.
    Layer.provide(Logger.layer([]))
  )
  const context = yield* Layer.buildWithScope(layer, runnerScope)

  const crash = Effect.gen(function*() {
    down.openUnsafe()
    yield* Effect.forkIn(Scope.close(socketScope, Exit.void), parent)
    yield* Scope.close(gossipScope, Exit.void)
    yield* Effect.forkIn(Scope.close(runnerScope, Exit.void), parent)
  })
  const runner: TestRunner = { name, sharding: Context.get(context, Sharding.Sharding), membership, crash }
  return runner
})

/** Three runners, `prefix-a`, `-b`, `-c`, gossiping through the first. */
export const startRunners = (prefix: string) =>
  Effect.gen(function*() {
    const shared = yield* RunnerStorage.makeMemory
    const runners: Array<TestRunner> = []
    for (const x of ["a", "b", "c"]) {
      const seed = runners[0] === undefined ? undefined : (yield* runners[0].membership.localMember).address
      runners.push(yield* startRunner(`${prefix}-${x}`, shared, seed))
    }
    return runners
  })

export type ShardId = ReturnType<Sharding.Sharding["Service"]["getShardId"]>

export const shardOf = (runner: TestRunner, entity: string): ShardId =>
  runner.sharding.getShardId(EntityId.make(entity), "default")

/** Every shard of the default group. */
export const allShards = (runner: TestRunner): ReadonlyArray<ShardId> => {
  const ids = new Map<string, ShardId>()
  for (let i = 0; ids.size < shardsPerGroup; i++) {
    const id = shardOf(runner, `shard-finder-${i}`)
    ids.set(id.toString(), id)
  }
  return [...ids.values()]
}

/** The runners that hold `shard` now. */
export const holders = (runners: ReadonlyArray<TestRunner>, shard: ShardId) =>
  runners.filter((r) => r.sharding.hasShardId(shard))

/** The shard of sharding's own health-check singleton: its holder checks the others. */
export const healthCheckShard = (runner: TestRunner) => shardOf(runner, "effect/cluster/Sharding/RunnerHealth")

/** Increments `counter`, sending from `via`. */
export const increment = (via: TestRunner, counter: string) =>
  Counter.client.pipe(
    Effect.flatMap((clientFor) => clientFor(counter).Increment()),
    Effect.provideService(Sharding.Sharding, via.sharding)
  )
