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
 * Several servers can share one chat through a `ChatBus` (`RedisBus`). Then
 * the actor also tells the bus what the other servers must know (room
 * lines, who is where, private lines for their members; `emit` never
 * waits), applies what they tell it (their lines go to its own members of
 * the room, through the same hubs and outboxes), and keeps a replica of
 * their members for `/who`, `/rooms` and `/msg`. A nickname is claimed on
 * the bus (a lease) by the connection's own fiber before the actor sees the
 * `/nick`. While the link is down the actor serves its own members alone.
 * With the local bus (the default) none of this runs.
 *
 * @since 0.1.0
 */
import * as Actor from "@socket-to-me/core/Actor"
import * as Broadcast from "@socket-to-me/core/Broadcast"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ChatBus from "./ChatBus.ts"
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
  /** When the chat is shared with other servers: the link, and what this server knows of them. */
  readonly shared?: {
    readonly linked: boolean
    /** Other servers heard from. */
    readonly servers: number
    /** Their members with a nickname. */
    readonly members: number
  } | undefined
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
  /** The link to the other servers of the chat. Default `ChatBus.local` (none). */
  readonly bus?: ChatBus.Bus | undefined
}

type Message =
  | { readonly _tag: "Connect"; readonly id: number; readonly outbox: Broadcast.Subscriber<Uint8Array> }
  | {
    readonly _tag: "Command"
    readonly id: number
    readonly command: Protocol.Command
    /** For a `/nick` on a shared chat: the bus's answer to the claim. */
    readonly claim?: ChatBus.Claim | undefined
  }
  | { readonly _tag: "Rejected"; readonly id: number; readonly error: Protocol.CommandError }
  | { readonly _tag: "Throttled"; readonly id: number; readonly limits: Flood.Limits }
  | { readonly _tag: "Leave"; readonly id: number; readonly reason: LeaveReason }
  | { readonly _tag: "Snapshot"; readonly reply: Actor.Reply<Snapshot> }
  | { readonly _tag: "Bus"; readonly incoming: ChatBus.Incoming }

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
  readonly bus: ChatBus.Bus
  /** What this server knows of the other servers; undefined when the bus is local. */
  readonly shared: Shared | undefined
}

interface Shared {
  /** Whether the bus link is up: only then is anything emitted or received. */
  readonly linked: boolean
  /** Whether the link has failed since start (so that its return is announced). */
  readonly wasDown: boolean
  /** The other servers heard from, by server id; cleared when the link fails. */
  readonly servers: HashMap.HashMap<string, Remote>
}

interface Remote {
  /** The last envelope number handled from it. */
  readonly seq: number
  /** When it was last heard from (this server's clock, millis). */
  readonly seen: number
  /** Its members with a nickname, by connection id. */
  readonly members: HashMap.HashMap<number, ChatBus.Member>
}

const initial = (bus: ChatBus.Bus): State => ({
  members: HashMap.empty(),
  nicks: HashMap.empty(),
  rooms: HashMap.empty(),
  encoder: LineCodec.makeEncoder(),
  bus,
  // The first `LinkUp` comes as soon as the room drains the bus.
  shared: bus.shared ? { linked: false, wasDown: false, servers: HashMap.empty() } : undefined
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

// Publishes to everyone in `room` but `except` (on every server when the
// chat is shared); an empty room has no hub.
const publish = (state: State, room: string, event: Protocol.Event, except?: Member) => {
  if (state.shared !== undefined) {
    const text = Protocol.formatEvent(event)
    emit(state, { _tag: "Line", room, line: text })
    return deliver(state, room, text, except)
  }
  return Option.match(HashMap.get(state.rooms, room), {
    onNone: () => Effect.void,
    onSome: (hub) => Effect.asVoid(hub.publish(state.encoder(Protocol.formatEvent(event)), { except: except?.outbox }))
  })
}

// Publishes a line to this server's members of `room` only.
const deliver = (state: State, room: string, text: string, except?: Member) =>
  Option.match(HashMap.get(state.rooms, room), {
    onNone: () => Effect.void,
    onSome: (hub) => Effect.asVoid(hub.publish(state.encoder(text), { except: except?.outbox }))
  })

// Hands an event to the other servers, if the link is up (while it is down
// nobody hears it; the link's return announces every member again).
const emit = (state: State, event: ChatBus.Wire) => {
  if (state.shared?.linked === true) state.bus.emit({ _tag: "Publish", event })
}

const release = (state: State, member: Member, nick: string) => {
  if (state.shared?.linked === true) state.bus.emit({ _tag: "Release", lease: { conn: member.id, nick } })
}

// The member as the other servers see it, once it has a nickname. Told
// before the lines announcing the change, so that a server showing the
// announcement already knows the member's new state (the tests rely on it).
const share = (state: State, member: Member) => {
  if (member.nick !== undefined && member.room !== undefined) {
    emit(state, { _tag: "Set", conn: member.id, nick: member.nick, room: member.room })
  }
}

const sharedMembers = (state: State): Array<ChatBus.Member> =>
  Array.from(HashMap.values(state.members)).flatMap((m) =>
    m.nick === undefined || m.room === undefined ? [] : [{ conn: m.id, nick: m.nick, room: m.room }]
  )

const remoteMembers = (state: State): Array<ChatBus.Member> =>
  state.shared === undefined
    ? []
    : Array.from(HashMap.values(state.shared.servers)).flatMap((server) => Array.from(HashMap.values(server.members)))

// The server and member that hold `nick` elsewhere, if this server knows of one.
const remoteHolder = (state: State, nick: string): readonly [string, ChatBus.Member] | undefined => {
  if (state.shared === undefined) return undefined
  const key = nick.toLowerCase()
  for (const [id, server] of state.shared.servers) {
    for (const member of HashMap.values(server.members)) if (member.nick.toLowerCase() === key) return [id, member]
  }
  return undefined
}

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
const onNick = Effect.fnUntraced(function*(state: State, member: Member, name: string, claim: ChatBus.Claim) {
  const key = name.toLowerCase()
  const owner = HashMap.get(state.nicks, key)
  if (
    (Option.isSome(owner) && owner.value !== member.id) ||
    // On a shared chat the lease decides; without an answer from the bus,
    // what this server knows of the others does.
    (state.shared !== undefined && (claim === "Taken" || (claim === "Unlinked" && remoteHolder(state, key) !== undefined)))
  ) {
    if (claim === "Claimed" && member.nick?.toLowerCase() !== key) release(state, member, name)
    yield* error(member, `nickname ${name} is taken`)
    return state
  }
  const previous = member.nick
  if (previous === name) {
    yield* send(member, { _tag: "NickSet", nick: name })
    return state
  }
  const nicks = HashMap.set(previous === undefined ? state.nicks : HashMap.remove(state.nicks, previous.toLowerCase()), key, member.id)
  if (previous !== undefined && previous.toLowerCase() !== key) release(state, member, previous)
  if (previous === undefined || member.room === undefined) {
    // First nickname: the member enters the lobby.
    const joined: Member = { ...member, nick: name, room: Protocol.lobby }
    share(state, joined)
    yield* send(joined, { _tag: "NickSet", nick: name })
    yield* publish(state, Protocol.lobby, { _tag: "Joined", nick: name, room: Protocol.lobby })
    const next = yield* enterRoom(setMember({ ...state, nicks }, joined), joined, Protocol.lobby)
    yield* send(joined, { _tag: "YouJoined", room: Protocol.lobby })
    return next
  }
  const renamed: Member = { ...member, nick: name }
  share(state, renamed)
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
  share(state, moved)
  let next = yield* leaveRoom(setMember(state, moved), member)
  if (member.room !== undefined) yield* publish(next, member.room, { _tag: "Left", nick, room: member.room })
  yield* publish(next, room, { _tag: "Joined", nick, room })
  next = yield* enterRoom(next, moved, room)
  yield* send(moved, { _tag: "YouJoined", room })
  return next
})

const onCommand = Effect.fnUntraced(function*(
  state: State,
  member: Member,
  command: Protocol.Command,
  claim: ChatBus.Claim
) {
  switch (command._tag) {
    case "Help":
      yield* sendAll(member, Protocol.help)
      return state
    case "Rooms": {
      const counts = new Map<string, number>()
      for (const m of HashMap.values(state.members)) {
        if (m.room !== undefined) counts.set(m.room, (counts.get(m.room) ?? 0) + 1)
      }
      for (const m of remoteMembers(state)) counts.set(m.room, (counts.get(m.room) ?? 0) + 1)
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
      return yield* onNick(state, member, command.name, claim)
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
        const remote = remoteHolder(state, command.to)
        if (remote === undefined) {
          yield* error(member, `no such user ${command.to}`)
          return state
        }
        const [server, to] = remote
        const line = Protocol.formatEvent({ _tag: "Private", from: nick, text: command.text })
        emit(state, { _tag: "Private", server, conn: to.conn, nick: to.nick, line })
        yield* send(member, { _tag: "PrivateSent", to: to.nick, text: command.text })
        return state
      }
      yield* send(target.value, { _tag: "Private", from: nick, text: command.text })
      yield* send(member, { _tag: "PrivateSent", to: target.value.nick, text: command.text })
      return state
    }
    case "Join":
      return yield* onJoin(state, member, nick, command.room)
    case "Who": {
      const nicks = membersOf(state, room).flatMap((m) => m.nick === undefined ? [] : [m.nick])
      for (const m of remoteMembers(state)) if (m.room === room) nicks.push(m.nick)
      nicks.sort(byName)
      yield* send(member, { _tag: "Who", room, nicks })
      return state
    }
  }
})

const removeMember = Effect.fnUntraced(function*(state: State, member: Member) {
  if (member.nick !== undefined) {
    emit(state, { _tag: "Del", conn: member.id })
    release(state, member, member.nick)
  }
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

// ---------------------------------------------------------------------------
// What the bus hands the room (a shared chat only)

const withShared = (state: State, shared: Shared): State => ({ ...state, shared })

const toAll = (state: State, event: Protocol.Event) =>
  Effect.forEach(HashMap.values(state.members), (member) => send(member, event), { discard: true })

const leases = (state: State): Array<ChatBus.Lease> =>
  Array.from(HashMap.values(state.members)).flatMap((m) => m.nick === undefined ? [] : [{ conn: m.id, nick: m.nick }])

// The link is up: renew (or take again) every lease, then tell the other
// servers who is here; they answer with who is there.
const onLinkUp = Effect.fnUntraced(function*(state: State, shared: Shared) {
  const next = withShared(state, { ...shared, linked: true, servers: HashMap.empty() })
  next.bus.emit({ _tag: "Renew", leases: leases(next) })
  emit(next, { _tag: "Hello", members: sharedMembers(next) })
  if (shared.wasDown) yield* toAll(next, Protocol.linkBack)
  return next
})

// The link failed: this server's members are told once, and from now on
// see only each other until it is back. What was known of the other
// servers is dropped, so `/who`, `/rooms` and `/msg` say what works.
const onLinkDown = Effect.fnUntraced(function*(state: State, shared: Shared) {
  if (!shared.linked) return state
  yield* toAll(state, Protocol.linkLost)
  return withShared(state, { linked: false, wasDown: true, servers: HashMap.empty() })
})

const membersOfWire = (members: ReadonlyArray<ChatBus.Member>) =>
  HashMap.fromIterable(members.map((member) => [member.conn, member] as const))

// Another server's envelope: each event in order. A repeat (a number
// already handled) is dropped; a gap, or a server not heard from before,
// asks that server for its members unless the envelope brings them.
const onRemote = Effect.fnUntraced(function*(state: State, shared: Shared, envelope: ChatBus.Envelope) {
  if (!shared.linked || envelope.server === state.bus.server) return state
  const known = HashMap.get(shared.servers, envelope.server)
  if (Option.isSome(known) && envelope.seq <= known.value.seq) return state
  const snapshot = envelope.events.some((event) => event._tag === "Hello" || event._tag === "Announce")
  if (!snapshot && (Option.isNone(known) || envelope.seq !== known.value.seq + 1)) {
    emit(state, { _tag: "Ask", server: envelope.server })
  }
  let members = Option.isSome(known) ? known.value.members : HashMap.empty<number, ChatBus.Member>()
  for (const event of envelope.events) {
    switch (event._tag) {
      case "Line":
        yield* deliver(state, event.room, event.line)
        break
      case "Set":
        members = HashMap.set(members, event.conn, { conn: event.conn, nick: event.nick, room: event.room })
        break
      case "Del":
        members = HashMap.remove(members, event.conn)
        break
      case "Private": {
        if (event.server !== state.bus.server) break
        const target = HashMap.get(state.members, event.conn)
        if (Option.isSome(target) && target.value.nick?.toLowerCase() === event.nick.toLowerCase()) {
          yield* target.value.outbox.offer(LineCodec.encodeLine(event.line))
        }
        break
      }
      case "Hello":
        members = membersOfWire(event.members)
        emit(state, { _tag: "Announce", members: sharedMembers(state) })
        break
      case "Announce":
        members = membersOfWire(event.members)
        break
      case "Ask":
        if (event.server === state.bus.server) emit(state, { _tag: "Announce", members: sharedMembers(state) })
        break
      case "Beat":
        break
    }
  }
  const seen = yield* Clock.currentTimeMillis
  return withShared(state, {
    ...shared,
    servers: HashMap.set(shared.servers, envelope.server, { seq: envelope.seq, seen, members })
  })
})

// Every third of the lease: renew the leases, say this server is alive,
// and drop the servers not heard from for a whole lease (a crashed or cut
// off server): their members are announced as disconnected here.
const onTick = Effect.fnUntraced(function*(state: State, shared: Shared) {
  if (!shared.linked) return state
  state.bus.emit({ _tag: "Renew", leases: leases(state) })
  emit(state, { _tag: "Beat" })
  const now = yield* Clock.currentTimeMillis
  const lease = Duration.toMillis(state.bus.lease)
  let servers = shared.servers
  for (const [id, server] of shared.servers) {
    if (now - server.seen <= lease) continue
    servers = HashMap.remove(servers, id)
    for (const member of HashMap.values(server.members)) {
      yield* deliver(state, member.room, Protocol.formatEvent({ _tag: "Disconnected", nick: member.nick }))
    }
  }
  return servers === shared.servers ? state : withShared(state, { ...shared, servers })
})

// Another server holds this member's nickname now (it was claimed there
// while this server was cut off): the member loses it, leaves its room as
// if disconnected, and must choose another, as before its first `/nick`.
const onLeaseLost = Effect.fnUntraced(function*(state: State, lease: ChatBus.Lease) {
  const found = HashMap.get(state.members, lease.conn)
  if (Option.isNone(found) || found.value.nick !== lease.nick || found.value.room === undefined) return state
  const member = found.value
  const room = found.value.room
  emit(state, { _tag: "Del", conn: member.id })
  let next: State = { ...state, nicks: HashMap.remove(state.nicks, lease.nick.toLowerCase()) }
  next = yield* leaveRoom(setMember(next, { ...member, nick: undefined, room: undefined }), member)
  yield* publish(next, room, { _tag: "Disconnected", nick: lease.nick })
  yield* error(member, Protocol.nicknameLost(lease.nick))
  return next
})

const onBus = (state: State, shared: Shared, incoming: ChatBus.Incoming): Effect.Effect<State> => {
  switch (incoming._tag) {
    case "Remote":
      return onRemote(state, shared, incoming.envelope)
    case "Tick":
      return onTick(state, shared)
    case "LinkUp":
      return onLinkUp(state, shared)
    case "LinkDown":
      return onLinkDown(state, shared)
    case "LeaseLost":
      return onLeaseLost(state, incoming.lease)
  }
}

const snapshotOf = (state: State): Snapshot => {
  const counts = new Map<string, number>()
  for (const member of HashMap.values(state.members)) {
    if (member.room !== undefined) counts.set(member.room, (counts.get(member.room) ?? 0) + 1)
  }
  return {
    connections: HashMap.size(state.members),
    nicknames: Array.from(HashMap.values(state.members)).flatMap((m) => m.nick === undefined ? [] : [m.nick]).sort(byName),
    rooms: Array.from(counts, ([name, members]) => ({ name, members })).sort((a, b) => byName(a.name, b.name)),
    shared: state.shared === undefined ? undefined : {
      linked: state.shared.linked,
      servers: HashMap.size(state.shared.servers),
      members: remoteMembers(state).length
    }
  }
}

const receive = (state: State, message: Message): Effect.Effect<State> => {
  if (message._tag === "Snapshot") return Effect.as(Deferred.succeed(message.reply, snapshotOf(state)), state)
  if (message._tag === "Connect") {
    const member: Member = { id: message.id, outbox: message.outbox, nick: undefined, room: undefined }
    const greet = state.shared !== undefined && !state.shared.linked && state.shared.wasDown
      ? sendAll(member, [...Protocol.greeting, Protocol.linkLost])
      : sendAll(member, Protocol.greeting)
    return Effect.as(greet, setMember(state, member))
  }
  if (message._tag === "Bus") return state.shared === undefined ? Effect.succeed(state) : onBus(state, state.shared, message.incoming)
  // A member that already left (a late line, a second `leave`) is ignored.
  const found = HashMap.get(state.members, message.id)
  if (Option.isNone(found)) {
    // A nickname claimed for a connection that left meanwhile is free again.
    if (message._tag === "Command" && message.command._tag === "Nick" && message.claim === "Claimed") {
      state.bus.emit({ _tag: "Release", lease: { conn: message.id, nick: message.command.name } })
    }
    return Effect.succeed(state)
  }
  const member = found.value
  switch (message._tag) {
    case "Command":
      return onCommand(state, member, message.command, message.claim ?? "Unlinked")
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
export const make = Effect.fnUntraced(function*(options: Options = {}): Effect.fn.Return<ChatRoom["Service"], never, Scope.Scope> {
  const bus = options.bus ?? ChatBus.local
  const actor = yield* Actor.make<State, Message>({ initial: initial(bus), receive }, {
    name: "chat-room",
    mailboxSize: options.mailboxSize,
    supervision: Actor.restart({ onRestart: (last) => last })
  })
  const command = (id: number, command: Protocol.Command) => actor.tell({ _tag: "Command", id, command })
  if (bus.shared) {
    // What the bus hears goes through the mailbox like everything else, so
    // it is ordered with the local connections' messages. `ignore`: a
    // stopped room has nobody to tell.
    yield* Effect.forkScoped(
      Effect.ignore(Stream.runForEach(bus.incoming, (incoming) => actor.tell({ _tag: "Bus", incoming })))
    )
    // On shutdown, the members' leaving (told while the server drained) is
    // handled before the actor stops, so the bus can tell the other servers
    // at once (see `RedisBus`'s flush); one round trip through the mailbox.
    yield* Effect.addFinalizer(() =>
      Effect.ignore(Effect.timeout(actor.ask<Snapshot>((reply) => ({ _tag: "Snapshot", reply })), "1 second"))
    )
  }
  return ChatRoom.of({
    connect: (id, outbox) => actor.tell({ _tag: "Connect", id, outbox }),
    // On a shared chat a nickname is claimed on the bus first, on the
    // connection's fiber: only this connection waits for the answer, and its
    // later lines wait behind it, so they stay in order.
    command: bus.shared
      ? (id, cmd) =>
        cmd._tag === "Nick"
          ? Effect.flatMap(bus.claim(id, cmd.name), (claim) => actor.tell({ _tag: "Command", id, command: cmd, claim }))
          : command(id, cmd)
      : command,
    rejected: (id, error) => actor.tell({ _tag: "Rejected", id, error }),
    throttled: (id, limits) => actor.tell({ _tag: "Throttled", id, limits }),
    leave: (id, reason) => actor.tell({ _tag: "Leave", id, reason }),
    snapshot: actor.ask<Snapshot>((reply) => ({ _tag: "Snapshot", reply }))
  })
})

/**
 * The chat room as a layer; the actor lives as long as the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<ChatRoom> => Layer.effect(ChatRoom, make(options))
