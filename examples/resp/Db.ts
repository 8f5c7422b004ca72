// The keyspace: every key, its value and its expiry, shared by every
// connection (mini-redis's db.rs). The state is one immutable value in a
// `Ref`, and every command changes it with one `Ref.modify` given the time
// of the command (from effect's `Clock`, so tests drive expiry with
// `TestClock`): each command sees and leaves a consistent keyspace, in one
// order, without a lock, as in Redis's single thread.
//
// Expiry is Redis's: a key whose time has passed (strictly: at its expiry
// millisecond it still exists) is gone for every command that reads it;
// a fiber also removes expired keys that no one reads, every
// `Config.expirySweepInterval`, looking only at keys that have a TTL.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Clock from "effect/Clock"
import * as Config from "./Config.ts"

/** One key's value, and when it expires (epoch milliseconds), if it does. */
export interface Entry {
  readonly value: Uint8Array
  readonly expiresAt: bigint | undefined
}

/** Every key (bytes as a Latin-1 string), and the keys that have a TTL. */
export interface Keyspace {
  readonly entries: HashMap.HashMap<string, Entry>
  readonly volatile: HashSet.HashSet<string>
}

/** An empty keyspace. */
export const empty: Keyspace = { entries: HashMap.empty(), volatile: HashSet.empty() }

/** The live entry of `key` at `now`: none when missing or expired. */
export const lookup = (keys: Keyspace, key: string, now: bigint): Entry | undefined => {
  const found = HashMap.get(keys.entries, key)
  if (Option.isNone(found)) return undefined
  const entry = found.value
  return entry.expiresAt !== undefined && now > entry.expiresAt ? undefined : entry
}

/** `keys` with `key` set to `entry`. */
export const put = (keys: Keyspace, key: string, entry: Entry): Keyspace => ({
  entries: HashMap.set(keys.entries, key, entry),
  volatile: entry.expiresAt !== undefined
    ? HashSet.add(keys.volatile, key)
    : HashSet.has(keys.volatile, key)
    ? HashSet.remove(keys.volatile, key)
    : keys.volatile
})

/** `keys` without `key`. */
export const remove = (keys: Keyspace, key: string): Keyspace => ({
  entries: HashMap.remove(keys.entries, key),
  volatile: HashSet.has(keys.volatile, key) ? HashSet.remove(keys.volatile, key) : keys.volatile
})

/** `keys` without the keys expired at `now`. */
export const sweep = (keys: Keyspace, now: bigint): Keyspace => {
  let swept = keys
  for (const key of keys.volatile) {
    if (lookup(keys, key, now) === undefined) swept = remove(swept, key)
  }
  return swept
}

/** The keyspace service: a command is a function of the keyspace and the time. */
export class Db extends Context.Service<Db, {
  /** Runs `f` on the keyspace at the current time, atomically; `f` returns its result and the new keyspace. */
  readonly modify: <A>(f: (keys: Keyspace, now: bigint) => readonly [A, Keyspace]) => Effect.Effect<A>
  /** Keys in the keyspace now, expired ones not yet removed included (for tests and monitoring). */
  readonly size: Effect.Effect<number>
}>()("@socket-to-me/examples/resp/Db") {}

/** A keyspace and its expiry sweeper, for the life of the scope. */
export const make = Effect.gen(function*() {
  const ref = yield* Ref.make(empty)
  const modify = <A>(f: (keys: Keyspace, now: bigint) => readonly [A, Keyspace]) =>
    Effect.flatMap(Clock.currentTimeMillis, (millis) => Ref.modify(ref, (keys) => f(keys, BigInt(millis))))
  yield* Effect.forkScoped(Effect.forever(Effect.andThen(
    Effect.sleep(Config.expirySweepInterval),
    modify((keys, now) => [undefined, HashSet.size(keys.volatile) === 0 ? keys : sweep(keys, now)] as const)
  )))
  return Db.of({ modify, size: Effect.map(Ref.get(ref), (keys) => HashMap.size(keys.entries)) })
})

/** The keyspace as a layer: one for the whole server. */
export const layer: Layer.Layer<Db> = Layer.effect(Db, make)
