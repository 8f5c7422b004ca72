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
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as ChatConfig from "./ChatConfig.ts"
import * as Flood from "./Flood.ts"
import * as Protocol from "./Protocol.ts"

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
 * The login did not complete; `reason` says why.
 *
 * @since 0.1.0
 * @category errors
 */
export class LoginError extends Data.TaggedError("LoginError")<{ readonly reason: Refused | ClosedDuringLogin }> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * A logged-in connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  /** The server's lines up to and including the login replies (greeting, `* you are now ...`). */
  readonly transcript: ReadonlyArray<string>
  /** The server's lines after the login, until it closes. Read it once. */
  readonly lines: Stream.Stream<string, ConnectionError.ConnectionError>
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
  // Reads until a line the predicate accepts or rejects.
  const await_ = (accept: (event: Protocol.Event) => boolean) =>
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
        if (accept(event.value)) return
      }
    })

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
  yield* await_((event) => event._tag === "YouJoined")
  if (options.room !== undefined) {
    yield* send(`/join ${options.room}`)
    yield* await_((event) => event._tag === "YouJoined" || event._tag === "AlreadyIn")
  }

  const rest: Pull.Pull<Arr.NonEmptyReadonlyArray<string>, ConnectionError.ConnectionError> = Effect.suspend(() =>
    pending.length > 0 ? Effect.succeed(pending.splice(0) as unknown as Arr.NonEmptyReadonlyArray<string>) : pull
  )
  return {
    transcript,
    lines: Stream.fromPull(Effect.succeed(rest)),
    send,
    quit: send("/quit"),
    duplex
  }
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
): Stream.Stream<string, E | ConnectionError.ConnectionError, R> =>
  Stream.merge(
    session.lines,
    Stream.fromEffectDrain(Effect.andThen(Stream.runForEach(input, session.send), session.quit)),
    { haltStrategy: "left" }
  )

