// The resp server's limits, each with its Redis counterpart and the reason
// for its value. Redis's own defaults are sized for a database that trusts
// its clients (512 MB per argument, 2^31 arguments, 1 GB per client's query
// buffer); these are sized so that one hostile connection costs little,
// and every one of them can be raised through `Options`.

/** Largest bulk string in a command (Redis: `proto-max-bulk-len`, 512 MB). A longer `$` header gets `-ERR Protocol error: invalid bulk length` and a close. */
export const maxBulkBytes = 512 * 1024

/**
 * Most arguments in one command (Redis accepts up to 2^31 - 1). A larger `*`
 * header gets `-ERR Protocol error: invalid multibulk length` and a close.
 * Each argument is an object of its own (about 220 bytes in V8 for a short
 * one), so this also bounds what a command of empty arguments costs: 4096
 * of them hold under 1 MiB.
 */
export const maxArgs = 4096

/**
 * Most bytes one command may take on the wire, headers included (Redis:
 * `client-query-buffer-limit`, 1 GB). The command being decoded is all the
 * input a connection holds, so this is the decoder's memory bound. As in
 * Redis, a client that passes it is closed without a reply (exit reason
 * `FrameTooLarge`). 1 MiB holds a bulk string of `maxBulkBytes` and its key.
 */
export const maxCommandBytes = 1024 * 1024

/**
 * Longest inline command line, and longest `*` or `$` header line (Redis:
 * `PROTO_INLINE_MAX_SIZE`, the same 64 KiB, not configurable there). Past it:
 * `too big inline request`, `too big mbulk count string` or `too big bulk
 * count string`, and a close.
 */
export const maxInlineBytes = 64 * 1024

/**
 * Bytes of replies and published messages a connection may have waiting for
 * its write stage (Redis: `client-output-buffer-limit pubsub 32mb 8mb 60`).
 * Replies wait for room (a pipelining client that does not read is simply
 * not read from); a published message never waits: a subscriber this far
 * behind is cut off (exit reason `SlowConsumer`), so a publisher is never
 * slowed by a slow subscriber and a subscriber never holds more than this.
 */
export const maxPendingBytes = 1024 * 1024

/**
 * Replies are gathered into one write until they reach this many bytes,
 * then handed to the outbox (which may make the reader wait). A pipeline of
 * small commands is answered with one write per read; a pipeline of large
 * replies never gathers more than this (plus one reply) before waiting.
 */
export const replyFlushBytes = 64 * 1024

/** How often expired keys that no one reads are removed (Redis samples keys with a TTL 10 times a second). */
export const expirySweepInterval = "1 second"
