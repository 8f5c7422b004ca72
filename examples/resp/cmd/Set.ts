// SET key value [NX | XX] [EX seconds | PX milliseconds]: stores the value,
// with the TTL given or none (an existing TTL is dropped). NX sets only a
// missing key, XX only an existing one; a condition not met replies the
// null bulk string and changes nothing. Options are read as Redis reads
// them: any case, in any order, each of a pair excluding the other; the
// expiry is checked before the key is looked at. Redis's other options
// (GET, KEEPTTL, EXAT, PXAT) are not supported here: `syntax error`.
import * as Effect from "effect/Effect"
import * as Db from "../Db.ts"
import * as Reply from "../Reply.ts"
import { invalidExpireTime, lower, name, type Spec } from "./Spec.ts"

interface Parsed {
  readonly condition: "nx" | "xx" | undefined
  readonly unit: "ex" | "px" | undefined
  readonly expire: Uint8Array | undefined
}

const parse = (args: Reply.Command): Parsed | undefined => {
  let condition: Parsed["condition"]
  let unit: Parsed["unit"]
  let expire: Uint8Array | undefined
  for (let j = 3; j < args.length; j++) {
    const option = lower(args[j]!)
    const next = args[j + 1]
    if (option === "nx" && condition !== "xx") condition = "nx"
    else if (option === "xx" && condition !== "nx") condition = "xx"
    else if ((option === "ex" || option === "px") && unit !== (option === "ex" ? "px" : "ex") && next !== undefined) {
      unit = option
      expire = next
      j++
    } else return undefined
  }
  return { condition, unit, expire }
}

/** SET. */
export const set: Spec = {
  name: "set",
  arity: -3,
  pubsub: false,
  run: (args, session) => {
    const parsed = parse(args)
    if (parsed === undefined) return Effect.sync(() => session.reply(Reply.syntaxError))
    const amount = parsed.expire === undefined ? undefined : Reply.parseInteger(parsed.expire)
    if (parsed.expire !== undefined && amount === undefined) return Effect.sync(() => session.reply(Reply.notAnInteger))
    const key = name(args[1]!)
    const value = args[2]!
    return Effect.map(
      session.db.modify((keys, now): readonly [Reply.Reply, Db.Keyspace] => {
        let expiresAt: bigint | undefined
        if (amount !== undefined) {
          if (amount <= 0n || (parsed.unit === "ex" && amount > Reply.maxInt64 / 1000n)) return [invalidExpireTime("set"), keys]
          expiresAt = (parsed.unit === "ex" ? amount * 1000n : amount) + now
          if (expiresAt > Reply.maxInt64) return [invalidExpireTime("set"), keys]
        }
        const found = Db.lookup(keys, key, now) !== undefined
        if ((parsed.condition === "nx" && found) || (parsed.condition === "xx" && !found)) return [Reply.nullBulk, keys]
        return [Reply.ok, Db.put(keys, key, { value, expiresAt })]
      }),
      session.reply
    )
  }
}
