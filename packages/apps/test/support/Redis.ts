/**
 * Tests that need a real `redis-server`: run with `it.live` when it is
 * installed, skipped at run time with the reason when it is not, so that
 * vitest counts them and `npm test` says what to install (scripts/check.mjs).
 */
import { it } from "@effect/vitest"
import * as RedisServer from "@socket-to-me/testkit/RedisServer"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** A test `name` skipped at run time because redis-server is not installed. */
export const skip = (name: string) =>
  it(name, (context) => context.skip("needs redis-server (apt-get install redis-server)"))

/** `it.live(name, body, timeout)` if redis-server is installed; a skip saying why otherwise. */
export const test = (name: string, body: () => Effect.Effect<unknown, unknown, Scope.Scope>, timeout = 60_000) =>
  RedisServer.available ? it.live(name, body, timeout) : skip(name)
