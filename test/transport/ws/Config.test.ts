/**
 * Configuring a WebSocket node: the options checked by the one Schema (unknown
 * ones refused by name, every problem at once), from the environment, and
 * the agent's flags.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Schema } from "effect"
import { CliOutput, Command } from "effect/cli"
import { fileURLToPath } from "node:url"
import { nodeLayer } from "../../../src/cli/Agent.ts"
import type { AgentOptions } from "../../../src/cli/Options.ts"
import { AdvertiseUrl, agentFlags, JoinAddress } from "../../../src/cli/Options.ts"
import { Gossip, GossipLiveWebSocket } from "../../../src/Gossip.ts"

const fieldsOf = <A>(layer: Layer.Layer<A, { readonly _tag: string }>) =>
  Effect.flip(Layer.build(layer)).pipe(
    Effect.scoped,
    Effect.map((e) => (e as { readonly problems?: ReadonlyArray<{ readonly field: string }> }).problems?.map((p) => p.field) ?? [e._tag])
  )

describe("WebSocket node options", () => {
  it.effect("every problem at once: unknown keys, a bad path, a URL that names no IP, a lone key, limits out of range", () =>
    Effect.gen(function*() {
      const fields = yield* fieldsOf(Gossip.webSocket({
        name: "x",
        pathh: "/g",
        path: "gossip",
        advertiseUrl: "wss://gossip.example.com/gossip",
        tls: { key: "k.pem", cipher: "x" },
        webSocket: { peerQueueSize: 0, idleTimeout: "soon", bogus: 1 },
        probeInterval: -1
      } as never))
      assert.sameMembers(fields, [
        "pathh",
        "path",
        "advertiseUrl",
        "tls.cipher",
        "tls",
        "webSocket.peerQueueSize",
        "webSocket.idleTimeout",
        "webSocket.bogus",
        "probeInterval"
      ])
    }))

  it.effect("advertise and advertiseUrl exclude each other; a mounted node takes no bind; UDP knows no path", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* fieldsOf(Gossip.webSocket({ name: "x", advertise: "10.0.0.1:80", advertiseUrl: "ws://10.0.0.1:80/g" })),
        ["advertiseUrl"]
      )
      assert.deepStrictEqual(
        yield* fieldsOf(Gossip.webSocketMounted({ name: "x", bind: "127.0.0.1:0" } as never) as never),
        ["bind"]
      )
      assert.deepStrictEqual(yield* fieldsOf(Gossip.layer({ name: "x", path: "/gossip" } as never)), ["path"])
    }))

  it.effect("GossipLiveWebSocket reads GOSSIP_PATH, GOSSIP_ADVERTISE_URL and GOSSIP_TLS_* besides every other option", () =>
    Effect.gen(function*() {
      const options = yield* Gossip.webSocketOptions.pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({
          env: {
            GOSSIP_NAME: "w1",
            GOSSIP_BIND: "127.0.0.1:0",
            GOSSIP_PATH: "/cluster",
            GOSSIP_ADVERTISE_URL: "wss://10.0.0.5:443/cluster",
            GOSSIP_TLS_CERT: "/etc/gossip/cert.pem",
            GOSSIP_TLS_KEY: "/etc/gossip/key.pem",
            GOSSIP_PROFILE: "local"
          }
        })))
      )
      assert.deepStrictEqual(options, {
        name: "w1",
        bind: "127.0.0.1:0",
        profile: "local",
        path: "/cluster",
        advertiseUrl: "wss://10.0.0.5:443/cluster",
        tls: { cert: "/etc/gossip/cert.pem", key: "/etc/gossip/key.pem" }
      } as never)
      // a missing certificate file fails the layer, naming it
      const error = yield* Effect.flip(Layer.build(GossipLiveWebSocket)).pipe(
        Effect.scoped,
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({
          env: { GOSSIP_BIND: "127.0.0.1:0", GOSSIP_TLS_CERT: "/nonexistent/cert.pem", GOSSIP_TLS_KEY: "/nonexistent/key.pem" }
        })))
      )
      assert.include(error.message, "/nonexistent/cert.pem")
    }))
})

describe("gossip agent --transport ws flags", () => {
  const parse = (args: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      let parsed: AgentOptions | undefined
      const errors: Array<string> = []
      const command = Command.make("agent", agentFlags, (options) => Effect.sync(() => void (parsed = options)))
      const presenter = CliOutput.layerPresenter({
        present: (event) =>
          Effect.sync(() => {
            if (event._tag === "InvalidInvocation") errors.push(...event.errors.map((e) => e.message))
          })
      })
      yield* Command.runWith(command, { version: "test" })(args).pipe(
        Effect.provide(Layer.mergeAll(NodeServices.layer, presenter)),
        Effect.ignore
      )
      return { parsed, errors }
    })
  const cert = fileURLToPath(new URL("fixtures/cert.pem", import.meta.url))

  it.effect("parse --transport, --path, --advertise-url and the TLS files; URL seeds in every form", () =>
    Effect.gen(function*() {
      const { errors, parsed } = yield* parse([
        "--transport", "ws", "--path", "/g", "--advertise-url", "wss://10.0.0.5:8443/g",
        "--tls-cert", cert, "--tls-key", cert, "--tls-ca", cert, "--tls-server-name", "gossip.test",
        "--join", "srv+https://_gossip._tcp.example.com/g", "--join", "http://seed:80/g"
      ])
      assert.deepStrictEqual(errors, [])
      assert.strictEqual(parsed!.transport, "ws")
      assert.strictEqual(Option.getOrUndefined(parsed!.path), "/g")
      assert.strictEqual(Option.getOrUndefined(parsed!.advertiseUrl), "wss://10.0.0.5:8443/g")
      assert.strictEqual(Option.getOrUndefined(parsed!.tlsCa), cert)
      assert.deepStrictEqual(parsed!.join, ["srv+https://_gossip._tcp.example.com/g", "http://seed:80/g"])
      const join = Schema.decodeUnknownSync(JoinAddress)
      for (const ok of ["ws://10.0.0.1:7946/gossip", "wss://seed/g", "srv+wss://_g._tcp.example.com/x"]) assert.strictEqual(join(ok), ok)
      const url = Schema.decodeUnknownSync(AdvertiseUrl)
      for (const bad of ["ws://seed.example.com/g", "ftp://10.0.0.1/g", "10.0.0.1:80"]) assert.throws(() => url(bad), undefined, undefined, bad)
    }))

  it.effect("a missing TLS file and a bad URL are usage errors; WebSocket flags with --transport udp fail the agent", () =>
    Effect.gen(function*() {
      for (const [args, flag] of [
        [["--transport", "ws", "--tls-cert", "/nonexistent.pem"], "tls-cert"],
        [["--transport", "ws", "--advertise-url", "ws://name/g"], "advertise-url"],
        [["--transport", "tcp"], "transport"],
        [["--path", "gossip"], "path"]
      ] as const) {
        const { errors, parsed } = yield* parse(args)
        assert.isUndefined(parsed, args.join(" "))
        assert.include(errors.join("\n"), flag, args.join(" "))
      }
      const { parsed } = yield* parse(["--path", "/g", "--tls-ca", cert])
      const fields = yield* fieldsOf(nodeLayer(parsed!) as never)
      assert.deepStrictEqual(fields, ["--path", "--tls-ca"])
    }))
})
