/**
 * Every limit of the chat app, with its default and the reason for it.
 *
 * The chat server and client read their defaults from here; the CLI lets
 * flags and environment variables override some of them (`chat serve
 * --rate-limit`, ...). Limits every server shares (connections, idle time,
 * frame deadline, shutdown grace) are core's, in `@socket-to-me/core/Config`.
 *
 * @since 0.1.0
 */

/**
 * Largest chat line in bytes (terminator excluded). 4 KiB is far more than
 * anyone types in one message and keeps a hostile connection's partial line
 * (and every copy of a broadcast line in the members' outboxes) small.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxLineBytes = 4 * 1024

/**
 * Longest nickname and longest room name, in characters (ASCII letters,
 * digits, `_` and `-`, so also in bytes). 32 fits any handle people use and
 * keeps the marker every line carries (`<nick> `) and the `/who` and
 * `/rooms` replies short.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxNameLength = 32

/**
 * Connections the chat server (`chat serve`) serves at once from one
 * address, by default (`--max-connections-per-address`). A chat connection
 * is a person at a terminal: 16 lets a household or a small office behind
 * one NAT address in, and stops one machine from taking the server's every
 * slot (`Config.maxConnections`, 1024) with a loop of `nc`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const maxConnectionsPerAddress = 16

/**
 * Lines per second a chat connection may send over time (token bucket
 * refill rate). 20 is faster than anyone types, slow enough that one
 * connection cannot flood a room.
 *
 * @since 0.1.0
 * @category defaults
 */
export const rateLimit = 20

/**
 * Lines a chat connection may send at once (token bucket size): room for a
 * pasted paragraph or a scripted login, not for a flood.
 *
 * @since 0.1.0
 * @category defaults
 */
export const rateBurst = 50

/**
 * Lines queued for one connection (its outbox) before it is cut off as a
 * slow consumer. 256 lines lets a reader that pauses for a moment (a busy
 * terminal, a network hiccup) catch up with five people pasting a 50-line
 * burst each, and bounds what one stalled reader costs the server: 256
 * lines of at most `maxLineBytes` each.
 *
 * @since 0.1.0
 * @category defaults
 */
export const outboxLines = 256


/**
 * How long the client waits, after connecting, for the server's greeting
 * before deciding the peer is not a chat server. A chat server greets at
 * once; 5 seconds allows for a slow network and a loaded server, and a user
 * who pointed `chat join` at the wrong port learns it promptly instead of
 * typing into a silent prompt.
 *
 * @since 0.1.0
 * @category defaults
 */
export const greetingTimeout = "5 seconds"

/**
 * How long a nickname lease (and a server's heartbeat) lasts in a chat
 * shared through Redis without being renewed. Leases are renewed every
 * third of it while the session lives, so a server that dies frees its
 * nicknames, and the other servers announce its members as disconnected,
 * within this time. 15 seconds rides out a stalled process or a short
 * network hiccup (two missed renewals) without keeping a crashed server's
 * names for long.
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisLease = "15 seconds"

/**
 * A Redis command (or connect) not answered within this time fails the
 * link to the other servers, which then reconnects. Redis answers in well
 * under a millisecond on a LAN; 3 seconds is a Redis that is gone or
 * stuck, and it is also the longest a `/nick` waits before it is decided
 * by this server alone.
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisTimeout = "3 seconds"

/**
 * Longest wait between two attempts to reconnect to Redis. Attempts start
 * 100 ms apart and double up to this, so a restarted Redis is found again
 * within seconds, and a Redis that stays down costs one attempt every 5
 * seconds per server.
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisReconnectMax = "5 seconds"

/**
 * Events and lease operations waiting to be sent to Redis (the link's
 * outbound queue). The room never waits on it: when it is full, Redis is
 * not keeping up, and the link is failed and reconnects (its users are
 * told) rather than losing events silently while it claims to be up. 10,000
 * is several seconds of a busy chat at Redis's usual latency.
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisOutbound = 10_000

/**
 * Messages from Redis not yet handled by the room. Redis pushes them as
 * fast as the others publish; a room that falls this far behind fails the
 * link (and reconnects) instead of buffering without bound. Redis also cuts
 * off a pub/sub client whose output buffer passes its own limit
 * (`client-output-buffer-limit pubsub`, 32 MB by default), which ends the
 * same way.
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisBacklog = 10_000

/**
 * Most events in one published message. The link sends what accumulated
 * while the previous message was on its way, up to this many, so a busy
 * server publishes few large messages instead of many small ones; 256 lines
 * of at most `maxLineBytes` keep a message at most 1 MiB.
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisBatch = 256

/**
 * The prefix of every Redis key and channel the chat uses, so that it can
 * share a Redis with other data (or other chats, with another prefix).
 *
 * @since 0.1.0
 * @category defaults
 */
export const redisPrefix = "socket-to-me:chat"
