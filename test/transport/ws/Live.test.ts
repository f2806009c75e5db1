/**
 * The WebSocket transport on real loopback sockets: few, bounded tests, every
 * node and proxy closed with its scope, every wait polled with a deadline.
 */
import { NodeHttpServer, NodeWS } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Queue, Scope, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { readFileSync } from "node:fs"
import * as Https from "node:https"
import { fileURLToPath } from "node:url"
import type { GossipWebSocketOptions } from "../../../src/Gossip.ts"
import { Gossip } from "../../../src/Gossip.ts"
import type { MemberEvent } from "../../../src/MemberEvent.ts"
import { Membership } from "../../../src/Membership.ts"
import { Transport } from "../../../src/transport/Transport.ts"
import { WebSocketTransport } from "../../../src/transport/ws/WebSocketTransport.ts"
import { closed, freePort, rawConnect, tcpProxy, waitFor } from "./net.ts"

const KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
const OTHER_KEY = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo="
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)), "utf8")
const CERT = fixture("cert.pem")
const TLS_KEY = fixture("key.pem")
const NAME_CERT = fixture("name-cert.pem")
const NAME_KEY = fixture("name-key.pem")

interface LiveNode {
  readonly name: string
  readonly membership: Membership["Service"]
  readonly ws: WebSocketTransport["Service"]
  readonly scope: Scope.Closeable
  /** Every membership event the node published (a failed or left member may be reaped from the table later). */
  readonly events: Array<MemberEvent>
}

const contextOf = (context: { readonly mapUnsafe: ReadonlyMap<string, unknown> }, name: string, scope: Scope.Closeable) =>
  Effect.gen(function*() {
    const membership = context.mapUnsafe.get(Membership.key) as Membership["Service"]
    const events: Array<MemberEvent> = []
    const stream = yield* membership.subscribeEvents.pipe(Scope.provide(scope))
    yield* stream.pipe(Stream.runForEach((e) => Effect.sync(() => void events.push(e))), Effect.forkIn(scope))
    return {
      name,
      scope,
      membership,
      events,
      ws: context.mapUnsafe.get(WebSocketTransport.key) as WebSocketTransport["Service"]
    } satisfies LiveNode
  })

/** A node with its own server on 127.0.0.1 (a free port), in a scope of its own. */
const start = (name: string, options: Omit<GossipWebSocketOptions, "name"> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(
      // a short push/pull interval bounds how long a member missed by gossip stays unknown
      Gossip.webSocket({ name, profile: "local", pushPullInterval: "2 seconds", bind: "127.0.0.1:0", ...options }),
      scope
    )
    return yield* contextOf(context, name, scope)
  })

const states = (node: LiveNode) =>
  Effect.map(node.membership.currentMembers, (ms) => Object.fromEntries(ms.map((m) => [m.name, m.state])))

/** Waits until every node in `nodes` has published `tag` about `name`; on timeout, says what each saw. */
const allSee = (nodes: ReadonlyArray<LiveNode>, name: string, tag: "MemberFailed" | "MemberLeft") =>
  waitFor(
    Effect.sync(() => nodes.every((n) => n.events.some((e) => e._tag === tag && e.member.name === name))),
    `${tag} of ${name} everywhere`,
    45_000,
    Effect.map(Effect.forEach(nodes, states), (views) => JSON.stringify(views))
  )

/**
 * A graceful leave, then the scope closed at once: `leave` returns when the leave has been
 * written out, a connection still being dialed included.
 */
const leaveAndStop = (node: LiveNode) =>
  Effect.gen(function*() {
    yield* node.membership.leave
    yield* Scope.close(node.scope, Exit.void)
  })

const aliveCount = (node: LiveNode) =>
  Effect.map(node.membership.currentMembers, (ms) => ms.filter((m) => m.state === "alive").length)

describe("WebSocket transport on loopback", () => {
  it.live("5 nodes with AES keys join by ws://, http://, ip:port and host-name seeds; a killed node is detected, a leave is seen", () =>
    Effect.gen(function*() {
      const nodes: Array<LiveNode> = []
      for (let i = 0; i < 5; i++) nodes.push(yield* start(`n${i}`, { encryptionKeys: [KEY] }))
      const seed = nodes[0]!.ws
      assert.strictEqual(yield* nodes[1]!.membership.join([seed.url]), 1)
      assert.strictEqual(yield* nodes[2]!.membership.join([`http://127.0.0.1:${seed.port}/gossip`]), 1)
      assert.strictEqual(yield* nodes[3]!.membership.join([`127.0.0.1:${seed.port}`]), 1)
      // a host name: one URL per address, each dialed by IP with the name as Host
      assert.isAtLeast(yield* nodes[4]!.membership.join([`ws://localhost:${seed.port}/gossip`]), 1)
      yield* waitFor(Effect.map(Effect.forEach(nodes, aliveCount), (c) => c.every((n) => n === 5)), "5 alive everywhere")

      const outsider = yield* start("outsider", { encryptionKeys: [OTHER_KEY] })
      assert.strictEqual((yield* Effect.flip(outsider.membership.join([seed.url])))._tag, "JoinError")

      // killed: its sockets close without a leave
      yield* Scope.close(nodes[4]!.scope, Exit.void)
      yield* allSee(nodes.slice(0, 4), "n4", "MemberFailed")
      yield* leaveAndStop(nodes[3]!)
      yield* allSee(nodes.slice(0, 3), "n3", "MemberLeft")
      for (const n of nodes.slice(0, 3)) {
        // never the other way round: a leave is not taken for a failure, nor a crash for a leave
        assert.isFalse(n.events.some((e) => (e._tag === "MemberFailed" && e.member.name === "n3") || (e._tag === "MemberLeft" && e.member.name === "n4")))
        const stats = yield* n.ws.stats
        assert.deepStrictEqual(Object.values(stats.refused).reduce((a, b) => a + b, 0), 0)
      }
    }).pipe(Effect.scoped), 120_000)

  it.live("the same cluster behind plain TCP forwarding proxies: every member advertises its proxy, all traffic crosses one", () =>
    Effect.gen(function*() {
      const nodes: Array<LiveNode> = []
      const proxies: Array<Effect.Success<ReturnType<typeof tcpProxy>>> = []
      for (let i = 0; i < 5; i++) {
        const proxy = yield* tcpProxy()
        const node = yield* start(`p${i}`, {
          encryptionKeys: [KEY],
          advertiseUrl: `ws://127.0.0.1:${proxy.port}/gossip`,
          // every peer reaches us from the proxies' address
          webSocket: { maxConnectionsPerPeer: 256 }
        })
        proxy.setTarget(node.ws.port)
        nodes.push(node)
        proxies.push(proxy)
      }
      for (let i = 1; i < 5; i++) yield* nodes[i]!.membership.join([`ws://127.0.0.1:${proxies[0]!.port}/gossip`])
      yield* waitFor(Effect.map(Effect.forEach(nodes, aliveCount), (c) => c.every((n) => n === 5)), "5 alive everywhere")
      for (const n of nodes) {
        const self = yield* n.membership.localMember
        assert.strictEqual(self.address, `127.0.0.1:${proxies[nodes.indexOf(n)]!.port}`)
      }
      // every member is probed, and every probe goes through the target's proxy
      yield* waitFor(Effect.sync(() => proxies.every((p) => p.connections() > 0)), "traffic through every proxy")
      yield* Scope.close(nodes[4]!.scope, Exit.void)
      yield* allSee(nodes.slice(0, 4), "p4", "MemberFailed")
      yield* leaveAndStop(nodes[3]!)
      yield* allSee(nodes.slice(0, 3), "p3", "MemberLeft")
    }).pipe(Effect.scoped), 120_000)

  it.live("bad input is refused, counted by reason, and the node keeps serving", () =>
    Effect.gen(function*() {
      const node = yield* start("target", {
        webSocket: { handshakeTimeout: 1000, maxConnectionsPerPeer: 6, maxFrameSize: 70_000 }
      })
      const port = node.ws.port
      const refused = Effect.map(node.ws.stats, (s) => s.refused)

      // a flood of idle connections from one source: 6 kept, the rest closed at accept
      const flood = yield* Effect.scoped(Effect.gen(function*() {
        const sockets = yield* Effect.forEach(Array.from({ length: 300 }), () => rawConnect(port), { concurrency: "unbounded" })
        yield* waitFor(Effect.map(refused, (r) => r.PeerLimit === 294), "294 connections refused")
        // the 6 admitted get nothing complete to parse: cut off after handshakeTimeout
        yield* Effect.forEach(sockets, closed, { discard: true })
        return sockets.length
      }))
      assert.strictEqual(flood, 300)
      yield* waitFor(Effect.map(refused, (r) => r.HandshakeTimeout === 6), "the 6 idle ones timed out")

      // a request that never finishes its headers: 408, counted as a slow handshake
      const slow = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* rawConnect(port)
        let answer = ""
        socket.on("data", (d) => (answer += d))
        socket.write("GET /gossip HTTP/1.1\r\nHost: x\r\n")
        yield* closed(socket)
        return answer
      }))
      assert.include(slow, "408")

      // the wrong path, and the right path without an upgrade
      const wrong = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/elsewhere`))
      assert.strictEqual(wrong.status, 404)
      const plain = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/gossip`))
      assert.strictEqual(plain.status, 426)
      const wrongUpgrade = yield* wsSession(`ws://127.0.0.1:${port}/nope`, [])
      assert.include(wrongUpgrade.error, "404")

      // upgraded, then garbage, an oversized frame, or no hello at all
      const hello = Uint8Array.of(0x01, 0x01, 0x1f, 0x4a, 0x04, 127, 0, 0, 9)
      assert.strictEqual((yield* wsSession(`ws://127.0.0.1:${port}/gossip`, ["not binary"])).code, 1003)
      assert.strictEqual((yield* wsSession(`ws://127.0.0.1:${port}/gossip`, [hello, Uint8Array.of(0x66, 1, 2)])).code, 1002)
      assert.strictEqual((yield* wsSession(`ws://127.0.0.1:${port}/gossip`, [hello, new Uint8Array(100_000)])).code, 1009)
      assert.strictEqual((yield* wsSession(`ws://127.0.0.1:${port}/gossip`, [])).code, 1008)

      yield* waitFor(Effect.map(refused, (r) => r.FrameTooLarge === 1 && r.HandshakeTimeout === 8), "all refusals counted")
      assert.deepInclude(yield* refused, {
        PeerLimit: 294,
        HandshakeTimeout: 8,
        WrongPath: 2,
        NotUpgrade: 1,
        BadFrame: 2,
        FrameTooLarge: 1
      })
      // still serving: a member joins and is seen
      const peer = yield* start("peer")
      assert.strictEqual(yield* peer.membership.join([node.ws.url]), 1)
      yield* waitFor(Effect.map(aliveCount(node), (n) => n === 2), "the peer alive at the target")
    }).pipe(Effect.scoped), 30_000)

  it.live("a 1 MiB stream each way between two transports, intact", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const a = yield* Layer.buildWithScope(WebSocketTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 }), scope)
      const b = yield* Layer.buildWithScope(WebSocketTransport.layerNode({ bindAddress: "127.0.0.1", bindPort: 0 }), scope)
      const ta = a.mapUnsafe.get(Transport.key) as Transport["Service"]
      const tb = b.mapUnsafe.get(Transport.key) as Transport["Service"]
      const wb = b.mapUnsafe.get(WebSocketTransport.key) as WebSocketTransport["Service"]
      const payload = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 251) & 0xff)
      const readAll = (read: Effect.Effect<Uint8Array, unknown>) =>
        Effect.gen(function*() {
          const parts: Array<Uint8Array> = []
          for (let got = 0; got < payload.length;) {
            const chunk = yield* read
            parts.push(chunk)
            got += chunk.length
          }
          return Buffer.concat(parts)
        })
      yield* Effect.forkScoped(Effect.gen(function*() {
        const conn = yield* Queue.take(tb.streams)
        yield* conn.write(yield* readAll(conn.read))
      }))
      const echoed = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* ta.dial(`127.0.0.1:${wb.port}`, 2000)
        yield* conn.write(payload)
        return yield* readAll(conn.read)
      }))
      assert.isTrue(Buffer.from(payload).equals(echoed))
    }).pipe(Effect.scoped, Effect.timeout("20 seconds")))

  it.live("mounted on the application's HTTPS server (one port for both), standalone wss nodes; certificates checked, by IP or by tls.serverName", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const tls = { ca: CERT }
      const app = HttpRouter.serve(
        Layer.mergeAll(HttpRouter.add("GET", "/health", HttpServerResponse.text("ok")), WebSocketTransport.route),
        { disableLogger: true, disableListenLog: true }
      ).pipe(
        Layer.provideMerge(Gossip.webSocketMounted({
          name: "app",
          profile: "local",
          advertiseUrl: `wss://127.0.0.1:${port}/gossip`,
          tls,
          // one peer here, from 127.0.0.1, with two connections: the seed's (its URL) and the member's (ip:port)
          webSocket: { maxConnectionsPerPeer: 2 }
        })),
        Layer.provideMerge(NodeHttpServer.layer(() => Https.createServer({ cert: CERT, key: TLS_KEY }), { host: "127.0.0.1", port }))
      )
      const appScope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(appScope, Exit.void))
      const mounted = yield* contextOf(yield* Layer.buildWithScope(app, appScope), "app", appScope)
      assert.strictEqual(mounted.ws.url, `wss://127.0.0.1:${port}/gossip`)

      const standalone = yield* start("standalone", { tls: { cert: CERT, key: TLS_KEY, ca: CERT } })
      assert.match(standalone.ws.url, /^wss:\/\/127\.0\.0\.1:\d+\/gossip$/)
      assert.strictEqual(yield* standalone.membership.join([`https://127.0.0.1:${port}/gossip`]), 1)
      yield* waitFor(Effect.map(Effect.forEach([mounted, standalone], aliveCount), (c) => c.every((n) => n === 2)), "both alive both ways")
      const health = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) =>
          Https.get({ host: "127.0.0.1", port, path: "/health", ca: CERT }, (res) => {
            let body = ""
            res.on("data", (d) => (body += d))
            res.on("end", () => resolve(body))
          }).on("error", reject)
        )
      )
      assert.strictEqual(health, "ok")

      // mounted, the limits are checked at the upgrade: 429, counted
      yield* waitFor(Effect.map(mounted.ws.stats, (st) => st.inboundOpen === 2), "both connections of the peer")
      const extra = yield* wsSession(`wss://127.0.0.1:${port}/gossip`, [], { ca: CERT })
      assert.include(extra.error, "429")
      assert.strictEqual((yield* mounted.ws.stats).refused.PeerLimit, 1)

      // a node that does not trust the certificate cannot join
      const doubter = yield* start("doubter", { tls: { cert: CERT, key: TLS_KEY } })
      assert.strictEqual((yield* Effect.flip(doubter.membership.join([`https://127.0.0.1:${port}/gossip`])))._tag, "JoinError")

      // a certificate that names no IP: members dialed by IP are checked against tls.serverName
      const named = { cert: NAME_CERT, key: NAME_KEY, ca: NAME_CERT }
      // a short handshakeTimeout: the connections must outlive it once upgraded
      const n1 = yield* start("named-1", { tls: { ...named, serverName: "gossip.test" }, webSocket: { handshakeTimeout: 300 } })
      const n2 = yield* start("named-2", { tls: { ...named, serverName: "gossip.test" }, webSocket: { handshakeTimeout: 300 } })
      assert.strictEqual(yield* n2.membership.join([`127.0.0.1:${n1.ws.port}`]), 1)
      yield* Effect.sleep(1000)
      for (const n of [n1, n2]) {
        const st = yield* n.ws.stats
        assert.deepInclude(st, { inboundOpen: 1, connectFailures: 0 }, n.name)
        assert.strictEqual(st.refused.HandshakeTimeout, 0, n.name)
      }
      const unnamed = yield* start("unnamed", { tls: named })
      assert.strictEqual((yield* Effect.flip(unnamed.membership.join([`127.0.0.1:${n1.ws.port}`])))._tag, "JoinError")
    }).pipe(Effect.scoped), 30_000)
})

/**
 * Opens a WebSocket to `url` with the `ws` client, sends `messages`, and reports how the
 * server ended it (close code) or refused it (error).
 */
const wsSession = (url: string, messages: ReadonlyArray<Uint8Array | string>, options: { readonly ca?: string } = {}) =>
  Effect.callback<{ readonly code?: number; readonly error?: string }>((resume) => {
    const ws = new NodeWS.WebSocket(url, options)
    const timer = setTimeout(() => ws.terminate(), 10_000)
    ws.on("open", () => {
      for (const m of messages) ws.send(m)
    })
    ws.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code }))
    })
    ws.on("error", (e) => {
      clearTimeout(timer)
      resume(Effect.succeed({ error: e.message }))
    })
  })
