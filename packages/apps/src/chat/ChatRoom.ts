/**
 * The chat's shared state (who is connected, their nicknames, which room
 * each is in) owned by one actor, and everything that changes it.
 *
 * Stage: app. Connections never touch the state: they tell the actor what
 * happened on their line (`connect`, `command`, `rejected`, `throttled`,
 * `leave`) and the actor, handling one message at a time, updates the
 * state and writes the resulting events into the members' outboxes. So
 * every member sees the events of the chat in one order, the one in which
 * the actor handled them, and a message reaches exactly the members of its
 * room at the moment it was handled.
 *
 * Each room is a `Broadcast` hub of its members' outboxes (per-connection
 * bounded queues with the disconnect policy); publishing to a room never
 * waits on a slow member. Events go into the outboxes as encoded lines,
 * each encoded once and shared by all the members it is sent to. The actor restarts from its last good state if
 * handling a message fails (see `supervision` below), so one bad message
 * does not disconnect everyone.
 *
 * @since 0.1.0
 */
import * as Actor from "@socket-to-me/core/Actor"
import * as Broadcast from "@socket-to-me/core/Broadcast"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Flood from "./Flood.ts"
import * as Protocol from "./Protocol.ts"

/**
 * Why a member leaves without `/quit`:
 * - `Closed`: the client closed its side; what is queued for it is still sent.
 * - `Dropped`: the connection failed (reset, error); nothing more is sent.
 * - `SlowConsumer`: its outbox overflowed and was cut off.
 * - `Shutdown`: the server is draining (the goodbye line was already queued).
 * - `Kicked`: the server closes it for breaking a rule (line too long, line
 *   too slow): `notice` is sent as an error line, then the connection ends
 *   with `error` as its exit reason.
 *
 * @since 0.1.0
 * @category models
 */
export type LeaveReason =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Dropped" }
  | { readonly _tag: "SlowConsumer" }
  | { readonly _tag: "Shutdown" }
  | { readonly _tag: "Kicked"; readonly notice: string; readonly error: ConnectionError.ConnectionError }

/**
 * The room's state as seen from outside, for tests and monitoring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** Connections, with or without a nickname. */
  readonly connections: number
  /** Nicknames in use, sorted. */
  readonly nicknames: ReadonlyArray<string>
  /** Non-empty rooms and their member counts, sorted by name. */
  readonly rooms: ReadonlyArray<{ readonly name: string; readonly members: number }>
}

/**
 * The chat room service: what connections tell it.
 *
 * @since 0.1.0
 * @category services
 */
export class ChatRoom extends Context.Service<ChatRoom, {
  /** A new connection: greet it; it has no nickname and no room yet. */
  readonly connect: (id: number, outbox: Broadcast.Subscriber<Uint8Array>) => Effect.Effect<void, Actor.ActorError>
  /** A command from connection `id`. */
  readonly command: (id: number, command: Protocol.Command) => Effect.Effect<void, Actor.ActorError>
  /** A line from `id` that is not a command: answer with the error. */
  readonly rejected: (id: number, error: Protocol.CommandError) => Effect.Effect<void, Actor.ActorError>
  /** `id` started flooding: lines are being dropped; tell it so. */
  readonly throttled: (id: number, limits: Flood.Limits) => Effect.Effect<void, Actor.ActorError>
  /** `id` is gone (or going); idempotent. */
  readonly leave: (id: number, reason: LeaveReason) => Effect.Effect<void, Actor.ActorError>
  readonly snapshot: Effect.Effect<Snapshot, Actor.ActorError>
}>()("@socket-to-me/apps/chat/ChatRoom") {}

/**
 * Options of the chat room.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Mailbox of the room's actor. Default `Config.actorMailboxSize`. */
  readonly mailboxSize?: number | undefined
}

type Message =
  | { readonly _tag: "Connect"; readonly id: number; readonly outbox: Broadcast.Subscriber<Uint8Array> }
  | { readonly _tag: "Command"; readonly id: number; readonly command: Protocol.Command }
  | { readonly _tag: "Rejected"; readonly id: number; readonly error: Protocol.CommandError }
  | { readonly _tag: "Throttled"; readonly id: number; readonly limits: Flood.Limits }
  | { readonly _tag: "Leave"; readonly id: number; readonly reason: LeaveReason }
  | { readonly _tag: "Snapshot"; readonly reply: Actor.Reply<Snapshot> }

interface Member {
  readonly id: number
  readonly outbox: Broadcast.Subscriber<Uint8Array>
  /** Undefined until `/nick`; a member without a nickname is in no room. */
  readonly nick: string | undefined
  readonly room: string | undefined
}

interface State {
  readonly members: HashMap.HashMap<number, Member>
  /** Lowercased nickname to connection id: nicknames are unique case-insensitively. */
  readonly nicks: HashMap.HashMap<string, number>
  /** Non-empty rooms, each a hub of its members' outboxes. */
  readonly rooms: HashMap.HashMap<string, Broadcast.Broadcast<Uint8Array>>
  /**
   * Encodes what is published to rooms. Lines encoded in a row share a
   * buffer, so a member's run of room lines leaves in one write without
   * being copied. Used by the actor's fiber only; kept across restarts.
   */
  readonly encoder: LineCodec.LineEncoder
}

const initial = (): State => ({
  members: HashMap.empty(),
  nicks: HashMap.empty(),
  rooms: HashMap.empty(),
  encoder: LineCodec.makeEncoder()
})

// Outboxes hold wire bytes, one line per entry: an event is encoded once
// however many members it goes to. A line for one member is encoded alone,
// so that it does not split the other members' runs of room lines.
const line = (event: Protocol.Event): Uint8Array => LineCodec.encodeLine(Protocol.formatEvent(event))

const send = (member: Member, event: Protocol.Event) => member.outbox.offer(line(event))

const sendAll = (member: Member, events: ReadonlyArray<Protocol.Event>) =>
  Effect.forEach(events, (event) => send(member, event), { discard: true })

const error = (member: Member, message: string) => send(member, { _tag: "Error", message })

// The answer to anything but `Protocol.withoutNickname` before a nickname.
const nicknameFirst = (member: Member) => error(member, "choose a nickname first with /nick NAME")

// Publishes to everyone in `room` but `except`; an empty room has no hub.
const publish = (state: State, room: string, event: Protocol.Event, except?: Member) =>
  Option.match(HashMap.get(state.rooms, room), {
    onNone: () => Effect.void,
    onSome: (hub) => Effect.asVoid(hub.publish(state.encoder(Protocol.formatEvent(event)), { except: except?.outbox }))
  })

const membersOf = (state: State, room: string): Array<Member> =>
  Array.from(HashMap.values(state.members)).filter((member) => member.room === room)

const byName = (a: string, b: string) => a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0

// Moves `member` out of its room: detaches its outbox from the room's hub
// and forgets the hub once the room is empty.
const leaveRoom = Effect.fnUntraced(function*(state: State, member: Member) {
  if (member.room === undefined) return state
  const hub = HashMap.get(state.rooms, member.room)
  if (Option.isNone(hub)) return state
  yield* hub.value.remove(member.outbox)
  return (yield* hub.value.size) === 0 ? { ...state, rooms: HashMap.remove(state.rooms, member.room) } : state
})

const enterRoom = Effect.fnUntraced(function*(state: State, member: Member, room: string) {
  const existing = HashMap.get(state.rooms, room)
  const hub = Option.isSome(existing) ? existing.value : yield* Broadcast.make<Uint8Array>()
  yield* hub.add(member.outbox)
  return Option.isSome(existing) ? state : { ...state, rooms: HashMap.set(state.rooms, room, hub) }
})

const setMember = (state: State, member: Member): State => ({
  ...state,
  members: HashMap.set(state.members, member.id, member)
})

// The state changes are computed first and the hubs touched last, so that
// a failure part-way leaves the last good state consistent with the hubs
// in all but the rarest case (see the module docs on restarts).
const onNick = Effect.fnUntraced(function*(state: State, member: Member, name: string) {
  const key = name.toLowerCase()
  const owner = HashMap.get(state.nicks, key)
  if (Option.isSome(owner) && owner.value !== member.id) {
    yield* error(member, `nickname ${name} is taken`)
    return state
  }
  const previous = member.nick
  if (previous === name) {
    yield* send(member, { _tag: "NickSet", nick: name })
    return state
  }
  const nicks = HashMap.set(previous === undefined ? state.nicks : HashMap.remove(state.nicks, previous.toLowerCase()), key, member.id)
  if (previous === undefined || member.room === undefined) {
    // First nickname: the member enters the lobby.
    const joined: Member = { ...member, nick: name, room: Protocol.lobby }
    yield* send(joined, { _tag: "NickSet", nick: name })
    yield* publish(state, Protocol.lobby, { _tag: "Joined", nick: name, room: Protocol.lobby })
    const next = yield* enterRoom(setMember({ ...state, nicks }, joined), joined, Protocol.lobby)
    yield* send(joined, { _tag: "YouJoined", room: Protocol.lobby })
    return next
  }
  const renamed: Member = { ...member, nick: name }
  yield* send(renamed, { _tag: "NickSet", nick: name })
  yield* publish(state, member.room, { _tag: "NickChanged", from: previous, to: name }, member)
  return setMember({ ...state, nicks }, renamed)
})

const onJoin = Effect.fnUntraced(function*(state: State, member: Member, nick: string, room: string) {
  if (member.room === room) {
    yield* send(member, { _tag: "AlreadyIn", room })
    return state
  }
  const moved: Member = { ...member, room }
  let next = yield* leaveRoom(setMember(state, moved), member)
  if (member.room !== undefined) yield* publish(next, member.room, { _tag: "Left", nick, room: member.room })
  yield* publish(next, room, { _tag: "Joined", nick, room })
  next = yield* enterRoom(next, moved, room)
  yield* send(moved, { _tag: "YouJoined", room })
  return next
})

const onCommand = Effect.fnUntraced(function*(state: State, member: Member, command: Protocol.Command) {
  switch (command._tag) {
    case "Help":
      yield* sendAll(member, Protocol.help)
      return state
    case "Rooms": {
      const counts = new Map<string, number>()
      for (const m of HashMap.values(state.members)) {
        if (m.room !== undefined) counts.set(m.room, (counts.get(m.room) ?? 0) + 1)
      }
      const rooms = Array.from(counts, ([name, members]) => ({ name, members })).sort((a, b) => byName(a.name, b.name))
      yield* send(member, { _tag: "Rooms", rooms })
      return state
    }
    case "Quit": {
      const next = yield* removeMember(state, member)
      if (member.nick !== undefined && member.room !== undefined) {
        yield* publish(next, member.room, { _tag: "Quit", nick: member.nick })
      }
      yield* send(member, { _tag: "Bye" })
      yield* member.outbox.end
      return next
    }
    case "Nick":
      return yield* onNick(state, member, command.name)
  }
  // Everything else needs a nickname (and so a room): the commands above
  // are `Protocol.withoutNickname`.
  const nick = member.nick
  const room = member.room
  if (nick === undefined || room === undefined) {
    yield* nicknameFirst(member)
    return state
  }
  switch (command._tag) {
    case "Say":
      yield* publish(state, room, { _tag: "Message", from: nick, text: command.text }, member)
      return state
    case "Me":
      yield* publish(state, room, { _tag: "Action", from: nick, action: command.action }, member)
      return state
    case "Msg": {
      const target = HashMap.get(state.nicks, command.to.toLowerCase()).pipe(
        Option.flatMap((id) => HashMap.get(state.members, id))
      )
      if (Option.isNone(target) || target.value.nick === undefined) {
        yield* error(member, `no such user ${command.to}`)
        return state
      }
      yield* send(target.value, { _tag: "Private", from: nick, text: command.text })
      yield* send(member, { _tag: "PrivateSent", to: target.value.nick, text: command.text })
      return state
    }
    case "Join":
      return yield* onJoin(state, member, nick, command.room)
    case "Who": {
      const nicks = membersOf(state, room).flatMap((m) => m.nick === undefined ? [] : [m.nick]).sort(byName)
      yield* send(member, { _tag: "Who", room, nicks })
      return state
    }
  }
})

const removeMember = Effect.fnUntraced(function*(state: State, member: Member) {
  const next: State = {
    ...state,
    members: HashMap.remove(state.members, member.id),
    nicks: member.nick === undefined ? state.nicks : HashMap.remove(state.nicks, member.nick.toLowerCase())
  }
  return yield* leaveRoom(next, member)
})

const onLeave = Effect.fnUntraced(function*(state: State, member: Member, reason: LeaveReason) {
  const next = yield* removeMember(state, member)
  if (member.nick !== undefined && member.room !== undefined) {
    yield* publish(next, member.room, { _tag: "Disconnected", nick: member.nick })
  }
  switch (reason._tag) {
    case "Closed":
      yield* member.outbox.end
      break
    case "Kicked":
      yield* error(member, reason.notice)
      yield* member.outbox.fail(reason.error)
      break
    default:
      // The outbox already failed, was cut off, or said goodbye.
      yield* member.outbox.end
  }
  return next
})

const snapshotOf = (state: State): Snapshot => {
  const counts = new Map<string, number>()
  for (const member of HashMap.values(state.members)) {
    if (member.room !== undefined) counts.set(member.room, (counts.get(member.room) ?? 0) + 1)
  }
  return {
    connections: HashMap.size(state.members),
    nicknames: Array.from(HashMap.values(state.members)).flatMap((m) => m.nick === undefined ? [] : [m.nick]).sort(byName),
    rooms: Array.from(counts, ([name, members]) => ({ name, members })).sort((a, b) => byName(a.name, b.name))
  }
}

const receive = (state: State, message: Message): Effect.Effect<State> => {
  if (message._tag === "Snapshot") return Effect.as(Deferred.succeed(message.reply, snapshotOf(state)), state)
  if (message._tag === "Connect") {
    const member: Member = { id: message.id, outbox: message.outbox, nick: undefined, room: undefined }
    return Effect.as(sendAll(member, Protocol.greeting), setMember(state, member))
  }
  // A member that already left (a late line, a second `leave`) is ignored.
  const found = HashMap.get(state.members, message.id)
  if (Option.isNone(found)) return Effect.succeed(state)
  const member = found.value
  switch (message._tag) {
    case "Command":
      return onCommand(state, member, message.command)
    case "Rejected":
      // Before a nickname, a malformed command is answered as the command
      // would be: most need a nickname first, whatever their arguments.
      return Effect.as(
        member.nick === undefined && Protocol.needsNickname(message.error.command)
          ? nicknameFirst(member)
          : error(member, message.error.message),
        state
      )
    case "Throttled":
      return Effect.as(
        error(
          member,
          `too many lines (limit ${message.limits.rate} per second, burst ${message.limits.burst}); ` +
            "lines are dropped until you slow down"
        ),
        state
      )
    case "Leave":
      return onLeave(state, member, message.reason)
  }
}

/**
 * Starts the chat room's actor in the current scope.
 *
 * Supervision: restart from the last good state. The state is immutable
 * and replaced only when a message was handled, so the message that failed
 * is the only thing lost; restarting from the initial state instead would
 * forget every connected member.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<ChatRoom["Service"], never, Scope.Scope> =>
  Effect.map(
    Actor.make<State, Message>({ initial: initial(), receive }, {
      name: "chat-room",
      mailboxSize: options.mailboxSize,
      supervision: Actor.restart({ onRestart: (last) => last })
    }),
    (actor) =>
      ChatRoom.of({
        connect: (id, outbox) => actor.tell({ _tag: "Connect", id, outbox }),
        command: (id, command) => actor.tell({ _tag: "Command", id, command }),
        rejected: (id, error) => actor.tell({ _tag: "Rejected", id, error }),
        throttled: (id, limits) => actor.tell({ _tag: "Throttled", id, limits }),
        leave: (id, reason) => actor.tell({ _tag: "Leave", id, reason }),
        snapshot: actor.ask<Snapshot>((reply) => ({ _tag: "Snapshot", reply }))
      })
  )

/**
 * The chat room as a layer; the actor lives as long as the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<ChatRoom> => Layer.effect(ChatRoom, make(options))
