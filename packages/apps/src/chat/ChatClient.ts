/**
 * The chat client, without a terminal: connect, log in (`/nick`, then
 * `/join` if asked), then send lines and read the server's lines. The CLI's
 * `chat join` puts a terminal or stdin/stdout around it; tests use it as is.
 *
 * Stage: read and write on the dialing side, then protocol decode of the
 * login replies. Outgoing lines are paced by the same token bucket the
 * server enforces (default limits), so a script piping many lines is slowed
 * down instead of having lines dropped by the server's flood control.
 *
 * A chat server speaks first: the client waits for its greeting, a server
 * line (`* ...`), for at most `ChatConfig.greetingTimeout` before sending
 * anything, so that a peer that is not a chat server (one that waits to be
 * spoken to, like echo, or one that greets otherwise) is reported as such
 * promptly (`NotChat`) instead of leaving the user before a silent prompt.
 * A session ends normally only after the server's `* bye` (the reply to
 * `/quit`); when the server ends it otherwise, `lines` fails with
 * `SessionEnded`, saying why from the server's last line.
 *
 * @since 0.1.0
 */
import * as Client from "@socket-to-me/core/Client"
import * as Config from "@socket-to-me/core/Config"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as Duplex from "@socket-to-me/core/Duplex"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import type * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as ChatConfig from "./ChatConfig.ts"
import * as Flood from "./Flood.ts"
import * as Protocol from "./Protocol.ts"
import * as Sanitize from "./Sanitize.ts"

/**
 * The server answered the login with an error line (a taken or invalid
 * nickname, an invalid room); `detail` is its message.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Refused extends Data.TaggedError("Refused")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/**
 * The server closed the connection before the login completed without
 * saying why (it is shutting down, or the connection broke).
 *
 * @since 0.1.0
 * @category reasons
 */
export class ClosedDuringLogin extends Data.TaggedError("ClosedDuringLogin")<{}> {
  override get message(): string {
    return "the server closed the connection during the login"
  }
}

/**
 * The peer is not a chat server: it did not greet within the greeting
 * timeout (`greeting` undefined), or its first line is no chat server line.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NotChat extends Data.TaggedError("NotChat")<{
  readonly address: string
  readonly timeout: Duration.Duration
  readonly greeting: string | undefined
}> {
  override get message(): string {
    return this.greeting === undefined
      ? `${this.address} is not a chat server: it sent no greeting within ${Duration.format(this.timeout)}`
      : `${this.address} is not a chat server: it greeted with "${shorten(this.greeting)}"`
  }
}

// A line from an unknown peer, fit to quote in one line of an error.
const shorten = (line: string): string => {
  const clean = Sanitize.sanitize(line)
  return clean.length > 60 ? `${clean.slice(0, 60)}...` : clean
}

/**
 * The login did not complete; `reason` says why.
 *
 * @since 0.1.0
 * @category errors
 */
export class LoginError extends Data.TaggedError("LoginError")<{ readonly reason: Refused | ClosedDuringLogin | NotChat }> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * The server ended the session without `* bye` (the reply to `/quit`).
 * `last` is its last line if that line announced the close (`* server
 * shutting down`, `* error: ...; closing`), undefined if it closed without
 * saying why (as it does to a client that stopped reading).
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionEnded extends Data.TaggedError("SessionEnded")<{ readonly last: string | undefined }> {
  override get message(): string {
    const last = this.last
    if (last === undefined) return "connection closed by server"
    if (last === shuttingDown) return "the server is shutting down"
    return `the server closed the connection: ${last.slice(errorPrefix.length, -closingSuffix.length)}`
  }
}

const bye = Protocol.formatEvent({ _tag: "Bye" })
const shuttingDown = Protocol.formatEvent({ _tag: "ShuttingDown" })
const errorPrefix = "* error: "
const closingSuffix = "; closing"

/**
 * Whether a server line announces that the server closes the connection
 * next (docs/protocols/chat.md, section 2): `* bye`, `* server shutting
 * down`, or an error line ending in `; closing`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const announcesClose = (line: string): boolean =>
  line === bye || line === shuttingDown || (line.startsWith(errorPrefix) && line.endsWith(closingSuffix))

/**
 * A logged-in connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  /** The server's lines up to and including the login replies (greeting, `* you are now ...`). */
  readonly transcript: ReadonlyArray<string>
  /** The nickname the server accepted. */
  readonly nick: string
  /** The room joined at the login, as the server named it (`lobby`, or `--room` lowercased). */
  readonly room: string
  /**
   * The server's lines after the login, until it closes. Ends after `* bye`;
   * fails with `SessionEnded` when the server closes otherwise. Read it once.
   */
  readonly lines: Stream.Stream<string, ConnectionError.ConnectionError | SessionEnded>
  /** Sends one line (paced by the flood limits). */
  readonly send: (line: string) => Effect.Effect<void, ConnectionError.ConnectionError>
  /** Sends `/quit`: the server says `* bye` and closes, which ends `lines`. */
  readonly quit: Effect.Effect<void, ConnectionError.ConnectionError>
  readonly duplex: Duplex.Duplex
}

/**
 * Login and pacing options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Shown in errors, e.g. `127.0.0.1:7002`. */
  readonly address: string
  readonly nick: string
  /** Joined after the nickname is accepted; default: stay in the lobby. */
  readonly room?: string | undefined
  /** Pace outgoing lines; default the server's default limits; `rate: 0` sends at once. */
  readonly pace?: Flood.Limits | undefined
  /** How long to wait for the server's greeting. Default `ChatConfig.greetingTimeout`. */
  readonly greetingTimeout?: Duration.Input | undefined
}

const encoder = new TextEncoder()

/**
 * Connects with `makeSocket` and logs in. The connection lives in the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = Effect.fnUntraced(function*<R>(
  makeSocket: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, R>,
  options: Options
): Effect.fn.Return<Session, Client.ConnectError | LoginError | ConnectionError.ConnectionError, Scope.Scope | R> {
  const duplex = yield* Client.connect(makeSocket, { address: options.address })
  const pull = yield* Stream.toPull(LineCodec.make({ maxLineBytes: Config.maxLineBytes }).decode(duplex.input))
  // Lines pulled but not yet handed out, in order.
  const pending: Array<string> = []
  const transcript: Array<string> = []
  const nextLine: Effect.Effect<string | undefined, ConnectionError.ConnectionError> = Effect.suspend(() => {
    const line = pending.shift()
    if (line !== undefined) return Effect.succeed(line)
    return Pull.matchEffect(pull, {
      onSuccess: (lines) => {
        pending.push(...lines)
        return nextLine
      },
      onFailure: Effect.failCause,
      onDone: () => Effect.succeed(undefined)
    })
  })
  // Reads until a line the predicate accepts or rejects; returns the accepted event.
  const await_ = <A extends Protocol.Event>(accept: (event: Protocol.Event) => event is A) =>
    Effect.gen(function*() {
      while (true) {
        const line = yield* nextLine
        if (line === undefined) return yield* new LoginError({ reason: new ClosedDuringLogin() })
        transcript.push(line)
        const event = yield* Effect.option(Protocol.parseEvent(line))
        if (event._tag === "None") continue
        if (event.value._tag === "Error") {
          return yield* new LoginError({ reason: new Refused({ detail: event.value.message }) })
        }
        if (accept(event.value)) return event.value
      }
    })

  // The greeting: a chat server's first line is a server line. Anything
  // else, or nothing in time (a line too long for the codec included),
  // is not a chat server. A refusal (`* error: server full`) is a server
  // line too, and the server closes after it: it is reported before
  // anything is sent.
  const timeout = Duration.fromInputUnsafe(options.greetingTimeout ?? ChatConfig.greetingTimeout)
  const notChat = (greeting: string | undefined) =>
    new LoginError({ reason: new NotChat({ address: options.address, timeout, greeting }) })
  const greeting = yield* nextLine.pipe(
    Effect.catchIf(
      (error) => error.reason._tag === "FrameTooLarge",
      () => Effect.fail(notChat(undefined))
    ),
    Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(notChat(undefined)) })
  )
  if (greeting === undefined) return yield* new LoginError({ reason: new ClosedDuringLogin() })
  if (!greeting.startsWith("* ")) return yield* notChat(greeting)
  transcript.push(greeting)
  const refused = yield* Effect.option(Protocol.parseEvent(greeting))
  if (refused._tag === "Some" && refused.value._tag === "Error") {
    return yield* new LoginError({ reason: new Refused({ detail: refused.value.message }) })
  }

  const clock = yield* Clock.Clock
  const pace = options.pace ?? { rate: ChatConfig.rateLimit, burst: ChatConfig.rateBurst }
  // Owned by whichever fiber sends; sends are meant to come from one fiber.
  let bucket = Flood.full(pace, clock.currentTimeMillisUnsafe())
  const send = (line: string): Effect.Effect<void, ConnectionError.ConnectionError> =>
    Effect.suspend(() => {
      const taken = Flood.take(pace, bucket, clock.currentTimeMillisUnsafe())
      bucket = taken.bucket
      if (taken.allowed) return duplex.write([encoder.encode(`${line}\n`)])
      // Wait for the next token: (1 - tokens) / rate seconds.
      return Effect.andThen(Effect.sleep(Math.ceil(((1 - taken.bucket.tokens) * 1000) / pace.rate)), send(line))
    })

  yield* send(Protocol.formatCommand({ _tag: "Nick", name: options.nick }))
  // A first nickname is answered with `* you are now NICK`, then `* you joined lobby`.
  let room = (yield* await_((event) => event._tag === "YouJoined")).room
  if (options.room !== undefined) {
    yield* send(`/join ${options.room}`)
    room = (yield* await_((event) => event._tag === "YouJoined" || event._tag === "AlreadyIn")).room
  }

  const rest: Pull.Pull<Arr.NonEmptyReadonlyArray<string>, ConnectionError.ConnectionError> = Effect.suspend(() =>
    pending.length > 0 ? Effect.succeed(pending.splice(0) as unknown as Arr.NonEmptyReadonlyArray<string>) : pull
  )
  // The last line seen, to tell a goodbye from a close without one.
  let last: string | undefined = transcript.at(-1)
  const lines = Stream.fromPull(Effect.succeed(rest)).pipe(
    Stream.tap((line) => Effect.sync(() => (last = line))),
    Stream.concat(Stream.suspend(() =>
      last === bye
        ? Stream.empty
        : Stream.fail(new SessionEnded({ last: last !== undefined && announcesClose(last) ? last : undefined }))
    ))
  )
  return { transcript, nick: options.nick, room, lines, send, quit: send("/quit"), duplex }
})

/**
 * Sends every line of `input` (then `/quit`) while streaming every line the
 * server sends, until it closes: the non-interactive client. Ends once the
 * server has answered everything sent (its `* bye` comes after all of it),
 * or as soon as the server closes for another reason.
 *
 * @since 0.1.0
 * @category running
 */
export const exchange = <E, R>(
  session: Session,
  input: Stream.Stream<string, E, R>
): Stream.Stream<string, E | ConnectionError.ConnectionError | SessionEnded, R> =>
  Stream.merge(
    session.lines,
    Stream.fromEffectDrain(Effect.andThen(Stream.runForEach(input, session.send), session.quit)),
    { haltStrategy: "left" }
  )

