// What a command is, for the table in `Commands.ts`: its name and arity as
// Redis declares them, whether a subscribed connection may run it, and what
// it does, given the connection's session. Each command lives in a file of
// its own holding its parsing, its effect and its replies (mini-redis's
// `cmd/`).
import type * as Effect from "effect/Effect"
import type * as Channels from "../Channels.ts"
import type * as Db from "../Db.ts"
import type * as Outbox from "../Outbox.ts"
import * as Reply from "../Reply.ts"

/** What a command sees of its connection. */
export interface Session {
  readonly db: Db.Db["Service"]
  readonly channels: Channels.Channels["Service"]
  readonly outbox: Outbox.Outbox
  /** The channels subscribed to, in the order subscribed: name (Latin-1) to bytes. */
  readonly subscriptions: Map<string, Uint8Array>
  /** Adds a reply after the ones before it; they leave together at the end of the read. */
  readonly reply: (reply: Reply.Reply) => void
  /** Hands the replies so far to the outbox now (before subscribing, so the confirmation precedes the channel's messages). */
  readonly flush: Effect.Effect<void>
  /** The connection closes once the replies so far are written; later commands are not run. */
  readonly quit: () => void
}

/** One command. */
export interface Spec {
  /** Lowercase, as Redis names it in its errors. */
  readonly name: string
  /** Redis's arity: N exactly N arguments (the name included), -N at least N. */
  readonly arity: number
  /** Whether a connection in subscribed mode may run it. */
  readonly pubsub: boolean
  readonly run: (args: Reply.Command, session: Session) => Effect.Effect<void>
}

/** An argument as a key or channel name (bytes as a Latin-1 string). */
export const name = (bytes: Uint8Array): string => Reply.fromLatin1(bytes)

/** An argument lowercased (ASCII only, as `strcasecmp`), to compare with option names. */
export const lower = (bytes: Uint8Array): string => Reply.fromLatin1(bytes).toLowerCase()

/** Bytes up to their first NUL, as a C string shows them in Redis's formatted errors. */
export const cString = (bytes: Uint8Array): string => {
  const nul = bytes.indexOf(0)
  return Reply.fromLatin1(nul === -1 ? bytes : bytes.subarray(0, nul))
}

/** An error reply whose text quotes the client (Redis's `addReplyErrorFormat`): CR and LF trimmed at the ends, made spaces within. */
export const formatted = (text: string): Reply.Reply =>
  Reply.error(text.replace(/^[\r\n]+|[\r\n]+$/g, "").replace(/[\r\n]/g, " "))

/** `-ERR invalid expire time in '<name>' command`. */
export const invalidExpireTime = (command: string): Reply.Reply =>
  Reply.error(`ERR invalid expire time in '${command}' command`)
