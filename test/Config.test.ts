/**
 * Configuration by Schema: unknown options refused by name, every problem at
 * once, contradictions between values, and every option from the environment.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { GossipConfig, resolveConfig } from "../src/Config.ts"
import type { GossipConfigInput } from "../src/Config.ts"
import { Gossip } from "../src/Gossip.ts"
import { envName } from "../src/GossipEnv.ts"

const problemsOf = (input: unknown) =>
  Effect.map(Effect.flip(resolveConfig(input as GossipConfigInput)), (e) => e.problems.map((p) => p.field))

describe("configuration schema", () => {
  it.effect("an unknown option is refused by name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveConfig({ name: "x", probeIntervall: 1000 } as GossipConfigInput))
      assert.deepStrictEqual(error.problems, [{ field: "probeIntervall", message: "unknown option" }])
      assert.strictEqual(error.field, "probeIntervall")
    }))

  it.effect("every problem is reported at once", () =>
    Effect.gen(function*() {
      const fields = yield* problemsOf({
        name: "",
        indirectChecks: 100,
        probeInterval: "soon",
        retransmitMult: 1.5,
        awareness: "yes",
        bogus: true
      })
      assert.sameMembers(fields, ["name", "indirectChecks", "probeInterval", "retransmitMult", "awareness", "bogus"])
    }))

  it.effect("values that contradict each other are reported together", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolveConfig({
        name: "x",
        probeInterval: "1 second",
        probeTimeout: "2 seconds",
        delegateProtocolMin: 3,
        delegateProtocolMax: 5,
        delegateProtocolVersion: 2,
        meta: new Uint8Array(600)
      }))
      assert.sameMembers(error.problems.map((p) => p.field), ["probeTimeout", "delegateProtocolVersion", "meta"])
      assert.include(error.message, "probeTimeout: must be at most probeInterval (2000 > 1000)")
    }))

  it.effect("durations in every Effect form, resolved to milliseconds over the preset", () =>
    Effect.gen(function*() {
      const values = yield* resolveConfig({ name: "x", profile: "wan", probeInterval: "6 seconds", gossipInterval: 250 })
      assert.deepInclude(values, { probeInterval: 6000, probeTimeout: 3000, gossipInterval: 250, suspicionMult: 6 })
    }))

  it.effect("Gossip.layer checks its network options with the rest", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(Gossip.layer({ name: "x", bind: "nowhere:", bnid: "127.0.0.1:0", gossipNodes: -1 } as never))
      ).pipe(Effect.scoped)
      assert.strictEqual(error._tag, "GossipConfigError")
      if (error._tag === "GossipConfigError") assert.sameMembers(error.problems.map((p) => p.field), ["bnid", "gossipNodes", "bind"])
    }))
})

describe("GossipLive from the environment", () => {
  const fromEnv = (env: Record<string, string>) =>
    Effect.provide(
      Effect.gen(function*() {
        return yield* Gossip.options
      }),
      ConfigProvider.layer(ConfigProvider.fromEnv({ env }))
    )

  it("variable names are the option names in capitals", () => {
    assert.strictEqual(envName("probeInterval"), "PROBE_INTERVAL")
    assert.strictEqual(envName("suspicionMaxTimeoutMult"), "SUSPICION_MAX_TIMEOUT_MULT")
  })

  it.effect("every option is read; unset ones are left to their defaults", () =>
    Effect.gen(function*() {
      const options = yield* fromEnv({
        GOSSIP_NAME: "api-1",
        GOSSIP_BIND: "127.0.0.1:0",
        GOSSIP_PROFILE: "local",
        GOSSIP_ENCRYPT: "a2V5LW9uZQ==, a2V5LXR3bw==",
        GOSSIP_PROBE_INTERVAL: "2000",
        GOSSIP_GOSSIP_INTERVAL: "300 millis",
        GOSSIP_RETRANSMIT_MULT: "5",
        GOSSIP_AWARENESS: "false",
        GOSSIP_COMPRESSION: "false",
        GOSSIP_APPLICATION_NAME: "orders",
        GOSSIP_APPLICATION_VERSION: "1.2.3"
      })
      assert.deepStrictEqual(options, {
        name: "api-1",
        bind: "127.0.0.1:0",
        profile: "local",
        encryptionKeys: ["a2V5LW9uZQ==", "a2V5LXR3bw=="],
        probeInterval: 2000,
        gossipInterval: "300 millis",
        retransmitMult: 5,
        awareness: false,
        compression: false,
        application: { name: "orders", version: "1.2.3" }
      } as never)
      assert.deepStrictEqual(yield* fromEnv({}), {})
    }))

  it.effect("a bad value from the environment is a GossipConfigError naming the option", () =>
    Effect.gen(function*() {
      const options = yield* fromEnv({ GOSSIP_NAME: "x", GOSSIP_PROBE_TIMEOUT: "soon", GOSSIP_PROFILE: "lan2" })
      const error = yield* Effect.flip(Layer.build(Gossip.layer(options))).pipe(Effect.scoped)
      assert.strictEqual(error._tag, "GossipConfigError")
      if (error._tag === "GossipConfigError") assert.sameMembers(error.problems.map((p) => p.field), ["probeTimeout", "profile"])
    }))

  it.effect("the resolved values come out of GossipConfig.layer", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(GossipConfig.layer({ name: "x", awareness: false }))
      assert.isFalse(context.mapUnsafe.get(GossipConfig.key)!.awareness)
    }).pipe(Effect.scoped))
})
