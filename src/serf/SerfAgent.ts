/**
 * What a serf agent does above memberlist, for a node of ours in a serf
 * cluster: user events and queries with serf's Lamport clocks and
 * de-duplication, answers to queries sent directly to their origin (acks
 * included), serf's internal queries (`_serf_ping`, `_serf_conflict` and the
 * key-management queries, which change this node's keyring and keyring
 * file), and the re-gossip of everything serf expects each member to pass on
 * (intents, events, queries) — the first copy only, as serf does.
 *
 * Everything received is logged as it happens (user events and queries at
 * info, internal queries and dropped messages at debug), which is what
 * `gossip monitor` streams. Malformed serf messages, filters and key
 * requests are counted and dropped.
 */
import { type Cause, Clock, Context, Effect, Layer, Queue, Random, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { addressOf } from "../Address.ts"
import { ClusterKeyring } from "../Gossip.ts"
import type { Member } from "../Member.ts"
import { Membership, type UserMessage } from "../Membership.ts"
import { decodeBase64Key, type Keyring, type KeyringError } from "../security/Keyring.ts"
import { DEFAULT_BUFFER_SIZE, EventBuffer, LamportClock, QueryBuffer } from "./Clocks.ts"
import {
  INTERNAL_QUERY_PREFIX,
  type KeyOperation,
  type KeyOperationResult,
  keyQueryName,
  keyringErrorMessage,
  KeyResponseTally
} from "./KeyManager.ts"
import { writeKeyringFile } from "./KeyringFile.ts"
import {
  decodeSerfMessage,
  encodeQuery,
  encodeQueryResponse,
  encodeRelay,
  encodeUserEvent,
  type Query,
  type QueryResponse,
  SerfMessageType
} from "./Messages.ts"
import { type PendingQuery, PendingQueries, type QueryAnswer } from "./PendingQueries.ts"
import {
  decodeKeyRequest,
  encodeConflictResponse,
  encodeFilter,
  encodeKeyRequest,
  encodeKeyResponse,
  type KeyResponse,
  type QueryFilter,
  SerfStatus,
  shouldProcessQuery
} from "./QueryPayloads.ts"
import { relayKey, Seen } from "./Relay.ts"
import { decodeTags } from "./Tags.ts"

/** serf's `UserEventSizeLimit` default: name + payload, and the encoded event. */
export const USER_EVENT_SIZE_LIMIT = 512
/** serf's `QuerySizeLimit` default (the encoded query). */
export const QUERY_SIZE_LIMIT = 1024
/** serf's `QueryResponseSizeLimit` default (the encoded response). */
export const QUERY_RESPONSE_SIZE_LIMIT = 1024
/** serf's `QueryTimeoutMult` default. */
export const QUERY_TIMEOUT_MULT = 16

/** Why an event, a query or a key operation could not be sent. */
export class SerfError extends Schema.TaggedError<SerfError>()("SerfError", {
  reason: Schema.Literals(["TooLarge", "InvalidName", "InvalidKey", "Send"]),
  message: Schema.String
}) {}

/** What to ask in a query. */
export interface QueryRequest {
  readonly name: string
  readonly payload: Uint8Array | null
  /** How long answers are collected; serf's default (gossip interval × 16 × ⌈log10(n+1)⌉) when absent. */
  readonly timeoutMillis?: number
  /** Only these members answer. */
  readonly nodes?: ReadonlyArray<string>
  /** Only members whose tag matches the regular expression answer. */
  readonly tags?: Readonly<Record<string, string>>
  /** Ask every member that processes the query for a delivery ack. */
  readonly requestAck?: boolean
  /** Ask responders to send copies of their answers through this many other members (0 to 5). */
  readonly relayFactor?: number
}

/** A query on its way: its identity and the answers as they come, until the deadline. */
export interface QueryHandle {
  readonly ltime: number
  readonly id: number
  readonly timeoutMillis: number
  /** Members alive or suspect when it was sent, this node included. */
  readonly numNodes: number
  /** Acks and responses, each member at most once of each; ends at the deadline. */
  readonly answers: Stream.Stream<QueryAnswer>
}

/** The agent's serf counters and clocks. */
export interface SerfStats {
  readonly eventClock: number
  readonly queryClock: number
  readonly eventsSent: number
  readonly eventsReceived: number
  readonly queriesSent: number
  readonly queriesReceived: number
  readonly internalQueries: number
  /** Events and queries seen before, or older than the recent-message buffers. */
  readonly ignored: number
  readonly acksSent: number
  readonly responsesSent: number
  /** Acks and responses to our queries that were accepted. */
  readonly answersReceived: number
  /** Acks and responses refused: unknown or finished query, duplicate. */
  readonly answersRefused: number
  /** Relayed responses forwarded to their destination. */
  readonly forwarded: number
  /** Serf messages, filters or key requests that did not decode, dropped. */
  readonly malformed: number
  /** Answers that could not be sent to the query's origin. */
  readonly sendFailures: number
}

/** One of serf's clocks, as a snapshot or a push/pull exchange sees it. */
export interface SerfClock {
  /** The current value: the next event (query) this node sends carries it. */
  readonly current: Effect.Effect<number>
  /** Moves the clock past `ltime` (a value restored or learned from another member). */
  witness(ltime: number): Effect.Effect<void>
}

type Counters = { -readonly [K in Exclude<keyof SerfStats, "eventClock" | "queryClock">]: number }

/** The serf side of an agent. */
export class SerfAgent extends Context.Service<SerfAgent, {
  /** Sends a user event (name + payload ≤ 512 bytes) to the cluster; returns its LTime. */
  userEvent(name: string, payload: Uint8Array | null, coalesce: boolean): Effect.Effect<number, SerfError>
  /** Sends a query; the answers are collected until the deadline or until the scope closes. */
  query(request: QueryRequest): Effect.Effect<QueryHandle, SerfError, Scope.Scope>
  /** Runs a key operation on every member (this one included) and tallies the answers, as `serf keys`. */
  keys(operation: KeyOperation, key: string | undefined): Effect.Effect<KeyOperationResult, SerfError>
  /** Counters and clocks. */
  readonly stats: Effect.Effect<SerfStats>
  /** serf's event and query Lamport clocks, to persist them and to move them past values seen elsewhere. */
  readonly clocks: {
    readonly event: SerfClock
    readonly query: SerfClock
  }
}>()("effect-gossip/serf/SerfAgent") {
  /** The serf agent of this node, for as long as the layer lives. */
  static readonly layer = (options: SerfAgentOptions = {}): Layer.Layer<SerfAgent, never, Membership | ClusterKeyring> =>
    Layer.effect(SerfAgent, make(options))
}

/** How the serf agent runs. */
export interface SerfAgentOptions {
  /** serf's keyring file: rewritten after every change the key-management queries make. */
  readonly keyringFile?: string
  /** Recent events and queries remembered for de-duplication (serf's 512 by default). */
  readonly bufferSize?: number
}

const textDecoder = new TextDecoder("utf-8", { fatal: true })

/** Log fields for a payload: as text when it is printable UTF-8, else in base64. */
export const payloadFields = (payload: Uint8Array | null): Record<string, string> => {
  if (payload === null || payload.length === 0) return { payload: "" }
  try {
    const text = textDecoder.decode(payload)
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return { payload: text }
  } catch {
    // not UTF-8
  }
  return { payloadBase64: Buffer.from(payload).toString("base64") }
}

const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")

/** IPv4 as 4 bytes, also when it came IPv4-mapped in 16. */
const normalizeIp = (ip: Uint8Array | null): Uint8Array => {
  if (ip === null) return new Uint8Array(0)
  if (ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) {
    return ip.subarray(12)
  }
  return ip
}

const sameIp = (a: Uint8Array | null, b: Uint8Array | null): boolean => {
  const x = normalizeIp(a)
  const y = normalizeIp(b)
  return x.length === y.length && x.every((v, i) => v === y[i])
}

const isUp = (m: Member) => m.state === "alive" || m.state === "suspect"

const serfStatus = (m: Member): number =>
  m.state === "alive" || m.state === "suspect" ? SerfStatus.alive : m.state === "left" ? SerfStatus.left : SerfStatus.failed

/** serf's default query timeout for a cluster of `members`. */
export const defaultQueryTimeout = (gossipIntervalMillis: number, members: number): number =>
  gossipIntervalMillis * QUERY_TIMEOUT_MULT * Math.max(1, Math.ceil(Math.log10(members + 1)))

const make = (options: SerfAgentOptions) =>
  Effect.gen(function*() {
    const membership = yield* Membership
    const keyring: Keyring | undefined = yield* ClusterKeyring
    const selfName = membership.config.name
    const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE

    const eventClock = new LamportClock()
    const queryClock = new LamportClock()
    // serf starts its clocks at 1, so that LTime 0 never looks new
    eventClock.increment()
    queryClock.increment()
    const events = new EventBuffer(bufferSize)
    const queries = new QueryBuffer(bufferSize)
    const pending = new PendingQueries()
    const intents = new Seen(8192)
    const counters: Counters = {
      eventsSent: 0,
      eventsReceived: 0,
      queriesSent: 0,
      queriesReceived: 0,
      internalQueries: 0,
      ignored: 0,
      acksSent: 0,
      responsesSent: 0,
      answersReceived: 0,
      answersRefused: 0,
      forwarded: 0,
      malformed: 0,
      sendFailures: 0
    }

    const gossipOn = (raw: Uint8Array) =>
      membership.broadcastUnrelayed(raw).pipe(
        Effect.catch((e) => Effect.logDebug("serf message not re-gossiped", e.message))
      )

    const malformed = (what: string, fields: Record<string, unknown>) =>
      Effect.sync(() => void counters.malformed++).pipe(
        Effect.andThen(Effect.logDebug(`malformed ${what} dropped`)),
        Effect.annotateLogs({ event: "malformed", ...fields })
      )

    /** The member a query came from: by its name, else by its address. */
    const originOf = (q: Query, members: ReadonlyArray<Member>): Member | undefined =>
      members.find((m) => isUp(m) && q.sourceNode !== "" && m.name === q.sourceNode) ??
        members.find((m) => isUp(m) && sameIp(m.addr, q.addr) && m.port === q.port)

    const isFromSelf = (q: Query, self: Member): boolean =>
      q.sourceNode === self.name || (q.sourceNode === "" && sameIp(q.addr, self.addr) && q.port === self.port)

    const answerLocally = (response: QueryResponse) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const answer = pending.handle(response, now)
          if (typeof answer === "string") counters.answersRefused++
          else counters.answersReceived++
        }))

    /** serf's `relayResponse`: copies of an answer through `relayFactor` random other alive members. */
    const relayAnswer = (q: Query, raw: Uint8Array, members: ReadonlyArray<Member>) =>
      Effect.gen(function*() {
        if (q.relayFactor === 0 || members.length < q.relayFactor + 1 || q.addr === null) return
        const candidates = members.filter((m) => m.state === "alive" && m.name !== selfName && m.protocolMax >= 5)
        const chosen = (yield* Random.shuffle(candidates)).slice(0, q.relayFactor)
        const wrapped = encodeRelay({ addr: q.addr, port: q.port, name: q.sourceNode }, raw)
        if (wrapped.length > QUERY_RESPONSE_SIZE_LIMIT) return
        yield* Effect.forEach(chosen, (m) => Effect.ignore(membership.sendBestEffort(m.name, wrapped)), { discard: true })
      })

    /** Sends an ack or a response to the query's origin (in process when that is this node). */
    const answer = (q: Query, payload: Uint8Array | null, ack: boolean) =>
      Effect.gen(function*() {
        const response: QueryResponse = {
          _tag: "QueryResponse",
          ltime: q.ltime,
          id: q.id,
          from: selfName,
          flags: ack ? 1 : 0,
          payload
        }
        const raw = encodeQueryResponse(response)
        if (!ack && raw.length > QUERY_RESPONSE_SIZE_LIMIT) {
          return yield* Effect.logWarning("query response not sent").pipe(
            Effect.annotateLogs({ reason: `response exceeds limit of ${QUERY_RESPONSE_SIZE_LIMIT} bytes`, query: q.name })
          )
        }
        if (ack) counters.acksSent++
        else counters.responsesSent++
        const self = yield* membership.localMember
        if (isFromSelf(q, self)) return yield* answerLocally(response)
        const members = yield* membership.currentMembers
        // as serf: to the address the query carries (the asker may not be the member we hold by
        // that name, as in a name conflict); by name only when it carries no usable address
        const ip = normalizeIp(q.addr)
        const origin = (ip.length === 4 || ip.length === 16) && q.port > 0
          ? addressOf(ip, q.port)
          : originOf(q, members)?.address
        if (origin === undefined) {
          counters.sendFailures++
          return yield* Effect.logDebug("query origin unknown, answer not sent").pipe(
            Effect.annotateLogs({ query: q.name, from: q.sourceNode })
          )
        }
        yield* membership.sendToAddress(origin, raw).pipe(
          Effect.catch((e) =>
            Effect.sync(() => void counters.sendFailures++).pipe(
              Effect.andThen(Effect.logDebug("query answer not sent", e.message))
            )
          )
        )
        yield* relayAnswer(q, raw, members)
      })

    // ---------------------------------------------------------------------------------------------
    // Internal queries, one at a time in arrival order (a use-key must not overtake its install-key)

    const keyResponse = (result: boolean, message: string, keys: ReadonlyArray<string> = [], primaryKey = ""): KeyResponse => ({
      result,
      message,
      keys,
      primaryKey
    })

    const persistKeyring = (ring: Keyring) =>
      options.keyringFile === undefined
        ? Effect.void
        : writeKeyringFile(options.keyringFile, ring.keys.map((k) => Buffer.from(k).toString("base64")))

    const changeKeys = (q: Query, operation: "install" | "use" | "remove") =>
      Effect.gen(function*() {
        const key = decodeKeyRequest(q.payload)
        if (key === undefined) {
          yield* malformed("key request", { query: q.name })
          return keyResponse(false, "Failed to decode key request")
        }
        if (keyring === undefined) {
          yield* Effect.logError("No keyring to modify (encryption not enabled)")
          return keyResponse(false, "No keyring to modify (encryption not enabled)")
        }
        yield* Effect.logInfo(`received ${operation}-key query`)
        const change = operation === "install"
          ? keyring.install(key)
          : operation === "use"
          ? keyring.use(key)
          : keyring.remove(key)
        const changed = yield* Effect.result(change)
        if (changed._tag === "Failure") {
          const message = keyringErrorMessage(changed.failure)
          yield* Effect.logError(`${operation}-key failed`).pipe(Effect.annotateLogs({ reason: message }))
          return keyResponse(false, message)
        }
        const written = yield* Effect.result(persistKeyring(keyring))
        if (written._tag === "Failure") {
          yield* Effect.logError("keyring file not written").pipe(Effect.annotateLogs({ reason: written.failure.message }))
          return keyResponse(false, written.failure.message)
        }
        return keyResponse(true, "")
      })

    const listKeys = Effect.gen(function*() {
      if (keyring === undefined) {
        yield* Effect.logError("Keyring is empty (encryption not enabled)")
        return keyResponse(false, "Keyring is empty (encryption not enabled)")
      }
      yield* Effect.logInfo("received list-keys query")
      const encoded = keyring.keys.map((k) => Buffer.from(k).toString("base64"))
      return keyResponse(true, "", encoded, encoded[0] ?? "")
    })

    /** A key response cut down (keys dropped from the end, as serf does) until the answer fits. */
    const fitted = (q: Query, response: KeyResponse): Uint8Array => {
      let current = response
      for (let n = response.keys.length;; n--) {
        const payload = encodeKeyResponse(current)
        const size = encodeQueryResponse({ ltime: q.ltime, id: q.id, from: selfName, flags: 0, payload }).length
        if (size <= QUERY_RESPONSE_SIZE_LIMIT || n === 0) return payload
        current = {
          ...response,
          keys: response.keys.slice(0, n - 1),
          message: `truncated key list response, showing first ${n - 1} of ${response.keys.length} keys`
        }
      }
    }

    const conflict = (q: Query) =>
      Effect.gen(function*() {
        const node = q.payload === null ? "" : new TextDecoder().decode(q.payload)
        // serf does not answer about itself: the node in conflict is the one asking
        if (node === selfName) return
        yield* Effect.logDebug("conflict resolution query").pipe(Effect.annotateLogs({ node }))
        const member = (yield* membership.currentMembers).find((m) => m.name === node)
        const described = member === undefined ? undefined : {
          name: member.name,
          addr: member.addr,
          port: member.port,
          tags: decodeTags(member.meta),
          status: serfStatus(member),
          protocolMin: member.protocolMin,
          protocolMax: member.protocolMax,
          protocolCur: member.protocolCur,
          delegateMin: member.delegateMin,
          delegateMax: member.delegateMax,
          delegateCur: member.delegateCur
        }
        yield* answer(q, encodeConflictResponse(described), false)
      })

    const internal = (q: Query) =>
      Effect.gen(function*() {
        counters.internalQueries++
        yield* Effect.logDebug("internal query").pipe(
          Effect.annotateLogs({ event: "internal-query", name: q.name, from: q.sourceNode, ltime: q.ltime })
        )
        switch (q.name.slice(INTERNAL_QUERY_PREFIX.length)) {
          case "ping":
            return // the ack, sent already, is the answer
          case "conflict":
            return yield* conflict(q)
          case "install-key":
            return yield* answer(q, encodeKeyResponse(yield* changeKeys(q, "install")), false)
          case "use-key":
            return yield* answer(q, encodeKeyResponse(yield* changeKeys(q, "use")), false)
          case "remove-key":
            return yield* answer(q, encodeKeyResponse(yield* changeKeys(q, "remove")), false)
          case "list-keys":
            return yield* answer(q, fitted(q, yield* listKeys), false)
          default:
            return yield* Effect.logWarning("unhandled internal query").pipe(Effect.annotateLogs({ name: q.name }))
        }
      })

    const internalQueue = yield* Queue.bounded<Query>(256)
    yield* Queue.take(internalQueue).pipe(
      Effect.flatMap((q) => internal(q).pipe(Effect.catchCause((cause) => Effect.logError("internal query failed", cause)))),
      Effect.forever,
      Effect.forkScoped
    )

    // ---------------------------------------------------------------------------------------------
    // Receiving

    /** serf's `handleQuery`: de-duplicate, re-gossip, filter, ack, then deliver or answer internally. */
    const handleQuery = (q: Query, raw: Uint8Array, local: boolean) =>
      Effect.gen(function*() {
        if (queries.accept(queryClock, q.ltime, q.id) !== "new") {
          counters.ignored++
          return
        }
        if (!local && (q.flags & 2) === 0) yield* gossipOn(raw)
        const self = yield* membership.localMember
        const process = shouldProcessQuery(q.filters, selfName, decodeTags(self.meta))
        if (process === "malformed") return yield* malformed("query filter", { query: q.name, from: q.sourceNode })
        if (!process) return
        if ((q.flags & 1) !== 0) yield* answer(q, null, true)
        if (q.name.startsWith(INTERNAL_QUERY_PREFIX)) {
          if (!Queue.offerUnsafe(internalQueue, q)) yield* Effect.logWarning("internal query dropped: queue full")
          return
        }
        counters.queriesReceived++
        yield* Effect.logInfo("query").pipe(
          Effect.annotateLogs({
            event: "query",
            name: q.name,
            ...payloadFields(q.payload),
            from: q.sourceNode,
            ltime: q.ltime,
            id: q.id
          })
        )
      })

    const onMessage = (message: UserMessage) =>
      Effect.gen(function*() {
        const payload = message.payload
        // other applications' messages never start with a serf type byte; an empty one is nobody's
        if (payload.length === 0) return yield* malformed("serf message", { from: message.from, size: 0 })
        if (payload[0]! > SerfMessageType.relay) return
        const serf = decodeSerfMessage(payload)
        if (serf === undefined) {
          return yield* malformed("serf message", { from: message.from, type: payload[0], size: payload.length })
        }
        switch (serf._tag) {
          case "Leave":
          case "Join": {
            const key = relayKey(serf)
            if (key !== undefined && intents.add(key)) yield* gossipOn(payload)
            return
          }
          case "UserEvent": {
            if (events.accept(eventClock, serf.ltime, serf.name, serf.payload) !== "new") {
              counters.ignored++
              return
            }
            counters.eventsReceived++
            yield* gossipOn(payload)
            return yield* Effect.logInfo("user event").pipe(
              Effect.annotateLogs({
                event: "user-event",
                name: serf.name,
                ...payloadFields(serf.payload),
                ltime: serf.ltime,
                coalesce: serf.cc
              })
            )
          }
          case "Query":
            return yield* handleQuery(serf, payload, false)
          case "QueryResponse":
            return yield* answerLocally(serf)
          case "Relay": {
            const inner = decodeSerfMessage(serf.message)
            // only answers are relayed by serf; anything else is not ours to pass on
            if (inner?._tag !== "QueryResponse") return yield* malformed("relayed message", { from: message.from })
            if (serf.destName === selfName) return yield* answerLocally(inner)
            const ip = normalizeIp(serf.destAddr)
            const to = (ip.length === 4 || ip.length === 16) && serf.destPort > 0
              ? addressOf(ip, serf.destPort)
              : (yield* membership.currentMembers).find((m) => isUp(m) && m.name === serf.destName)?.address
            if (to === undefined) return
            counters.forwarded++
            return yield* Effect.ignore(membership.sendToAddress(to, serf.message))
          }
          default:
            return
        }
      })

    const messages = yield* membership.subscribeMessages
    yield* messages.pipe(
      Stream.runForEach((m) =>
        onMessage(m).pipe(Effect.catchCause((cause) => Effect.logWarning("serf message not handled", cause)))
      ),
      Effect.forkScoped
    )

    // ---------------------------------------------------------------------------------------------
    // Sending

    const userEvent = Effect.fnUntraced(function*(name: string, payload: Uint8Array | null, coalesce: boolean) {
      const size = utf8Length(name) + (payload?.length ?? 0)
      if (size > USER_EVENT_SIZE_LIMIT) {
        return yield* new SerfError({
          reason: "TooLarge",
          message: `user event exceeds configured limit of ${USER_EVENT_SIZE_LIMIT} bytes before encoding`
        })
      }
      const ltime = eventClock.time()
      const raw = encodeUserEvent({ ltime, name, payload, cc: coalesce })
      if (raw.length > USER_EVENT_SIZE_LIMIT) {
        return yield* new SerfError({
          reason: "TooLarge",
          message: `encoded user event exceeds configured limit of ${USER_EVENT_SIZE_LIMIT} bytes after encoding`
        })
      }
      yield* membership.broadcastUnrelayed(raw).pipe(
        Effect.mapError((e) => new SerfError({ reason: "Send", message: e.message }))
      )
      eventClock.increment()
      events.accept(eventClock, ltime, name, payload)
      counters.eventsSent++
      yield* Effect.logInfo("user event").pipe(
        Effect.annotateLogs({ event: "user-event", name, ...payloadFields(payload), ltime, coalesce, origin: "local" })
      )
      return ltime
    })

    const query = Effect.fnUntraced(function*(request: QueryRequest) {
      const self = yield* membership.localMember
      const numNodes = yield* membership.numMembers
      const timeoutMillis = request.timeoutMillis ?? defaultQueryTimeout(membership.config.gossipInterval, numNodes)
      const filters: Array<Uint8Array> = []
      if (request.nodes !== undefined && request.nodes.length > 0) {
        filters.push(encodeFilter({ _tag: "Node", names: request.nodes }))
      }
      for (const [tag, expr] of Object.entries(request.tags ?? {})) {
        filters.push(encodeFilter({ _tag: "Tag", tag, expr } satisfies QueryFilter))
      }
      const wantsAck = request.requestAck ?? false
      const id = yield* Random.nextIntBetween(0, 0x7fffffff)
      const q: Query = {
        _tag: "Query",
        ltime: queryClock.time(),
        id,
        addr: self.addr,
        port: self.port,
        sourceNode: self.name,
        filters: filters.length === 0 ? null : filters,
        flags: wantsAck ? 1 : 0,
        relayFactor: Math.max(0, Math.min(5, request.relayFactor ?? 0)),
        timeout: Math.round(timeoutMillis * 1e6),
        name: request.name,
        payload: request.payload
      }
      const raw = encodeQuery(q)
      if (raw.length > QUERY_SIZE_LIMIT) {
        return yield* new SerfError({ reason: "TooLarge", message: `query exceeds limit of ${QUERY_SIZE_LIMIT} bytes` })
      }
      // a bound on what a query collects: each member acks and responds at most once; the
      // pending query refuses (and counts) answers past it, so the queue never fills
      const maxAnswers = 2 * (numNodes + 64)
      const answers = yield* Queue.dropping<QueryAnswer, Cause.Done>(maxAnswers)
      const now = yield* Clock.currentTimeMillis
      const entry: PendingQuery = pending.register(
        { ltime: q.ltime, id, deadline: now + timeoutMillis, wantsAck },
        maxAnswers,
        (a) => void Queue.offerUnsafe(answers, a)
      )
      const close = Effect.sync(() => {
        pending.close(entry.ltime)
        Queue.endUnsafe(answers)
      })
      yield* Effect.addFinalizer(() => close)
      yield* Effect.sleep(timeoutMillis).pipe(Effect.andThen(close), Effect.forkScoped)
      yield* handleQuery(q, raw, true)
      yield* membership.broadcastUnrelayed(raw).pipe(
        Effect.mapError((e) => new SerfError({ reason: "Send", message: e.message }))
      )
      counters.queriesSent++
      return { ltime: q.ltime, id, timeoutMillis, numNodes, answers: Stream.fromQueue(answers) } satisfies QueryHandle
    })

    const keys = (operation: KeyOperation, key: string | undefined) =>
      Effect.gen(function*() {
        const raw = operation === "list" ? new Uint8Array(0) : yield* decodeBase64Key(key ?? "").pipe(
          Effect.mapError((e: KeyringError) => new SerfError({ reason: "InvalidKey", message: e.message }))
        )
        const handle = yield* query({ name: keyQueryName[operation], payload: encodeKeyRequest(raw) })
        const tally = new KeyResponseTally(operation, handle.numNodes)
        yield* handle.answers.pipe(
          Stream.takeUntil((a) => {
            if (a._tag === "Response") tally.add(a.from, a.payload)
            return tally.complete
          }),
          Stream.runDrain
        )
        return tally.result()
      }).pipe(Effect.scoped)

    const stats = Effect.sync((): SerfStats => ({
      eventClock: eventClock.time(),
      queryClock: queryClock.time(),
      ...counters
    }))

    const clocks = {
      event: { current: Effect.sync(() => eventClock.time()), witness: (t: number) => Effect.sync(() => eventClock.witness(t)) },
      query: { current: Effect.sync(() => queryClock.time()), witness: (t: number) => Effect.sync(() => queryClock.witness(t)) }
    }

    return SerfAgent.of({ userEvent, query, keys, stats, clocks })
  })
