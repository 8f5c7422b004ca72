/**
 * `socket-to-me chat serve` and `socket-to-me chat join`.
 *
 * `join` is interactive on a terminal (see `ChatTerminal`). Otherwise (stdin
 * or stdout not a terminal) it is a pipe: it sends each line of stdin,
 * prints every line the server sends on stdout, and after stdin ends sends
 * `/quit` and exits once the server has closed, so that everything the
 * server had to say about those lines has been printed. Refused logins (a
 * taken or invalid nickname, a full server), a peer that is not a chat
 * server (no greeting within `ChatConfig.greetingTimeout`, or another
 * one), and a session the server ends (shutdown, idle timeout, a client cut
 * off) are one line on stderr, saying why, and exit 1.
 *
 * `serve --redis redis://HOST:PORT` shares the chat with every other chat
 * server on that Redis (see `RedisBus` and docs/scale-out.md); without it
 * the server is the whole chat. A bad URL or a Redis that cannot be reached
 * at start is one line on stderr and exit 1; once running, the server
 * rides out Redis outages.
 *
 * @since 0.1.0
 */
import * as LineCodec from "@socket-to-me/core/LineCodec"
import type * as Server from "@socket-to-me/core/Server"
import type * as ServerError from "@socket-to-me/core/ServerError"
import * as Runner from "@socket-to-me/node/Runner"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Chat from "../chat/Chat.ts"
import * as ChatConfig from "../chat/ChatConfig.ts"
import * as ChatClient from "../chat/ChatClient.ts"
import * as ChatRoom from "../chat/ChatRoom.ts"
import * as RedisBus from "../chat/RedisBus.ts"
import * as Protocol from "../chat/Protocol.ts"
import * as ChatTerminal from "./ChatTerminal.ts"
import * as Flags from "./Flags.ts"
import * as Tracing from "./Tracing.ts"

const rateLimit = Flags.fromText({
  name: "rate-limit",
  env: "SOCKET_TO_ME_CHAT_RATE_LIMIT",
  metavar: "N",
  description:
    `Lines per second each connection may send; excess lines are dropped with a notice; 0 turns flood control off (default ${ChatConfig.rateLimit}, env SOCKET_TO_ME_CHAT_RATE_LIMIT)`,
  parse: Flags.parseWhole,
  expected: "a whole number, 0 or more"
}).pipe(Flag.map(Option.getOrElse(() => ChatConfig.rateLimit)))

const rateBurst = Flags.fromText({
  name: "rate-burst",
  env: "SOCKET_TO_ME_CHAT_RATE_BURST",
  metavar: "N",
  description:
    `Lines each connection may send at once before the rate limit applies (default ${ChatConfig.rateBurst}, env SOCKET_TO_ME_CHAT_RATE_BURST)`,
  parse: (text) => Option.filter(Flags.parseWhole(text), (n) => n >= 1),
  expected: "a whole number, at least 1"
}).pipe(Flag.map(Option.getOrElse(() => ChatConfig.rateBurst)))

const redis = Flags.fromText({
  name: "redis",
  env: "SOCKET_TO_ME_CHAT_REDIS",
  metavar: "URL",
  description:
    "Share the chat with every chat server on this Redis, e.g. redis://127.0.0.1:6379 (default: none, this server is the whole chat; env SOCKET_TO_ME_CHAT_REDIS)",
  parse: (text) => Option.some(text.trim()).pipe(Option.filter((url) => url !== "")),
  expected: "a Redis URL such as redis://127.0.0.1:6379"
})

const redisLease = Flags.fromText({
  name: "redis-lease",
  env: "SOCKET_TO_ME_CHAT_REDIS_LEASE",
  metavar: "DURATION",
  description:
    `With --redis: how long a nickname stays taken after its server stops renewing it (it died or lost Redis), and how long the others wait before announcing its members as disconnected (e.g. 5s; default ${Duration.format(Duration.fromInputUnsafe(ChatConfig.redisLease))}, env SOCKET_TO_ME_CHAT_REDIS_LEASE)`,
  parse: (text) => Option.filter(Flags.parseDuration(text), (lease) => Duration.toMillis(lease) >= 1),
  expected: "a duration of at least 1ms, such as 5s or 15s"
}).pipe(Flag.map(Option.getOrElse(() => Duration.fromInputUnsafe(ChatConfig.redisLease))))

/**
 * Starts the chat room and the chat server on `endpoint` for the life of
 * the scope, printing `chat listening on HOST:PORT`. The room is created
 * first, so it outlives the server's drain. With `redis`, the room shares
 * the chat through that Redis, linked before the server listens.
 *
 * @since 0.1.0
 * @category running
 */
export const start = Effect.fnUntraced(function*(
  listen: Flags.Listen,
  settings: Flags.ServerSettings,
  options: Chat.Options = {},
  redis?: RedisBus.Options
): Effect.fn.Return<Server.Server, ServerError.ServerError | RedisBus.RedisBusError, Scope.Scope> {
  const bus = redis === undefined ? undefined : yield* RedisBus.make(redis)
  if (redis !== undefined) yield* Console.log(`chat sharing its rooms through Redis at ${yield* RedisBus.parseUrl(redis.url)}`)
  const room = yield* ChatRoom.make({ bus })
  const handler = Chat.handler({ ...options, frameDeadline: Flags.zeroIsOff(settings.frameDeadline) })
  const perAddress = settings.maxConnectionsPerAddress ?? Option.some(ChatConfig.maxConnectionsPerAddress)
  const serveOptions = Flags.serveOptions("chat", listen, { ...settings, maxConnectionsPerAddress: perAddress })
  return yield* Runner.start(handler, { ...Chat.serverOptions, ...serveOptions }).pipe(
    Effect.provideService(ChatRoom.ChatRoom, room)
  )
})

const serve = Command.make(
  "serve",
  {
    host: Flags.host,
    port: Flags.listenPort(Chat.defaultPort),
    listener: Flags.listener,
    maxConnectionsPerAddress: Flags.maxConnectionsPerAddress(Option.some(ChatConfig.maxConnectionsPerAddress)),
    rateLimit,
    rateBurst,
    redis,
    redisLease,
    otlpEndpoint: Tracing.otlpEndpoint,
    ...Flags.server
  },
  ({ host, listener, otlpEndpoint, port, rateBurst, rateLimit, redis, redisLease, ...settings }) =>
    Effect.scoped(Effect.gen(function*() {
      const listen = yield* Flags.listenOn(host, port, Chat.defaultPort, listener)
      yield* start(
        listen,
        settings,
        { rateLimit, rateBurst },
        Option.isSome(redis) ? { url: redis.value, lease: redisLease } : undefined
      )
      return yield* Effect.never
    })).pipe(Tracing.exportTo("chat", otlpEndpoint))
).pipe(
  Command.withDescription("Run the chat server: rooms, nicknames, private messages; usable from nc and telnet."),
  Command.withExamples([
    { command: "socket-to-me chat serve", description: "Listen on 127.0.0.1:7002" },
    { command: "socket-to-me chat serve --host 0.0.0.0 --rate-limit 5", description: "Reachable from other hosts, 5 lines/s each" },
    { command: "socket-to-me chat serve --tls-cert cert.pem --tls-key key.pem", description: "Serve TLS" },
    {
      command: "socket-to-me chat serve --port 7012 --redis redis://127.0.0.1:6379",
      description: "One of several servers sharing one chat through Redis"
    }
  ])
)

const isNickname = Schema.is(Protocol.Nickname)

const join = Command.make(
  "join",
  {
    host: Flags.host,
    port: Flags.connectPort(Chat.defaultPort),
    dialer: Flags.dialer,
    nick: Flag.String("nick").pipe(
      Flag.withDescription(`Your nickname: 1 to ${ChatConfig.maxNameLength} letters, digits, _ or -`),
      Flag.filter(isNickname, (nick) => `--nick must be 1 to ${ChatConfig.maxNameLength} letters, digits, _ or - (and not "you"), got "${nick}"`)
    ),
    room: Flag.String("room").pipe(Flag.withDescription("Room to join after logging in (default: lobby)"), Flag.optional)
  },
  Effect.fnUntraced(function*({ dialer, host, nick, port, room }) {
    const stdio = yield* Stdio.Stdio
    const interactive = (yield* stdio.stdinIsTerminal) && (yield* stdio.stdoutIsTerminal)
    const target = yield* Flags.dialTo(host, port, Chat.defaultPort, dialer)
    yield* Effect.scoped(Effect.gen(function*() {
      const session = yield* ChatClient.connect(target.dial, {
        address: target.address,
        nick,
        room: room._tag === "Some" ? room.value : undefined
      })
      if (interactive) return yield* ChatTerminal.run(session)
      const input = stdio.stdin.pipe(LineCodec.make({ maxLineBytes: ChatConfig.maxLineBytes }).decode)
      yield* Stream.fromIterable(session.transcript).pipe(
        Stream.concat(ChatClient.exchange(session, input)),
        Stream.map((line) => `${line}\n`),
        Stream.run(stdio.stdout())
      )
    }))
  })
).pipe(
  Command.withDescription(
    "Join a chat server: interactive on a terminal; with piped stdin, sends each line, prints the replies, and exits."
  ),
  Command.withExamples([
    { command: "socket-to-me chat join --nick ada", description: "Chat in the lobby" },
    { command: "socket-to-me chat join --nick ada --room dev", description: "Chat in room dev" },
    { command: "printf 'hi\\n' | socket-to-me chat join --nick bot", description: "Say hi and leave" }
  ])
)

/**
 * The `chat` command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("chat").pipe(
  Command.withDescription("Multi-client chat server and client (line protocol, see docs/protocols/chat.md)."),
  Command.withSubcommands([serve, join])
)
