/**
 * The chat's link to the other chat servers of one chat: what a server's
 * room tells the others, what it hears from them, and the nickname leases
 * that keep nicknames unique across them.
 *
 * Stage: app, beside the chat room. The room (`ChatRoom`) is the only user:
 * it hands the bus what the other servers must know (`emit`, which never
 * waits), takes what they said from `incoming`, and claims a nickname
 * (`claim`, from the connection's own fiber, so only that connection waits)
 * before it takes it. Two implementations:
 *
 * - `local`: no other servers. The room is the whole chat, as on one
 *   machine; it checks `shared` and does none of the work below.
 * - `RedisBus`: the servers on one Redis, through Redis pub/sub (one
 *   channel, `Wire` events in `Envelope`s) and keys (nickname leases).
 *
 * What crosses servers is small and explicit (`Wire`): lines for a room's
 * members, who is where (`Set`, `Del`, and whole snapshots), private lines,
 * and heartbeats. Every server keeps a replica of the other servers'
 * members built from these, so `/who`, `/rooms` and `/msg` are answered
 * without a round trip, and a server that stops beating is dropped from it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/**
 * A member as the other servers see it: its connection id on its server,
 * its nickname and its room.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Member = Schema.Struct({ conn: Schema.Number, nick: Schema.String, room: Schema.String })

/**
 * A decoded `Member`.
 *
 * @since 0.1.0
 * @category models
 */
export type Member = typeof Member.Type

/**
 * What one server tells the others, one event at a time, in the order it
 * happened on that server.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Wire = Schema.TaggedUnion({
  /** A server line (already formatted) for every member of `room`. */
  Line: { room: Schema.String, line: Schema.String },
  /** Member `conn` now has `nick` and is in `room` (new, renamed or moved). */
  Set: { conn: Schema.Number, nick: Schema.String, room: Schema.String },
  /** Member `conn` is gone (or lost its nickname). */
  Del: { conn: Schema.Number },
  /** A line for member `conn` of server `server`, if it is still `nick`. */
  Private: { server: Schema.String, conn: Schema.Number, nick: Schema.String, line: Schema.String },
  /** The sender (re)joined the chat with these members; everyone answers with an `Announce`. */
  Hello: { members: Schema.Array(Member) },
  /** All of the sender's members, replacing what the others knew of them. */
  Announce: { members: Schema.Array(Member) },
  /** `server`, please announce your members (someone missed some of your events). */
  Ask: { server: Schema.String },
  /** The sender is alive. */
  Beat: {}
})

/**
 * A decoded `Wire` event.
 *
 * @since 0.1.0
 * @category models
 */
export type Wire = typeof Wire.Type

/**
 * One published message: events of server `server`, numbered `seq` (1, 2,
 * ... per server run), so that a receiver drops a repeat and sees a gap.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Envelope = Schema.Struct({
  server: Schema.String,
  seq: Schema.Number,
  events: Schema.Array(Wire)
})

/**
 * A decoded `Envelope`.
 *
 * @since 0.1.0
 * @category models
 */
export type Envelope = typeof Envelope.Type

/**
 * An envelope as the JSON text that is published.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EnvelopeFromJson = Schema.fromJsonString(Envelope)

/**
 * A nickname lease: connection `conn` of this server holds `nick`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly conn: number
  readonly nick: string
}

/**
 * What the room hands the bus:
 * - `Publish`: an event for the other servers.
 * - `Release`: a nickname is free again (deleted only if this lease holds it).
 * - `Renew`: the leases of every local member, renewed (or taken again if
 *   they lapsed); those someone else holds now come back as `LeaseLost`.
 *
 * @since 0.1.0
 * @category models
 */
export type Outgoing =
  | { readonly _tag: "Publish"; readonly event: Wire }
  | { readonly _tag: "Release"; readonly lease: Lease }
  | { readonly _tag: "Renew"; readonly leases: ReadonlyArray<Lease> }

/**
 * What the bus hands the room:
 * - `LinkUp`: the link works (at start and after every reconnect).
 * - `LinkDown`: the link failed; `reason` is one line. Reconnecting follows.
 * - `Remote`: what another server published.
 * - `LeaseLost`: another server holds `lease.nick` now.
 * - `Tick`: a third of the lease time passed: renew, beat, drop the silent.
 *
 * @since 0.1.0
 * @category models
 */
export type Incoming =
  | { readonly _tag: "LinkUp" }
  | { readonly _tag: "LinkDown"; readonly reason: string }
  | { readonly _tag: "Remote"; readonly envelope: Envelope }
  | { readonly _tag: "LeaseLost"; readonly lease: Lease }
  | { readonly _tag: "Tick" }

/**
 * The answer to a nickname claim:
 * - `Claimed`: this owner holds the lease now (it may have held it already).
 * - `Taken`: someone else holds it.
 * - `Unlinked`: the link is down (or too slow to answer); the room decides
 *   alone, and the next renewal after the link is back settles conflicts.
 *
 * @since 0.1.0
 * @category models
 */
export type Claim = "Claimed" | "Taken" | "Unlinked"

/**
 * The bus as the room uses it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bus {
  /** Whether other servers share the chat. False for `local`: then nothing below is used. */
  readonly shared: boolean
  /** This server's id among the servers, unique per run. */
  readonly server: string
  /** How long a lease and a server's heartbeat last without renewal. */
  readonly lease: Duration.Duration
  /** Hands `message` to the link without waiting; never fails (see each implementation for a full queue). */
  readonly emit: (message: Outgoing) => void
  /** What the link hands the room, in order. */
  readonly incoming: Stream.Stream<Incoming>
  /** Claims the lease on `nick` for connection `conn`. */
  readonly claim: (conn: number, nick: string) => Effect.Effect<Claim>
}

/**
 * The bus service.
 *
 * @since 0.1.0
 * @category services
 */
export class ChatBus extends Context.Service<ChatBus, Bus>()("@socket-to-me/apps/chat/ChatBus") {}

/**
 * No other servers: one process is the whole chat (the default).
 *
 * @since 0.1.0
 * @category implementations
 */
export const local: Bus = {
  shared: false,
  server: "local",
  lease: Duration.infinity,
  emit: () => {},
  incoming: Stream.never,
  claim: () => Effect.succeed("Unlinked")
}
