/**
 * The chat bus over Redis: any number of chat servers on one Redis share
 * one chat. Built on effect's Redis service (`effect/persistence/Redis`)
 * with `@effect/platform-node`'s `NodeRedis` (the `redis` client), against
 * a real `redis-server`; nothing here speaks RESP itself.
 *
 * Stage: app, beside the chat room (see `ChatBus` for what crosses). What
 * is in Redis (docs/scale-out.md has the picture):
 * - one pub/sub channel, `PREFIX:bus`: every server publishes its events
 *   there, in order, as JSON `Envelope`s (a batch of events, numbered), and
 *   every server subscribes to it;
 * - one key per nickname in use, `PREFIX:nick:NAME` (lowercased), holding
 *   `SERVER:CONN` with a time to live (the lease): taken with a script that
 *   sets it only if it is free or already ours, renewed every third of the
 *   lease, deleted (if still ours) when the member leaves or renames.
 *
 * The link is one owner's loop: connect (the main connection and the
 * subscriber), say `LinkUp`, then run three fibers until the first fails:
 * the publisher (drains the outbound queue in order: one `PUBLISH` per
 * batch of events, lease scripts in between, every command under a
 * timeout), the receiver (the subscription, decoded, into `incoming`) and
 * the ticker. Then say `LinkDown`, close both connections and connect
 * again on a back-off, for ever. node-redis's own reconnecting is turned
 * off, so the link is up exactly while this loop says so, and a
 * subscription that was silently re-made (losing what was published
 * meanwhile) cannot pass for one that never broke.
 *
 * The room never waits on Redis: `emit` only queues, a full queue fails the
 * link, and `claim` answers `Unlinked` at once while the link is down (or
 * after the timeout).
 *
 * @since 0.1.0
 */
import * as CoreConfig from "@socket-to-me/core/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as ChatBus from "./ChatBus.ts"
import * as ChatConfig from "./ChatConfig.ts"

/**
 * Options of the Redis bus.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://HOST:PORT` (or `rediss://`, with `USER:PASSWORD@` and `/DB` if needed). */
  readonly url: string
  /** Nickname lease and heartbeat time. Default `ChatConfig.redisLease`. */
  readonly lease?: Duration.Input | undefined
  /** Timeout of every command and of connecting. Default `ChatConfig.redisTimeout`. */
  readonly timeout?: Duration.Input | undefined
  /** Longest wait between reconnect attempts. Default `ChatConfig.redisReconnectMax`. */
  readonly reconnectMax?: Duration.Input | undefined
  /** Prefix of the keys and the channel. Default `ChatConfig.redisPrefix`. */
  readonly prefix?: string | undefined
}

/**
 * The `--redis` URL is not one: `detail` says why.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidUrl extends Data.TaggedError("InvalidUrl")<{ readonly url: string; readonly detail: string }> {
  override get message(): string {
    return `invalid Redis URL "${this.url}": ${this.detail}`
  }
}

/**
 * Redis could not be reached at start (refused, unknown host, timeout).
 *
 * @since 0.1.0
 * @category reasons
 */
export class Unreachable extends Data.TaggedError("Unreachable")<{ readonly address: string; readonly detail: string }> {
  override get message(): string {
    return `cannot reach Redis at ${this.address}: ${this.detail}`
  }
}

/**
 * Every reason the bus cannot start.
 *
 * @since 0.1.0
 * @category models
 */
export type RedisBusErrorReason = InvalidUrl | Unreachable

/**
 * The bus could not start; its message is one line saying why.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisBusError extends Data.TaggedError("RedisBusError")<{ readonly reason: RedisBusErrorReason }> {
  override get message(): string {
    return this.reason.message
  }
}

// The URL's scheme, host and port (never its password), for messages.
const addressOf = (url: URL) => `${url.protocol}//${url.host}`

/**
 * Checks a Redis URL: `redis://` or `rediss://`, with a host. Returns the
 * address to show in messages (without any password).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseUrl = (url: string): Effect.Effect<string, RedisBusError> => {
  const invalid = (detail: string) => Effect.fail(new RedisBusError({ reason: new InvalidUrl({ url, detail }) }))
  if (!URL.canParse(url)) return invalid("expected redis://HOST:PORT")
  const parsed = new URL(url)
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return invalid(`expected redis:// or rediss://, got ${parsed.protocol}//`)
  }
  if (parsed.hostname === "") return invalid("no host")
  return Effect.succeed(addressOf(parsed))
}

// A lease is taken if it is free; one already ours is left as it is.
// Every write of a lease's expiry is followed, in this server's publish
// order, by something on the bus (a fresh claim by the member's `Set`, a
// renewal by the `Beat` or `Hello` queued after it), so when the others
// give up on a silent server, its leases have lapsed already.
const claimScript = Redis.script(
  (key: string, owner: string, ttl: number) => [key, owner, ttl],
  {
    numberOfKeys: 1,
    lua: `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return 1 end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`
  }
).withReturnType<number>()

// Deleted only if still ours: a lapsed lease may be someone else's now.
const releaseScript = Redis.script(
  (key: string, owner: string) => [key, owner],
  {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`
  }
)

// Every lease ours is renewed, every lapsed one taken again; returns the
// (1-based) positions of those someone else holds now.
const renewScript = Redis.script(
  (keys: ReadonlyArray<string>, owners: ReadonlyArray<string>, ttl: number) => [...keys, ttl, ...owners],
  {
    numberOfKeys: (keys) => keys.length,
    lua: `
local lost = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v == ARGV[i + 1] then redis.call('PEXPIRE', key, ARGV[1])
  elseif not v then redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  else lost[#lost + 1] = i end
end
return lost`
  }
).withReturnType<ReadonlyArray<number>>()

// Leases renewed per script call: one call stays short for Redis (which
// runs a script alone), and large chats take a few calls.
const renewChunk = 500

// What the link's publisher takes: the room's messages, nickname claims
// (from the connections' fibers, answered through `done`), and a flush (on
// shutdown): done once everything queued before it was sent. Claims go
// through the same queue as releases, so a nickname this server released
// is free for a claim made after it (a user who quits and comes back at
// once gets their name again).
type Outbound =
  | ChatBus.Outgoing
  | { readonly _tag: "Claim"; readonly lease: ChatBus.Lease; readonly done: Deferred.Deferred<ChatBus.Claim> }
  | { readonly _tag: "Flush"; readonly done: Deferred.Deferred<void> }

// Answers what waits in a queue that will not be sent: claims are decided
// locally, flushes are over.
const abandon = (messages: ReadonlyArray<Outbound>) =>
  Effect.forEach(messages, (message) =>
    message._tag === "Claim"
      ? Deferred.succeed(message.done, "Unlinked")
      : message._tag === "Flush"
      ? Deferred.succeed(message.done, undefined)
      : Effect.void, { discard: true })

interface Link {
  readonly redis: Redis.Redis["Service"]
  readonly messages: Queue.Dequeue<Redis.RedisMessage, Redis.RedisError>
  readonly scope: Scope.Closeable
}

// The first line of what node-redis said.
const describe = (error: Redis.RedisError): string => {
  const cause = error.cause
  return (cause instanceof Error ? cause.message : String(cause)).split("\n")[0]!
}

/**
 * Connects to Redis (failing with a one-line `RedisBusError` if it cannot)
 * and keeps the link for the life of the scope, reconnecting whenever it
 * fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options): Effect.fn.Return<ChatBus.Bus, RedisBusError, Scope.Scope> {
  const address = yield* parseUrl(options.url)
  const lease = Duration.fromInputUnsafe(options.lease ?? ChatConfig.redisLease)
  const leaseMs = Math.max(1, Math.round(Duration.toMillis(lease)))
  const timeout = Duration.fromInputUnsafe(options.timeout ?? ChatConfig.redisTimeout)
  const reconnectMax = Duration.fromInputUnsafe(options.reconnectMax ?? ChatConfig.redisReconnectMax)
  const prefix = options.prefix ?? ChatConfig.redisPrefix
  const channel = `${prefix}:bus`
  const nickKey = (nick: string) => `${prefix}:nick:${nick.toLowerCase()}`
  const server = (yield* Effect.all([Random.nextIntBetween(0, 2 ** 31), Random.nextIntBetween(0, 2 ** 31)]))
    .map((n) => n.toString(36).padStart(6, "0")).join("")
  const owner = (conn: number) => `${server}:${conn}`
  const ownPrefix = `{"server":${JSON.stringify(server)},`

  const outbound = yield* Queue.bounded<Outbound>(ChatConfig.redisOutbound)
  // As deep as the room's mailbox, which it feeds.
  const incoming = yield* Queue.bounded<ChatBus.Incoming>(CoreConfig.actorMailboxSize)
  const current = yield* Ref.make(Option.none<Redis.Redis["Service"]>())
  // Set by `emit` (any fiber, synchronously) when the outbound queue is
  // full; read and cleared by the link's loop.
  let overflowed = false
  // Envelope numbers, used by the publisher alone (one link at a time).
  let seq = 0
  const parentScope = yield* Effect.scope

  // Both connections in a scope of their own, closed when the link fails.
  // NodeRedis logs every socket error as a warning with a stack; the link
  // says what failed once, in one line, instead.
  const connect = Effect.gen(function*() {
    const scope = yield* Scope.fork(parentScope, "sequential")
    return yield* Effect.gen(function*() {
      const context = yield* Layer.buildWithScope(
        NodeRedis.layer({
          url: options.url,
          socket: { reconnectStrategy: false, connectTimeout: Duration.toMillis(timeout) }
        }),
        scope
      )
      const redis = Context.get(context, Redis.Redis)
      const messages = yield* Scope.provide(redis.subscribe(channel), scope)
      return { redis, messages, scope } satisfies Link
    }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.times(timeout, 2),
        orElse: () => Effect.fail(new Redis.RedisError({ cause: new Error(`no answer within ${Duration.format(timeout)}`) }))
      }),
      Effect.provideService(References.MinimumLogLevel, "Error"),
      Effect.onError(() => Scope.close(scope, Exit.void))
    )
  })

  const send = <A>(effect: Effect.Effect<A, Redis.RedisError>, what: string) =>
    effect.pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(new Redis.RedisError({ cause: new Error(`${what}: no answer within ${Duration.format(timeout)}`) }))
      })
    )

  const encodeEnvelope = Schema.encodeSync(ChatBus.EnvelopeFromJson)
  const decodeEnvelope = Schema.decodeUnknownExit(ChatBus.EnvelopeFromJson)

  // Drains the outbound queue in order. Consecutive events go out as one
  // envelope; lease scripts run between them, so a release published
  // before a line is done before the line is seen.
  const publisher = (redis: Redis.Redis["Service"]) =>
    Effect.gen(function*() {
      const publish = (events: ReadonlyArray<ChatBus.Wire>) =>
        send(redis.send("PUBLISH", channel, encodeEnvelope({ server, seq: ++seq, events })), "PUBLISH")
      while (true) {
        const batch = yield* Queue.takeBetween(outbound, 1, ChatConfig.redisBatch)
        if (overflowed) return `more than ${ChatConfig.redisOutbound} events waiting for Redis`
        let events: Array<ChatBus.Wire> = []
        for (const message of batch) {
          if (message._tag === "Publish") {
            events.push(message.event)
            if (events.length < ChatConfig.redisBatch) continue
          }
          if (events.length > 0) {
            yield* publish(events)
            events = []
          }
          if (message._tag === "Flush") {
            yield* Deferred.succeed(message.done, undefined)
          } else if (message._tag === "Claim") {
            const claimed = yield* send(
              redis.eval(claimScript)(nickKey(message.lease.nick), owner(message.lease.conn), leaseMs),
              "claim"
            ).pipe(Effect.onError(() => Deferred.succeed(message.done, "Unlinked")))
            yield* Deferred.succeed(message.done, claimed === 1 ? "Claimed" : "Taken")
          } else if (message._tag === "Release") {
            yield* send(redis.eval(releaseScript)(nickKey(message.lease.nick), owner(message.lease.conn)), "release")
          } else if (message._tag === "Renew") {
            for (let i = 0; i < message.leases.length; i += renewChunk) {
              const chunk = message.leases.slice(i, i + renewChunk)
              const lost = yield* send(
                redis.eval(renewScript)(chunk.map((l) => nickKey(l.nick)), chunk.map((l) => owner(l.conn)), leaseMs),
                "renew"
              )
              for (const position of lost) {
                yield* Queue.offer(incoming, { _tag: "LeaseLost", lease: chunk[position - 1]! })
              }
            }
          }
        }
        if (events.length > 0) yield* publish(events)
      }
    }).pipe(Effect.catch((error) => Effect.succeed(describe(error))))

  // The subscription, decoded, into `incoming`; this server's own
  // envelopes are skipped before decoding.
  const receiver = (messages: Link["messages"]) =>
    Effect.gen(function*() {
      while (true) {
        const batch = yield* Queue.takeAll(messages)
        if (batch.length > ChatConfig.redisBacklog) return `more than ${ChatConfig.redisBacklog} messages from Redis waiting`
        for (const { message } of batch) {
          if (message.startsWith(ownPrefix)) continue
          const decoded = decodeEnvelope(message)
          if (Exit.isSuccess(decoded)) {
            yield* Queue.offer(incoming, { _tag: "Remote", envelope: decoded.value })
          } else {
            yield* Effect.logWarning(`chat: ignored a message on ${channel} that is not a chat envelope`)
          }
        }
      }
    }).pipe(Effect.catch((error) => Effect.succeed(`subscription: ${describe(error)}`)))

  const ticker = Effect.forever(
    Effect.andThen(Effect.sleep(Duration.divideUnsafe(lease, 3)), Queue.offer(incoming, { _tag: "Tick" }))
  )

  // One link, from up to down; returns why it went down.
  const run = (link: Link) =>
    Effect.gen(function*() {
      yield* abandon(yield* Queue.clear(outbound))
      overflowed = false
      yield* Ref.set(current, Option.some(link.redis))
      yield* Queue.offer(incoming, { _tag: "LinkUp" })
      const reason = yield* Effect.raceAllFirst([publisher(link.redis), receiver(link.messages), ticker])
      yield* Ref.set(current, Option.none())
      yield* abandon(yield* Queue.clear(outbound))
      yield* Queue.offer(incoming, { _tag: "LinkDown", reason })
      // node-redis's `close` waits for commands in flight, which a stuck
      // Redis never answers.
      yield* Effect.ignore(Effect.timeout(Scope.close(link.scope, Exit.void), timeout))
      return reason
    })

  const reconnect = Schedule.exponential("100 millis").pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, reconnectMax)))
  )

  const first = yield* Effect.mapError(
    connect,
    (error) => new RedisBusError({ reason: new Unreachable({ address, detail: describe(error) }) })
  )
  yield* Effect.forkScoped(Effect.gen(function*() {
    let link = first
    while (true) {
      const reason = yield* run(link)
      yield* Effect.logWarning(`chat: lost the link to Redis at ${address}: ${reason}; reconnecting`)
      link = yield* Effect.retry(connect, reconnect)
      yield* Effect.logInfo(`chat: the link to Redis at ${address} is back`)
    }
  }))
  // On shutdown, what the room said last (its members leaving) is sent
  // before the link closes (this finalizer runs before the loop above is
  // interrupted), if Redis answers in time: the other servers
  // then see them go at once instead of after a lease.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      if (Option.isNone(yield* Ref.get(current)) || !Queue.offerUnsafe(outbound, { _tag: "Flush", done })) return
      yield* Effect.ignore(Effect.timeout(Deferred.await(done), timeout))
    })
  )

  return {
    shared: true,
    server,
    lease,
    emit: (message) => {
      if (!Queue.offerUnsafe(outbound, message)) overflowed = true
    },
    incoming: Stream.fromQueue(incoming),
    claim: (conn, nick) =>
      Effect.gen(function*() {
        if (Option.isNone(yield* Ref.get(current))) return "Unlinked"
        const done = yield* Deferred.make<ChatBus.Claim>()
        if (!Queue.offerUnsafe(outbound, { _tag: "Claim", lease: { conn, nick }, done })) return "Unlinked"
        return yield* Deferred.await(done).pipe(
          Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.succeed<ChatBus.Claim>("Unlinked") })
        )
      })
  } satisfies ChatBus.Bus
})

/**
 * The Redis bus as a `ChatBus` layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<ChatBus.ChatBus, RedisBusError> =>
  Layer.effect(ChatBus.ChatBus, make(options))
