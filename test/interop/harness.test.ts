import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { describeWithSerf, eventually, startSerf } from "./serf.ts"

describeWithSerf("serf harness", () => {
  it.live("starts two agents that join and kills them", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* startSerf({ name: "h1", ip: "127.0.70.1", tags: { role: "x" } })
      const b = yield* startSerf({ name: "h2", ip: "127.0.70.2", join: [a.address] })
      yield* eventually(Effect.map(a.members, (ms) => ms.length === 2), 5000, "two members")
      const ms = yield* b.members
      assert.deepStrictEqual(ms.find((m) => m.name === "h1")?.tags, { role: "x" })
    })), 20_000)
})
