/**
 * cluster-entities.ts: Effect Cluster runners whose health is what gossip says.
 *
 * Run it:  ./node_modules/.bin/node examples/cluster-entities.ts      (about 20 s)
 *
 * Four clusters of three runners each run side by side in this one process.
 * Every runner is an Effect Cluster `SocketRunner` on its own TCP port on
 * 127.0.0.1 hosting the same entity, a counter; the runners of a cluster share
 * one in-memory `RunnerStorage`. The clusters differ in how sharding learns
 * that a runner is gone, and in how that runner fails:
 *
 *   gossip  `GossipRunnerHealth.layer`: every runner also runs a gossip node
 *           (`local` profile) whose metadata carries its runner address; a
 *           runner is healthy while that member is alive or suspect.
 *   ping    `RunnerHealth.layerPing`: the runner that checks health pings the
 *           others over the runner protocol.
 *
 *   crash   the process exits: its connections close and its ports refuse new ones.
 *   freeze  the process stops (a stuck event loop, a paused VM, a cut cable):
 *           connections stay open and nothing answers.
 *
 * In each cluster, counters spread over the shards are incremented; then one
 * runner fails without a word (no gossip leave, and it cannot reach storage to
 * unregister), and the time until its shards run on the two survivors is
 * measured. Its counters are incremented again and answer from a survivor (from
 * 1: their in-memory state died with the runner).
 *
 * The move takes failure detection plus two sharding intervals, here 500 ms
 * each (`ShardingConfig`): `runnerHealthCheckInterval` (how often one runner
 * checks the others; default 1 minute) and `refreshAssignmentsInterval` (how
 * often every runner re-reads the healthy runners; default 3 s). Gossip's
 * detection is the same for both failures (a member that stops answering
 * probes): a probe round, then a suspicion timeout of 3 s (the `local`
 * profile's minimum for three nodes, reached once the other survivor confirms).
 * `layerPing` gives a runner up after 6 failed pings, 500 ms apart: refused
 * pings fail at once, but unanswered ones wait up to 10 s each (about 40 s in
 * all on this loopback, a minute at worst), which this example does not wait for.
 *
 * Two things here are about sharing storage in one process.
 * `RunnerStorage.layerMemory`'s lock refresh answers with the shards its last
 * caller acquired, right for one runner only, so each runner sees the shared
 * storage through a view that keeps its own locks. And health checks run as a
 * cluster singleton on one runner: the example fails another one, since with
 * in-memory storage nobody would take the singleton over (SQL storage expires
 * a dead runner's registration).
 */
import { NodeClusterSocket, NodeRuntime, NodeSocketServer } from "@effect/platform-node"
import { Clock, Console, Context, Effect, Exit, Latch, Layer, Logger, Option, Ref, References, Schema, Scope } from "effect"
import {
  Entity,
  EntityId,
  MessageStorage,
  RunnerAddress,
  RunnerHealth,
  Runners,
  RunnerStorage,
  Sharding,
  ShardingConfig,
  SocketRunner
} from "effect/cluster"
import { PersistenceError } from "effect/cluster/ClusterError"
import { Rpc, RpcSerialization } from "effect/rpc"
import { Socket, SocketServer } from "effect/socket"
import { Gossip, GossipRunnerHealth, Membership, RunnerMetadata } from "../src/index.ts"

// -------------------------------------------------------------------------------------------------
// The entity: a counter that says which runner answered

const Increment = Rpc.make("Increment", {
  payload: { amount: Schema.Int },
  success: Schema.Struct({ count: Schema.Int, runner: Schema.String })
})
const Counter = Entity.make("Counter", [Increment])

const counterOn = (runner: string) =>
  Counter.toLayer(Effect.gen(function*() {
    const count = yield* Ref.make(0)
    return Counter.of({
      Increment: ({ payload }) =>
        Effect.map(Ref.updateAndGet(count, (n) => n + payload.amount), (n) => ({ count: n, runner }))
    })
  }))

// -------------------------------------------------------------------------------------------------
// How a runner of this process fails

type Failure = "crash" | "freeze"

/**
 * A runner's switch. Once `fail` runs, every storage call of the runner fails
 * (a dead process never reaches storage), and its connections either close
 * (`crash`; its scope then closes the listening socket) or go silent (`freeze`:
 * what arrives is swallowed, nothing is sent).
 *
 * The storage view also keeps the runner's own shard locks: the memory storage
 * keeps one list for everybody, which is right only for a single runner.
 */
const makeFailureSwitch = () => {
  const failed = Latch.makeUnsafe(false)
  const crashed = Latch.makeUnsafe(false)
  const isFailed = () => failed.isOpen()
  const guard = <A>(effect: Effect.Effect<A, PersistenceError>) =>
    Effect.suspend(() => isFailed() ? Effect.fail(new PersistenceError({ cause: new Error("runner is down") })) : effect)

  const storage = (shared: RunnerStorage.RunnerStorage["Service"]) => {
    const held = new Set<string>()
    return RunnerStorage.RunnerStorage.of({
      register: (runner, healthy) => guard(shared.register(runner, healthy)),
      unregister: (address) => guard(shared.unregister(address)),
      getRunners: guard(shared.getRunners),
      setRunnerHealth: (address, healthy) => guard(shared.setRunnerHealth(address, healthy)),
      acquire: (address, shardIds) =>
        guard(Effect.tap(shared.acquire(address, shardIds), (got) =>
          Effect.sync(() => got.forEach((id) => held.add(id.toString()))))),
      refresh: (_address, shardIds) =>
        guard(Effect.sync(() => Array.from(shardIds).filter((id) => held.has(id.toString())))),
      release: (address, shardId) =>
        guard(Effect.andThen(Effect.sync(() => held.delete(shardId.toString())), shared.release(address, shardId))),
      releaseAll: (address) => guard(Effect.andThen(Effect.sync(() => held.clear()), shared.releaseAll(address)))
    })
  }

  /** After a freeze, reads never return (until the peer closes) and writes go nowhere. */
  const freezable = (socket: Socket.Socket): Socket.Socket =>
    Socket.make({
      reader: Effect.map(socket.reader, (reader) => ({
        ...reader,
        pull: Effect.flatMap(reader.pull, (chunks) => isFailed() ? Effect.forever(reader.pull) : Effect.succeed(chunks))
      })),
      writer: Effect.map(socket.writer, (writer) => ({
        write: (chunk) => isFailed() ? Effect.void : writer.write(chunk),
        writeAll: (chunks) => isFailed() ? Effect.void : writer.writeAll(chunks)
      }))
    })

  const server = (inner: SocketServer.SocketServer["Service"]) =>
    SocketServer.SocketServer.of({
      address: inner.address,
      run: (handler) => inner.run((socket) => Effect.raceFirst(handler(freezable(socket)), crashed.await))
    })

  const fail = (failure: Failure) => {
    failed.openUnsafe()
    if (failure === "crash") crashed.openUnsafe()
  }
  return { storage, server, isFailed, fail }
}

// -------------------------------------------------------------------------------------------------
// Runners

type Health = "gossip" | "ping"

const shardsPerGroup = 24
const counters = Array.from({ length: 12 }, (_, i) => `counter-${i + 1}`)

const shardingConfig = (address: RunnerAddress.RunnerAddress) =>
  ShardingConfig.layer({
    runnerAddress: Option.some(address),
    shardsPerGroup,
    runnerHealthCheckInterval: "500 millis",
    refreshAssignmentsInterval: "500 millis",
    // A runner's shutdown waits up to this long for its shards to be handed off; a failed
    // runner's never are (memory storage has no lock to wait for, and the default is 10 s).
    shardLockRefreshInterval: "1 second"
  })

interface Runner {
  readonly name: string
  readonly sharding: Sharding.Sharding["Service"]
  /** Its gossip node's address, when it has one. */
  readonly gossipAddress: string | undefined
  /** Fails the runner, without a word to anyone. */
  readonly fail: (failure: Failure) => Effect.Effect<void>
  /** Stops what is left of it. */
  readonly stop: Effect.Effect<void>
}

/**
 * Starts a runner: its socket server on a port the OS chooses (so the runner
 * address is known before sharding starts), its gossip node when `health` is
 * gossip (joining `seed`), and its sharding, each in a scope of its own so that
 * a failure can stop them one by one.
 */
const startRunner = Effect.fnUntraced(function*(
  name: string,
  shared: RunnerStorage.RunnerStorage["Service"],
  health: Health,
  seed: string | undefined
) {
  const parent = yield* Effect.scope
  const [socketScope, gossipScope, runnerScope] = yield* Effect.all([
    Scope.fork(parent, "sequential"),
    Scope.fork(parent, "sequential"),
    Scope.fork(parent, "sequential")
  ])
  const failureSwitch = makeFailureSwitch()
  const server = yield* Scope.provide(NodeSocketServer.make({ host: "127.0.0.1", port: 0 }), socketScope)
  const port = server.address._tag === "InetAddressV4" ? server.address.port : 0
  const address = RunnerAddress.make("127.0.0.1", port)

  let gossipAddress: string | undefined
  let healthLayer: Layer.Layer<RunnerHealth.RunnerHealth>
  if (health === "gossip") {
    const gossip = yield* Layer.buildWithScope(
      Gossip.layer({ name, bind: "127.0.0.1:0", profile: "local", retransmitMult: 4, meta: RunnerMetadata.encode(address) }),
      gossipScope
    )
    const membership = Context.get(gossip, Membership)
    if (seed !== undefined) yield* membership.join([seed])
    gossipAddress = (yield* membership.localMember).address
    healthLayer = GossipRunnerHealth.layer(RunnerMetadata.runnerOf).pipe(Layer.provide(Layer.succeed(Membership, membership)))
  } else {
    // As NodeClusterSocket wires it: the pings go through a runner client of their own.
    healthLayer = RunnerHealth.layerPing.pipe(
      Layer.provide(Runners.layerRpc),
      Layer.provide(NodeClusterSocket.layerClientProtocol),
      Layer.provide([MessageStorage.layerNoop, shardingConfig(address), RpcSerialization.layerSchemaBinary()])
    )
  }

  // Warnings and errors only; and a failed runner's fibers live on in this process, but what
  // they log is not news.
  const logger = Logger.make((options) => failureSwitch.isFailed() ? undefined : Logger.defaultLogger.log(options))

  const layer = counterOn(name).pipe(
    Layer.provideMerge(SocketRunner.layer),
    Layer.provide(healthLayer),
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provide([
      MessageStorage.layerNoop,
      Layer.succeed(RunnerStorage.RunnerStorage, failureSwitch.storage(shared)),
      Layer.succeed(SocketServer.SocketServer, failureSwitch.server(server)),
      shardingConfig(address),
      RpcSerialization.layerSchemaBinary()
    ]),
    Layer.provide([Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, "Warn")])
  )
  const context = yield* Layer.buildWithScope(layer, runnerScope)

  /**
   * The gossip node stops in both cases, without leaving: a member that stops
   * answering probes is all gossip sees of a crash or a freeze. A crashed
   * runner's listening socket closes at once (its scope stops listening, then
   * waits for the connections), and the rest of it winds down in the background.
   */
  const fail = (failure: Failure) =>
    Effect.gen(function*() {
      failureSwitch.fail(failure)
      if (failure === "crash") yield* Effect.forkIn(Scope.close(socketScope, Exit.void), parent)
      yield* Scope.close(gossipScope, Exit.void)
      if (failure === "crash") yield* Effect.forkIn(Scope.close(runnerScope, Exit.void), parent)
    })
  const stop = Effect.forEach([runnerScope, gossipScope, socketScope], (scope) => Scope.close(scope, Exit.void), {
    discard: true
  })
  return { name, sharding: Context.get(context, Sharding.Sharding), gossipAddress, fail, stop } satisfies Runner
})

// -------------------------------------------------------------------------------------------------
// Watching shards

/** The name under which sharding registers its health-check singleton. */
const healthCheckSingleton = "effect/cluster/Sharding/RunnerHealth"

type ShardId = ReturnType<Sharding.Sharding["Service"]["getShardId"]>

const shardOf = (runner: Runner, entity: string): ShardId =>
  runner.sharding.getShardId(EntityId.make(entity), "default")

/** Every shard of the default group (found by hashing names until all showed up). */
const allShards = (runner: Runner): ReadonlyArray<ShardId> => {
  const ids = new Map<string, ShardId>()
  for (let i = 0; ids.size < shardsPerGroup; i++) {
    const id = shardOf(runner, `shard-finder-${i}`)
    ids.set(id.toString(), id)
  }
  return [...ids.values()]
}

/** The runners that hold `shard` now (they acquired it and run its entities). */
const holders = (runners: ReadonlyArray<Runner>, shard: ShardId) => runners.filter((r) => r.sharding.hasShardId(shard))

/** Polls `done` every 20 ms: the time it took, or `undefined` past `limit` ms. */
const timeUntil = (done: () => boolean, limit: number) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    while (!done()) {
      if ((yield* Clock.currentTimeMillis) - start > limit) return undefined
      yield* Effect.sleep("20 millis")
    }
    return (yield* Clock.currentTimeMillis) - start
  })

/** Increments `counter` by 1, sending from `via`. */
const increment = (via: Runner, counter: string) =>
  Counter.client.pipe(
    Effect.flatMap((clientFor) => clientFor(counter).Increment({ amount: 1 })),
    Effect.provideService(Sharding.Sharding, via.sharding)
  )

const show = (replies: ReadonlyArray<{ readonly count: number; readonly runner: string }>, names: ReadonlyArray<string>) =>
  replies.map((r, i) => `${names[i]}=${r.count}@${r.runner.slice(r.runner.lastIndexOf("-") + 1)}`).join(" ")

// -------------------------------------------------------------------------------------------------
// The story

class StoryError extends Schema.TaggedError<StoryError>()("StoryError", { message: Schema.String }) {}

interface Cluster {
  readonly name: string
  readonly health: Health
  readonly failure: Failure
  readonly runners: ReadonlyArray<Runner>
}

const clusterKinds: ReadonlyArray<readonly [Health, Failure]> = [
  ["gossip", "crash"],
  ["gossip", "freeze"],
  ["ping", "crash"],
  ["ping", "freeze"]
]

/** How long the example waits for shards to move, in any cluster. */
const moveLimit = 12_000

const main = Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const say = (line: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Console.log(`[${((now - start) / 1000).toFixed(1).padStart(4)}s] ${line}`))

  yield* say("starting four clusters of three socket runners (a, b, c) on 127.0.0.1")
  const clusters: Array<Cluster> = []
  for (const [health, failure] of clusterKinds) {
    const shared = yield* RunnerStorage.makeMemory
    const runners: Array<Runner> = []
    for (const x of ["a", "b", "c"]) {
      const runner = yield* startRunner(`${health}-${failure}-${x}`, shared, health, runners[0]?.gossipAddress)
      runners.push(runner)
    }
    clusters.push({ name: `${health}/${failure}`, health, failure, runners })
  }
  const shards = allShards(clusters[0]!.runners[0]!)

  // The first assignment has settled when every shard is on exactly one runner.
  for (const { name, runners } of clusters) {
    const took = yield* timeUntil(() => shards.every((s) => holders(runners, s).length === 1), 10_000)
    if (took === undefined) return yield* new StoryError({ message: `${name}: shards not assigned within 10 s` })
  }

  // Each cluster loses a runner that does not run the health checks.
  const victims = new Map<Cluster, { readonly runner: Runner; readonly shards: ReadonlyArray<ShardId> }>()
  for (const cluster of clusters) {
    const { name, runners } = cluster
    const checker = holders(runners, shardOf(runners[0]!, healthCheckSingleton))[0]!
    const replies = yield* Effect.forEach(counters, (c) => increment(checker, c))
    yield* say(`${name.padEnd(13)} ${show(replies, counters)}   (health checks on ${checker.name.slice(-1)})`)
    const runner = runners.find((r) => r !== checker)!
    victims.set(cluster, { runner, shards: shards.filter((s) => runner.sharding.hasShardId(s)) })
  }

  for (const failure of ["crash", "freeze"] as const) {
    const names = clusters.filter((c) => c.failure === failure).map((c) => victims.get(c)!.runner.name)
    yield* say(`${failure === "crash" ? "crashing" : "freezing"} ${names.join(" and ")}: ${
      failure === "crash" ? "their ports now refuse connections" : "their connections stay open and nothing answers"
    }`)
  }
  yield* Effect.forEach(clusters, (c) => victims.get(c)!.runner.fail(c.failure), { concurrency: "unbounded" })

  const times = yield* Effect.forEach(clusters, (cluster) => {
    const victim = victims.get(cluster)!
    const survivors = cluster.runners.filter((r) => r !== victim.runner)
    return timeUntil(() => victim.shards.every((s) => holders(survivors, s).length === 1), moveLimit).pipe(
      Effect.tap((took) =>
        took === undefined
          ? say(`${cluster.name}: ${victim.runner.name}'s shards still not moved after ${moveLimit / 1000} s`)
          : Effect.gen(function*() {
            const orphans = counters.filter((c) => victim.shards.some((s) => s.toString() === shardOf(survivors[0]!, c).toString()))
            const replies = yield* Effect.forEach(orphans, (c) => increment(survivors[0]!, c))
            yield* say(`${cluster.name}: ${victim.shards.length} shards moved to the survivors ${(took / 1000).toFixed(1)} s after the failure; ${show(replies, orphans)}`)
          })
      )
    )
  }, { concurrency: "unbounded" })

  const cell = (health: Health, failure: Failure) => {
    const took = times[clusterKinds.findIndex(([h, f]) => h === health && f === failure)]
    return (took === undefined ? `> ${moveLimit / 1000} s` : `${(took / 1000).toFixed(1)} s`).padEnd(10)
  }
  const row = (health: Health, name: string, how: string) =>
    `  ${name.padEnd(24)}${how.padEnd(40)}${cell(health, "crash")}${cell(health, "freeze")}`.trimEnd()
  yield* Console.log([
    "",
    "time from a runner's failure until its shards ran on the survivors",
    "(runnerHealthCheckInterval and refreshAssignmentsInterval: 500 ms)",
    "",
    `${" ".repeat(66)}crash     freeze`,
    row("gossip", "GossipRunnerHealth", "(member dead: probes, then ≥ 3 s)"),
    row("ping", "RunnerHealth.layerPing", "(6 failed pings, 500 ms apart)"),
    "",
    "A refused ping fails at once; an unanswered one waits up to 10 s, so layerPing gives a frozen",
    "runner up only after about 40 s (a minute at worst). To gossip both are a member that stops",
    "answering probes."
  ].join("\n"))
  yield* Effect.forEach(clusters.flatMap((c) => c.runners), (r) => r.stop, { concurrency: "unbounded" })
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)
