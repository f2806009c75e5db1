/**
 * Cluster-wide key management as serf's `KeyManager` does it: one internal
 * query per operation, every member answers with a key response, and the
 * answers are tallied into a per-node report. The tally is plain data; the
 * agent runs the query.
 */
import type { KeyringError } from "../security/Keyring.ts"
import { decodeKeyResponse } from "./QueryPayloads.ts"

/** A key-management operation. */
export type KeyOperation = "install" | "use" | "remove" | "list"

/** serf's prefix for its own queries (never delivered to handlers). */
export const INTERNAL_QUERY_PREFIX = "_serf_"

/** The internal query name of each operation. */
export const keyQueryName: Readonly<Record<KeyOperation, string>> = {
  install: "_serf_install-key",
  use: "_serf_use-key",
  remove: "_serf_remove-key",
  list: "_serf_list-keys"
}

/** The messages memberlist's keyring gives, which serf relays in its key responses. */
export const keyringErrorMessage = (error: KeyringError): string => {
  switch (error.reason) {
    case "InvalidKey":
      return "key size must be 16, 24 or 32 bytes"
    case "UnknownKey":
      return "Requested key is not in the keyring"
    case "PrimaryKey":
      return "Removing the primary key is not allowed"
    default:
      return error.message
  }
}

/** What a cluster-wide key operation found (serf's `KeyResponse`). */
export interface KeyOperationResult {
  readonly operation: KeyOperation
  /** Members alive or suspect when the query was sent, this node included. */
  readonly numNodes: number
  /** Members that answered. */
  readonly numResp: number
  /** Members that answered with an error, or with something that is not a key response. */
  readonly numErr: number
  /** Per member: the error, or a warning that came with a success. */
  readonly messages: Readonly<Record<string, string>>
  /** list: each key (base64) and how many members hold it. */
  readonly keys: Readonly<Record<string, number>>
  /** list: each primary key (base64) and how many members use it. */
  readonly primaryKeys: Readonly<Record<string, number>>
  /** serf's verdict when not every member succeeded: `e/n nodes reported failure` or `r/n nodes reported success`. */
  readonly error: string | undefined
}

const define = (target: Record<string, number | string>, key: string, value: number | string) =>
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })

/** Tallies key responses as they arrive, as serf's `streamKeyResp`. */
export class KeyResponseTally {
  private numResp = 0
  private numErr = 0
  private readonly messages: Record<string, string> = {}
  private readonly keys: Record<string, number> = {}
  private readonly primaryKeys: Record<string, number> = {}
  readonly operation: KeyOperation
  readonly numNodes: number

  constructor(operation: KeyOperation, numNodes: number) {
    this.operation = operation
    this.numNodes = numNodes
  }

  /** Every member has answered: nothing left to wait for. */
  get complete(): boolean {
    return this.numResp >= this.numNodes
  }

  /** Records one member's answer. */
  add(from: string, payload: Uint8Array): void {
    this.numResp++
    const response = decodeKeyResponse(payload)
    if (response === undefined) {
      define(this.messages, from, "Invalid key query response")
      this.numErr++
      return
    }
    if (!response.result) {
      define(this.messages, from, response.message)
      this.numErr++
    } else if (response.message.length > 0) define(this.messages, from, response.message)
    for (const key of response.keys) define(this.keys, key, (this.keys[key] ?? 0) + 1)
    if (this.operation === "list" && response.result) {
      define(this.primaryKeys, response.primaryKey, (this.primaryKeys[response.primaryKey] ?? 0) + 1)
    }
  }

  /** The report so far. */
  result(): KeyOperationResult {
    const error = this.numErr !== 0
      ? `${this.numErr}/${this.numNodes} nodes reported failure`
      : this.numResp !== this.numNodes
      ? `${this.numResp}/${this.numNodes} nodes reported success`
      : undefined
    return {
      operation: this.operation,
      numNodes: this.numNodes,
      numResp: this.numResp,
      numErr: this.numErr,
      messages: { ...this.messages },
      keys: { ...this.keys },
      primaryKeys: { ...this.primaryKeys },
      error
    }
  }
}
