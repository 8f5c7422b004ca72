/**
 * The chat protocol as `effect/Schema` values: what a client may send (a
 * `Command`, one per line) and what the server sends (an `Event`, one per
 * line), with the line form of each. docs/protocols/chat.md describes the
 * same wire format for people; this module is its one definition in code.
 *
 * Stage: protocol decode and encode, between the line codec and the chat
 * room. `CommandFromLine` decodes a (sanitized) line into a command, failing
 * with a `CommandError` whose reason says what was wrong; `EventFromLine`
 * encodes events into the lines the server writes, and decodes them back
 * for clients and tests.
 *
 * Line forms are chosen so that every server line tells who wrote it from
 * its first characters: `<nick> ` a room message, `** ` an action, `*nick* `
 * a private message, `-> *nick* ` your own private message echoed, and
 * `* ` a server line (errors as `* error: `). Nicknames are letters, digits,
 * `_` and `-` only, so none of these prefixes can be forged by a user, and
 * the nickname `you` is reserved so that `* you joined lobby` (yourself) and
 * `* NICK joined lobby` (someone else) never read alike.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as ChatConfig from "./ChatConfig.ts"

const maxName = ChatConfig.maxNameLength
const namePattern = new RegExp(`^[A-Za-z0-9_-]{1,${maxName}}$`)
const nameRule = `use 1 to ${maxName} letters, digits, _ or -`

/**
 * A nickname: 1 to `ChatConfig.maxNameLength` (32) ASCII letters, digits, `_` or `-` (ASCII only, so no
 * look-alike characters can impersonate someone); `you` is reserved.
 * Unique case-insensitively on a server, shown as chosen.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Nickname = Schema.String.check(
  Schema.isPattern(namePattern, { message: nameRule }),
  Schema.makeFilter((name: string) => name.toLowerCase() !== "you" || "the nickname you is reserved")
)

/**
 * A room name: the same characters as a nickname, lowercase (a room is
 * named case-insensitively; `/join Dev` and `/join dev` are one room).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RoomName = Schema.String.check(
  Schema.isPattern(namePattern, { message: nameRule }),
  Schema.makeFilter((room: string) => room === room.toLowerCase() || "room names are lowercase")
)

/**
 * The room everyone is in after choosing a nickname.
 *
 * @since 0.1.0
 * @category constants
 */
export const lobby = "lobby"

/**
 * Text someone sends: one line with something in it besides spaces and no
 * control characters (the server strips them before parsing).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Text = Schema.String.check(
  Schema.isNonEmpty(),
  Schema.makeFilter((text: string) => text.trim() !== "" || "empty text"),
  Schema.makeFilter((text: string) => !/[\u0000-\u001f\u007f-\u009f]/.test(text) || "control characters")
)

/**
 * `Text` without leading or trailing spaces: the argument of `/me` and
 * `/msg`, which the parser trims.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TrimmedText = Text.check(Schema.isTrimmed())

/**
 * Everything a client can ask for, one per line.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Command = Schema.TaggedUnion({
  /** A plain line: a message to everyone else in your room. */
  Say: { text: Text },
  /** `/me ACTION` */
  Me: { action: TrimmedText },
  /** `/nick NAME` */
  Nick: { name: Nickname },
  /** `/join ROOM` */
  Join: { room: RoomName },
  /** `/rooms` */
  Rooms: {},
  /** `/who` */
  Who: {},
  /** `/msg NICK TEXT` */
  Msg: { to: Nickname, text: TrimmedText },
  /** `/quit` */
  Quit: {},
  /** `/help` */
  Help: {}
})

/**
 * A decoded command.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = typeof Command.Type

/**
 * A line starting with `/` names no command.
 *
 * @since 0.1.0
 * @category reasons
 */
export class UnknownCommand extends Data.TaggedError("UnknownCommand")<{ readonly name: string }> {
  override get message(): string {
    return `unknown command /${this.name} (try /help)`
  }
}

/**
 * A command without the arguments it needs.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Usage extends Data.TaggedError("Usage")<{ readonly usage: string }> {
  override get message(): string {
    return `usage: ${this.usage}`
  }
}

/**
 * A nickname that breaks the nickname rules (not one that is taken: that
 * depends on who is connected, and the room says so).
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidNickname extends Data.TaggedError("InvalidNickname")<{ readonly detail: string }> {
  override get message(): string {
    return `invalid nickname: ${this.detail}`
  }
}

/**
 * A room name that breaks the room name rules.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidRoom extends Data.TaggedError("InvalidRoom")<{ readonly detail: string }> {
  override get message(): string {
    return `invalid room name: ${this.detail}`
  }
}

/**
 * A line with nothing to send (empty or only spaces).
 *
 * @since 0.1.0
 * @category reasons
 */
export class EmptyLine extends Data.TaggedError("EmptyLine")<{}> {
  override get message(): string {
    return "nothing to send"
  }
}

/**
 * Every reason a line is not a command.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandErrorReason = UnknownCommand | Usage | InvalidNickname | InvalidRoom | EmptyLine

/**
 * A line that does not decode into a command; `reason` says why, and
 * `command` which command it was meant to be (its name as typed,
 * lowercased; undefined for a message), so that the room can answer a
 * malformed command from someone without a nickname the way it answers
 * the command (see `needsNickname`).
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandError extends Data.TaggedError("CommandError")<{
  readonly reason: CommandErrorReason
  readonly command: string | undefined
}> {
  override get message(): string {
    return this.reason.message
  }
}

// The typed reason travels through Schema's issue tree in the issue's
// annotations, under this key, and is read back by `parseCommand`.
const reasonKey = "@socket-to-me/apps/chat/Protocol/reason"

const reject = (reason: CommandErrorReason) =>
  Effect.fail(new SchemaIssue.InvalidValue({ message: reason.message, [reasonKey]: reason }))

const isNickname = Schema.is(Nickname)
const isRoomName = Schema.is(RoomName)
const isText = Schema.is(Text)

const issueMessage = (schema: Schema.Top, value: string): string => {
  const result = Schema.decodeUnknownExit(schema as Schema.Codec<unknown, unknown>)(value)
  if (result._tag === "Success") return ""
  const reason = result.cause.reasons[0]
  return reason !== undefined && reason._tag === "Fail" && Schema.isSchemaError(reason.error)
    ? reason.error.message.split("\n")[0]!
    : "invalid"
}

const nickname = (name: string) =>
  isNickname(name) ? Effect.succeed(name) : reject(new InvalidNickname({ detail: issueMessage(Nickname, name) }))

const room = (name: string) => {
  const normalized = (name.startsWith("#") ? name.slice(1) : name).toLowerCase()
  return isRoomName(normalized)
    ? Effect.succeed(normalized)
    : reject(new InvalidRoom({ detail: issueMessage(RoomName, normalized) }))
}

const text = (value: string, usage: string) => isText(value) ? Effect.succeed(value) : reject(new Usage({ usage }))

// Splits `rest` into its first word and what follows it (trimmed).
const firstWord = (rest: string): readonly [string, string] => {
  const space = rest.search(/\s/)
  return space === -1 ? [rest, ""] : [rest.slice(0, space), rest.slice(space + 1).trim()]
}

const isMessageLine = (line: string) => !line.startsWith("/") || line.startsWith("//")

/**
 * The command a line asks for: its name as typed after the `/`, lowercased
 * (`/WHO all` is `who`), whether or not such a command exists; undefined
 * for a message (a line not starting with `/`, or starting with `//`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const commandName = (line: string): string | undefined =>
  isMessageLine(line) ? undefined : firstWord(line.slice(1).trimEnd())[0].toLowerCase()

/**
 * The commands that work before a nickname is chosen. Every other line,
 * messages and unknown or malformed commands included, is answered with
 * `* error: choose a nickname first with /nick NAME`.
 *
 * @since 0.1.0
 * @category constants
 */
export const withoutNickname: ReadonlySet<string> = new Set(["nick", "help", "rooms", "quit"])

/**
 * Whether the command named `name` (see `commandName`; undefined for a
 * message) needs a nickname.
 *
 * @since 0.1.0
 * @category decoding
 */
export const needsNickname = (name: string | undefined): boolean => name === undefined || !withoutNickname.has(name)

/**
 * Reads one line as a command. Lines not starting with `/` are messages;
 * `//text` sends `/text` as a message; `/name args` is a command, its name
 * matched case-insensitively. Fails with an issue carrying the reason.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeCommand = (line: string): Effect.Effect<typeof Command.Encoded, SchemaIssue.Issue> => {
  if (line.trim() === "") return reject(new EmptyLine())
  if (isMessageLine(line)) {
    const message = line.startsWith("//") ? line.slice(1) : line
    return Effect.map(text(message, "a message"), (text) => ({ _tag: "Say" as const, text }))
  }
  const [word, rest] = firstWord(line.slice(1).trimEnd())
  const name = word.toLowerCase()
  switch (name) {
    case "nick": {
      if (rest === "") return reject(new Usage({ usage: "/nick NAME" }))
      return Effect.map(nickname(rest), (name) => ({ _tag: "Nick" as const, name }))
    }
    case "join": {
      if (rest === "") return reject(new Usage({ usage: "/join ROOM" }))
      return Effect.map(room(rest), (room) => ({ _tag: "Join" as const, room }))
    }
    case "msg": {
      const [to, message] = firstWord(rest)
      if (to === "" || message === "") return reject(new Usage({ usage: "/msg NICK TEXT" }))
      return Effect.flatMap(
        nickname(to),
        (to) => Effect.map(text(message, "/msg NICK TEXT"), (text) => ({ _tag: "Msg" as const, to, text }))
      )
    }
    case "me":
      return Effect.map(text(rest, "/me ACTION"), (action) => ({ _tag: "Me" as const, action }))
    case "rooms":
      return Effect.succeed({ _tag: "Rooms" as const })
    case "who":
      return Effect.succeed({ _tag: "Who" as const })
    case "quit":
      return Effect.succeed({ _tag: "Quit" as const })
    case "help":
      return Effect.succeed({ _tag: "Help" as const })
    default:
      return reject(new UnknownCommand({ name: word }))
  }
}

/**
 * Writes a command as the line a client sends.
 *
 * @since 0.1.0
 * @category encoding
 */
export const formatCommand = (command: typeof Command.Encoded): string => {
  switch (command._tag) {
    case "Say":
      return command.text.startsWith("/") ? `/${command.text}` : command.text
    case "Me":
      return `/me ${command.action}`
    case "Nick":
      return `/nick ${command.name}`
    case "Join":
      return `/join ${command.room}`
    case "Rooms":
      return "/rooms"
    case "Who":
      return "/who"
    case "Msg":
      return `/msg ${command.to} ${command.text}`
    case "Quit":
      return "/quit"
    case "Help":
      return "/help"
  }
}

/**
 * A command and its line form: decoding parses a line, encoding writes one.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CommandFromLine = Schema.String.pipe(Schema.decodeTo(Command, {
  decode: SchemaGetter.transformEffect(decodeCommand),
  encode: SchemaGetter.transform(formatCommand)
}))

const findReason = (issue: unknown): CommandErrorReason | undefined => {
  if (typeof issue !== "object" || issue === null) return undefined
  const node = issue as {
    readonly annotations?: Record<string, unknown> | undefined
    readonly issue?: unknown
    readonly issues?: ReadonlyArray<unknown>
  }
  const own = node.annotations?.[reasonKey]
  if (own !== undefined) return own as CommandErrorReason
  if (node.issue !== undefined) return findReason(node.issue)
  for (const child of node.issues ?? []) {
    const found = findReason(child)
    if (found !== undefined) return found
  }
  return undefined
}

const decodeCommandLine = Schema.decodeEffect(CommandFromLine)

/**
 * Parses a line into a command (a decode of `CommandFromLine`), with the
 * failure as a typed `CommandError`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseCommand = (line: string): Effect.Effect<Command, CommandError> =>
  Effect.mapError(decodeCommandLine(line), (error) =>
    new CommandError({
      reason: findReason(error.issue) ?? new Usage({ usage: error.message.split("\n")[0]! }),
      command: commandName(line)
    }))

/**
 * Everything the server sends, one per line.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Event = Schema.TaggedUnion({
  /** `<FROM> TEXT`: a message to your room. */
  Message: { from: Nickname, text: Text },
  /** `** FROM ACTION`: a `/me` in your room. */
  Action: { from: Nickname, action: Text },
  /** `*FROM* TEXT`: a private message to you. */
  Private: { from: Nickname, text: Text },
  /** `-> *TO* TEXT`: your private message, delivered. */
  PrivateSent: { to: Nickname, text: Text },
  /** `* you are now NICK` */
  NickSet: { nick: Nickname },
  /** `* you joined ROOM` */
  YouJoined: { room: RoomName },
  /** `* you are already in ROOM` */
  AlreadyIn: { room: RoomName },
  /** `* NICK joined ROOM` */
  Joined: { nick: Nickname, room: RoomName },
  /** `* NICK left ROOM` (moved to another room) */
  Left: { nick: Nickname, room: RoomName },
  /** `* NICK quit` */
  Quit: { nick: Nickname },
  /** `* NICK disconnected` (closed without `/quit`) */
  Disconnected: { nick: Nickname },
  /** `* OLD is now NEW` */
  NickChanged: { from: Nickname, to: Nickname },
  /** `* in ROOM: NICK, NICK, ...` */
  Who: { room: RoomName, nicks: Schema.Array(Nickname) },
  /** `* rooms: ROOM (N), ROOM (N), ...` or `* rooms: none` */
  Rooms: {
    rooms: Schema.Array(Schema.Struct({ name: RoomName, members: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) }))
  },
  /** `* bye` */
  Bye: {},
  /** `* server shutting down` */
  ShuttingDown: {},
  /** `* error: MESSAGE` */
  Error: { message: Text },
  /** `* TEXT`: any other server line (greeting, help). */
  Notice: { text: Text }
})

/**
 * A decoded event.
 *
 * @since 0.1.0
 * @category models
 */
export type Event = typeof Event.Type

/**
 * Writes an event as the line the server sends.
 *
 * @since 0.1.0
 * @category encoding
 */
export const formatEvent = (event: typeof Event.Encoded): string => {
  switch (event._tag) {
    case "Message":
      return `<${event.from}> ${event.text}`
    case "Action":
      return `** ${event.from} ${event.action}`
    case "Private":
      return `*${event.from}* ${event.text}`
    case "PrivateSent":
      return `-> *${event.to}* ${event.text}`
    case "NickSet":
      return `* you are now ${event.nick}`
    case "YouJoined":
      return `* you joined ${event.room}`
    case "AlreadyIn":
      return `* you are already in ${event.room}`
    case "Joined":
      return `* ${event.nick} joined ${event.room}`
    case "Left":
      return `* ${event.nick} left ${event.room}`
    case "Quit":
      return `* ${event.nick} quit`
    case "Disconnected":
      return `* ${event.nick} disconnected`
    case "NickChanged":
      return `* ${event.from} is now ${event.to}`
    case "Who":
      return `* in ${event.room}: ${event.nicks.join(", ")}`
    case "Rooms":
      return `* rooms: ${
        event.rooms.length === 0 ? "none" : event.rooms.map((room) => `${room.name} (${room.members})`).join(", ")
      }`
    case "Bye":
      return "* bye"
    case "ShuttingDown":
      return "* server shutting down"
    case "Error":
      return `* error: ${event.message}`
    case "Notice":
      return `* ${event.text}`
  }
}

const nick = `([A-Za-z0-9_-]{1,${maxName}})`
const roomName = `([a-z0-9_-]{1,${maxName}})`
const messageLine = new RegExp(`^<${nick}> ([\\s\\S]*)$`)
const actionLine = new RegExp(`^\\*\\* ${nick} ([\\s\\S]*)$`)
const privateSentLine = new RegExp(`^-> \\*${nick}\\* ([\\s\\S]*)$`)
const privateLine = new RegExp(`^\\*${nick}\\* ([\\s\\S]*)$`)
const serverLine: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => typeof Event.Encoded]> = [
  [new RegExp(`^you are now ${nick}$`), (m) => ({ _tag: "NickSet", nick: m[1]! })],
  [new RegExp(`^you joined ${roomName}$`), (m) => ({ _tag: "YouJoined", room: m[1]! })],
  [new RegExp(`^you are already in ${roomName}$`), (m) => ({ _tag: "AlreadyIn", room: m[1]! })],
  [new RegExp(`^${nick} joined ${roomName}$`), (m) => ({ _tag: "Joined", nick: m[1]!, room: m[2]! })],
  [new RegExp(`^${nick} left ${roomName}$`), (m) => ({ _tag: "Left", nick: m[1]!, room: m[2]! })],
  [new RegExp(`^${nick} quit$`), (m) => ({ _tag: "Quit", nick: m[1]! })],
  [new RegExp(`^${nick} disconnected$`), (m) => ({ _tag: "Disconnected", nick: m[1]! })],
  [new RegExp(`^${nick} is now ${nick}$`), (m) => ({ _tag: "NickChanged", from: m[1]!, to: m[2]! })],
  [new RegExp(`^in ${roomName}: (.*)$`), (m) => ({ _tag: "Who", room: m[1]!, nicks: m[2] === "" ? [] : m[2]!.split(", ") })],
  [/^rooms: none$/, () => ({ _tag: "Rooms", rooms: [] })],
  [new RegExp(`^rooms: (${roomName.slice(1, -1)} \\(\\d+\\)(?:, ${roomName.slice(1, -1)} \\(\\d+\\))*)$`), (m) =>
    ({
      _tag: "Rooms",
      rooms: m[1]!.split(", ").map((entry) => {
        const [name, count] = entry.split(" (")
        return { name: name!, members: Number(count!.slice(0, -1)) }
      })
    })],
  [/^bye$/, () => ({ _tag: "Bye" })],
  [/^server shutting down$/, () => ({ _tag: "ShuttingDown" })],
  [/^error: ([\s\S]*)$/, (m) => ({ _tag: "Error", message: m[1]! })]
]

/**
 * Reads one server line as an event (see `formatEvent` for the forms). A
 * `* ` line that matches no specific form is a `Notice`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeEvent = (line: string): Effect.Effect<typeof Event.Encoded, SchemaIssue.Issue> => {
  let m = messageLine.exec(line)
  if (m !== null) return Effect.succeed({ _tag: "Message", from: m[1]!, text: m[2]! })
  m = actionLine.exec(line)
  if (m !== null) return Effect.succeed({ _tag: "Action", from: m[1]!, action: m[2]! })
  m = privateSentLine.exec(line)
  if (m !== null) return Effect.succeed({ _tag: "PrivateSent", to: m[1]!, text: m[2]! })
  m = privateLine.exec(line)
  if (m !== null) return Effect.succeed({ _tag: "Private", from: m[1]!, text: m[2]! })
  if (line.startsWith("* ")) {
    const rest = line.slice(2)
    for (const [pattern, make] of serverLine) {
      const found = pattern.exec(rest)
      if (found !== null) return Effect.succeed(make(found))
    }
    return Effect.succeed({ _tag: "Notice", text: rest })
  }
  return Effect.fail(new SchemaIssue.InvalidValue({ message: "not a chat server line" }))
}

/**
 * An event and its line form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EventFromLine = Schema.String.pipe(Schema.decodeTo(Event, {
  decode: SchemaGetter.transformEffect(decodeEvent),
  encode: SchemaGetter.transform(formatEvent)
}))

/**
 * Parses one server line into an event.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseEvent: (line: string) => Effect.Effect<Event, Schema.SchemaError> = Schema.decodeEffect(EventFromLine)

/**
 * The lines sent on connect.
 *
 * @since 0.1.0
 * @category constants
 */
export const greeting: ReadonlyArray<Event> = [
  { _tag: "Notice", text: "welcome to socket-to-me chat" },
  { _tag: "Notice", text: "choose a nickname with /nick NAME (type /help for commands)" }
]

/**
 * What a server of a shared chat tells its members, once, when its link to
 * the other servers fails (and what it greets a connection with until the
 * link is back).
 *
 * @since 0.1.0
 * @category constants
 */
export const linkLost: Event = {
  _tag: "Notice",
  text: "notice: lost the link to the other chat servers; until it is back, only people on this server see your messages"
}

/**
 * What a server of a shared chat tells its members when its link to the
 * other servers is back.
 *
 * @since 0.1.0
 * @category constants
 */
export const linkBack: Event = { _tag: "Notice", text: "notice: the link to the other chat servers is back" }

/**
 * The error a member of a shared chat receives when another server holds
 * its nickname now (claimed there while this server was cut off).
 *
 * @since 0.1.0
 * @category constants
 */
export const nicknameLost = (nick: string): string =>
  `nickname ${nick} was taken on another server while this one was cut off; choose another with /nick NAME`

/**
 * The reply to `/help`.
 *
 * @since 0.1.0
 * @category constants
 */
export const help: ReadonlyArray<Event> = [
  "commands:",
  `  /nick NAME       choose or change your nickname (1-${maxName} letters, digits, _ or -)`,
  "  /join ROOM       leave your room for ROOM (created if new)",
  "  /rooms           list rooms and how many are in each",
  "  /who             list who is in your room",
  "  /msg NICK TEXT   send TEXT to NICK only",
  "  /me ACTION       tell your room what you are doing",
  "  /quit            leave the chat",
  "  /help            this list",
  "any other line goes to everyone else in your room (start it with // to send a leading /)"
].map((text) => ({ _tag: "Notice", text }))
