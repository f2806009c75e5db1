/**
 * The queries this node has sent and is still collecting answers for, as
 * serf keeps them: one per query LTime, open until its deadline, each member
 * counted once as an ack and once as a responder. Plain synchronous data; the
 * agent hands each accepted answer to the query's sink.
 */
import type { QueryResponse } from "./Messages.ts"

/** An answer to a query of ours: a delivery acknowledgement or a response with a payload. */
export type QueryAnswer =
  | { readonly _tag: "Ack"; readonly from: string }
  | { readonly _tag: "Response"; readonly from: string; readonly payload: Uint8Array }

/** Why an answer was not passed on. */
export type AnswerRefusal = "unknown-query" | "id-mismatch" | "finished" | "duplicate" | "unwanted-ack" | "full"

/** One open query. */
export interface PendingQuery {
  readonly ltime: number
  readonly id: number
  /** Clock millis after which answers are refused. */
  readonly deadline: number
  readonly wantsAck: boolean
  readonly acks: ReadonlySet<string>
  readonly responses: ReadonlySet<string>
}

interface Entry extends PendingQuery {
  readonly acks: Set<string>
  readonly responses: Set<string>
  readonly maxAnswers: number
  readonly sink: (answer: QueryAnswer) => void
  closed: boolean
}

/** The open queries of this node, by LTime. */
export class PendingQueries {
  private readonly byLtime = new Map<number, Entry>()

  /** Number of open queries. */
  get size(): number {
    return this.byLtime.size
  }

  /**
   * Opens a query. `sink` receives each accepted answer, at most `maxAnswers`
   * of them (a bound against a flood of made-up responder names).
   */
  register(
    query: { readonly ltime: number; readonly id: number; readonly deadline: number; readonly wantsAck: boolean },
    maxAnswers: number,
    sink: (answer: QueryAnswer) => void
  ): PendingQuery {
    const entry: Entry = { ...query, acks: new Set(), responses: new Set(), maxAnswers, sink, closed: false }
    this.byLtime.set(query.ltime, entry)
    return entry
  }

  /** Closes the query at `ltime` (deadline reached or the caller stopped listening); later answers are refused. */
  close(ltime: number): void {
    const entry = this.byLtime.get(ltime)
    if (entry === undefined) return
    entry.closed = true
    this.byLtime.delete(ltime)
  }

  /** Routes an answer to its query; returns what it was, or why it was refused. */
  handle(response: QueryResponse, now: number): QueryAnswer | AnswerRefusal {
    const entry = this.byLtime.get(response.ltime)
    if (entry === undefined) return "unknown-query"
    if (entry.id !== response.id) return "id-mismatch"
    if (entry.closed || now > entry.deadline) return "finished"
    if (entry.acks.size + entry.responses.size >= entry.maxAnswers) return "full"
    let answer: QueryAnswer
    if ((response.flags & 1) !== 0) {
      if (!entry.wantsAck) return "unwanted-ack"
      if (entry.acks.has(response.from)) return "duplicate"
      entry.acks.add(response.from)
      answer = { _tag: "Ack", from: response.from }
    } else {
      if (entry.responses.has(response.from)) return "duplicate"
      entry.responses.add(response.from)
      answer = { _tag: "Response", from: response.from, payload: response.payload ?? new Uint8Array(0) }
    }
    entry.sink(answer)
    return answer
  }
}
