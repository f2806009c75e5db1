/**
 * basic.ts: the smallest useful cluster, typed.
 *
 * Run it:  ./node_modules/.bin/node examples/basic.ts      (about 1 s)
 *
 * Three nodes on real UDP/TCP sockets on 127.0.0.1 (the OS picks the ports):
 * each announces its role as typed metadata, b and c join through a, every
 * node prints the member table it sees with the roles decoded, a publishes a
 * typed greeting on a topic that b and c subscribe to, then c leaves
 * gracefully and a sees it `left`, and finally all of them stop.
 *
 * A node is a layer. `Gossip.layer` is the ready-made one: the membership
 * engine on UDP + TCP speaking the hashicorp/memberlist wire format. Typed
 * metadata is a layer on top of it (`Role.layer(initial)`), and topics need
 * only the `Membership` in context.
 *
 * `Layer.build` starts a node in the current scope; closing the scope stops it.
 * The `local` profile has the short timers memberlist uses for one machine.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Fiber, Layer, Result, Schema, Stream } from "effect"
import { Gossip, Membership, MemberMetadata, Topic } from "../src/index.ts"

/** What each node announces about itself: declared once, decoded in every member table. */
const Role = MemberMetadata.make("role", Schema.Struct({ role: Schema.Literals(["api", "worker"]) }))

/** A typed application message: its values travel as JSON, checked by the schema on arrival. */
const Greeting = Topic.make("greeting", Schema.Struct({ text: Schema.String, sentAt: Schema.Number }))

/** Starts a node in the current scope: its `Membership` and its typed metadata. */
const startNode = (name: string, role: "api" | "worker") =>
  Layer.build(
    Role.layer({ role }).pipe(Layer.provideMerge(Gossip.layer({ name, profile: "local", bind: "127.0.0.1:0" })))
  ).pipe(Effect.map((context) => ({ name, membership: Context.get(context, Membership), role: Context.get(context, Role) })))

type Node = Effect.Success<ReturnType<typeof startNode>>

const roleOf = (m: MemberMetadata.TypedMember<{ readonly role: string }>) =>
  Result.isSuccess(m.metadata) ? m.metadata.success.role : "?"

/** Waits until `node`'s typed table (the current one, then each change) satisfies `ok`. */
const waitUntil = (node: Node, ok: (members: ReadonlyArray<MemberMetadata.TypedMember<{ readonly role: string }>>) => boolean) =>
  node.role.members.pipe(Stream.filter(ok), Stream.runHead, Effect.timeout("5 seconds"))

const program = Effect.gen(function*() {
  const a = yield* startNode("a", "api")
  const b = yield* startNode("b", "worker")
  const c = yield* startNode("c", "worker")
  const seed = (yield* a.membership.localMember).address
  yield* Console.log(`a listens on ${seed}`)

  // A join is a push/pull with the seed: both sides merge each other's tables.
  // The other members hear of the newcomer by gossip, a few rounds later.
  yield* b.membership.join([seed])
  yield* c.membership.join([seed])
  for (const node of [a, b, c]) yield* waitUntil(node, (ms) => ms.filter((m) => m.state === "alive").length === 3)
  for (const node of [a, b, c]) {
    const members = yield* node.role.currentMembers
    yield* Console.log(`${node.name} sees ${members.length} members: ${members.map((m) => `${m.name} (${roleOf(m)}) ${m.state}`).join(", ")}`)
  }

  // Subscribing returns once the subscription is in place: nothing published after it is missed.
  const received = yield* Effect.forEach([b, c], (node) =>
    Topic.subscribe(Greeting).pipe(
      Effect.provideService(Membership, node.membership),
      Effect.flatMap((greetings) =>
        greetings.pipe(
          Stream.take(1),
          Stream.runForEach((d) => Console.log(`${node.name} got "${d.value.text}" from ${d.from}`)),
          Effect.forkScoped
        )
      )
    ))
  yield* Topic.publish(Greeting, { text: "hello from a", sentAt: Date.now() }).pipe(
    Effect.provideService(Membership, a.membership)
  )
  yield* Fiber.joinAll(received).pipe(Effect.timeout("5 seconds"))

  // A graceful leave gossips the news and waits until it has gone out;
  // the others then list c as `left` rather than suspecting it.
  yield* c.membership.leave
  yield* waitUntil(a, (ms) => ms.some((m) => m.name === "c" && m.state === "left"))
  yield* Console.log(`c left; a sees: ${(yield* a.role.currentMembers).map((m) => `${m.name} ${m.state}`).join(", ")}`)

  yield* b.membership.leave
  yield* a.membership.leave
  yield* Console.log("all three left; closing the scope stops them")
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
