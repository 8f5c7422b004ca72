// EXPIRE key seconds [NX | XX | GT | LT]: sets the key's TTL; 1 if it was
// set (or the key deleted, for a time already past), 0 if the key is
// missing or a condition is not met: NX only without a TTL, XX only with
// one, GT only later than the current (none counts as infinite), LT only
// earlier. Checked in Redis's order: options, the number, its range, the
// key, the conditions.
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { cString, formatted, invalidExpireTime, lower, name, type Spec } from "./Spec.ts"

type Flags = { nx: boolean; xx: boolean; gt: boolean; lt: boolean }

const parseFlags = (args: Reply.Command): Flags | Reply.Reply => {
  const flags: Flags = { nx: false, xx: false, gt: false, lt: false }
  for (let j = 3; j < args.length; j++) {
    const option = lower(args[j]!)
    if (option === "nx" || option === "xx" || option === "gt" || option === "lt") flags[option] = true
    else return formatted(`ERR Unsupported option ${cString(args[j]!)}`)
  }
  if (flags.nx && (flags.xx || flags.gt || flags.lt)) {
    return Reply.error("ERR NX and XX, GT or LT options at the same time are not compatible")
  }
  if (flags.gt && flags.lt) return Reply.error("ERR GT and LT options at the same time are not compatible")
  return flags
}

const minSeconds = Reply.minInt64 / 1000n
const maxSeconds = Reply.maxInt64 / 1000n

/** EXPIRE. */
export const expire: Spec = {
  name: "expire",
  arity: -3,
  pubsub: false,
  run: (args, session) => {
    const flags = parseFlags(args)
    if ("_tag" in flags) return Effect.sync(() => session.reply(flags))
    const seconds = Reply.parseInteger(args[2]!)
    if (seconds === undefined) return Effect.sync(() => session.reply(Reply.notAnInteger))
    if (seconds > maxSeconds || seconds < minSeconds) return Effect.sync(() => session.reply(invalidExpireTime("expire")))
    const key = name(args[1]!)
    return Effect.map(
      session.db.modify((keys, now): readonly [Reply.Reply, Db.Keyspace] => {
        const millis = seconds * 1000n
        if (millis > Reply.maxInt64 - now) return [invalidExpireTime("expire"), keys]
        const when = millis + now
        const entry = Db.lookup(keys, key, now)
        if (entry === undefined) return [Reply.zero, keys]
        const current = entry.expiresAt
        if (flags.nx && current !== undefined) return [Reply.zero, keys]
        if (flags.xx && current === undefined) return [Reply.zero, keys]
        if (flags.gt && (current === undefined || when <= current)) return [Reply.zero, keys]
        if (flags.lt && current !== undefined && when >= current) return [Reply.zero, keys]
        if (when <= now) return [Reply.one, Db.remove(keys, key)]
        return [Reply.one, Db.put(keys, key, { value: entry.value, expiresAt: when })]
      }),
      session.reply
    )
  }
}
