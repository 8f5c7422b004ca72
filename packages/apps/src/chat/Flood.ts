/**
 * Flood control: a token bucket per connection. Each line costs one token;
 * tokens refill at `rate` per second up to `burst`. A line that finds the
 * bucket empty is dropped (not delivered, not executed) and the sender is
 * told once per flood; the connection stays open, since a paste that is a
 * bit too long is not an attack. Dropping instead of waiting keeps a flooder
 * from holding the room's attention and keeps its lines from queueing up.
 *
 * Stage: app, before a line reaches the chat room. The bucket is a value,
 * advanced with the time read from `Clock`, so tests drive it with
 * `TestClock`.
 *
 * @since 0.1.0
 */

/**
 * Refill rate (lines per second; 0 turns flood control off) and bucket size.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly rate: number
  readonly burst: number
}

/**
 * Tokens left and when they were counted (`Clock` milliseconds).
 *
 * @since 0.1.0
 * @category models
 */
export interface Bucket {
  readonly tokens: number
  readonly at: number
}

/**
 * A full bucket at time `now`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const full = (limits: Limits, now: number): Bucket => ({ tokens: Math.max(1, limits.burst), at: now })

/**
 * Refills the bucket up to `now` and takes one token if there is one.
 *
 * @since 0.1.0
 * @category operations
 */
export const take = (limits: Limits, bucket: Bucket, now: number): { readonly allowed: boolean; readonly bucket: Bucket } => {
  if (limits.rate <= 0) return { allowed: true, bucket }
  const elapsed = Math.max(0, now - bucket.at)
  const tokens = Math.min(Math.max(1, limits.burst), bucket.tokens + (elapsed * limits.rate) / 1000)
  return tokens >= 1
    ? { allowed: true, bucket: { tokens: tokens - 1, at: now } }
    : { allowed: false, bucket: { tokens, at: now } }
}
