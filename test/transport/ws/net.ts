/**
 * Loopback helpers for the WebSocket tests: a plain TCP forwarding proxy, a
 * free port, and polling with a deadline.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Net from "node:net"

/** A TCP proxy on 127.0.0.1 that forwards every connection to `target` (settable later); closed with the scope. */
export const tcpProxy = (target?: number) =>
  Effect.gen(function*() {
    let to = target
    let connections = 0
    const sockets = new Set<Net.Socket>()
    const track = (s: Net.Socket) => {
      sockets.add(s)
      s.once("close", () => sockets.delete(s))
      s.on("error", () => s.destroy())
    }
    const server = Net.createServer((client) => {
      track(client)
      if (to === undefined) return void client.destroy()
      connections++
      const upstream = Net.connect(to, "127.0.0.1")
      track(upstream)
      client.pipe(upstream)
      upstream.pipe(client)
      client.once("close", () => upstream.destroy())
      upstream.once("close", () => client.destroy())
    })
    const port = yield* Effect.acquireRelease(
      Effect.callback<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const s of sockets) s.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port,
      /** Connections forwarded so far. */
      connections: () => connections,
      setTarget: (port: number) => void (to = port)
    }
  })

/** A port free on 127.0.0.1 right now. */
export const freePort: Effect.Effect<number> = Effect.callback((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Polls `check` every 50 ms until it holds; fails naming `what` (and what `describe` says then)
 * after `timeoutMillis`. Deadlines are generous: a loaded machine slows Lifeguard's probes.
 */
export const waitFor = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  what: string,
  timeoutMillis = 45_000,
  describe: Effect.Effect<string, E, R> = Effect.succeed("")
) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep(50)
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeoutMillis,
      orElse: () => Effect.flatMap(describe, (state) => Effect.fail(new Error(`timed out waiting for ${what} ${state}`)))
    })
  )

/** A raw TCP connection to 127.0.0.1:`port` (what it receives is discarded unless read), destroyed with the scope. */
export const rawConnect = (port: number): Effect.Effect<Net.Socket, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket, Error>((resume) => {
      const socket = Net.connect(port, "127.0.0.1")
      // flowing, so that the server's close is seen without anyone reading
      socket.resume()
      socket.once("connect", () => resume(Effect.succeed(socket)))
      socket.once("error", (e) => resume(Effect.fail(e)))
    }),
    (s) => Effect.sync(() => s.destroy())
  )

/** Resolves when `socket` closes; how long it stayed open is up to the server. */
export const closed = (socket: Net.Socket): Effect.Effect<void> =>
  Effect.callback((resume) => {
    if (socket.destroyed) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
  })
