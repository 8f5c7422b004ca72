/**
 * Defaults of the testkit's in-memory transport, each with the reason for
 * its value. Tests override them through `MemoryNetwork.make` options.
 *
 * @since 0.1.0
 */

/**
 * Bytes one direction of a memory connection holds before `write` suspends.
 * 64 KiB is Node's default stream high-water mark since Node 22, so a writer
 * blocks about when it would start waiting for `'drain'` on a real socket
 * (the kernel buffers of real TCP add more slack than this).
 *
 * @since 0.1.0
 * @category defaults
 */
export const highWaterMark = 64 * 1024

/**
 * Connections a memory listener queues before `run` accepts them; further
 * dials are refused. 128 is the classic `SOMAXCONN`: far more than a test
 * dials at once, small enough that a server that never accepts is noticed.
 *
 * @since 0.1.0
 * @category defaults
 */
export const backlog = 128

/**
 * The port in the fake address a memory server reports. Nothing binds it; it
 * only has to be a valid port so code that formats the address works.
 *
 * @since 0.1.0
 * @category defaults
 */
export const port = 7357

/**
 * How many times the leak checks yield to other fibers (one event-loop turn
 * each) before declaring a leak. Closing a memory socket takes a handful of
 * turns and a real one a few more, so 1000 only fails on a real leak.
 *
 * @since 0.1.0
 * @category defaults
 */
export const leakCheckTurns = 1000

/**
 * Bytes a writer may have had accepted, by a peer that reads nothing, before
 * the transport contract (`TransportContract`) requires its writes to wait.
 * Linux autotunes a loopback connection's send and receive buffers up to
 * 4 and 6 MiB (`tcp_wmem`, `tcp_rmem`), and Node and the socket adapter add
 * a high-water mark or two; 32 MiB is well past all of them, and still small
 * enough to fill in well under a second.
 *
 * @since 0.1.0
 * @category defaults
 */
export const contractMaxBufferedBytes = 32 * 1024 * 1024

/**
 * How long a contract case waits for the other side before it fails (and
 * how long a whole case may take). Far above what any case needs, even on a
 * loaded machine: it only turns a hang into a failure.
 *
 * @since 0.1.0
 * @category defaults
 */
export const contractDeadline = "20 seconds"

/**
 * Event-loop turns a write must stay pending, with no write completing,
 * before a test counts it as waiting for its peer. A socket that can take
 * more takes it within a turn or two (each turn polls for I/O), so 50 only
 * passes for a write that really waits.
 *
 * @since 0.1.0
 * @category defaults
 */
export const waitingTurns = 50

/**
 * Event-loop turns a test watches writes for one that waits before it gives
 * up: a bound, so that writes that never wait fail the test instead of
 * running on.
 *
 * @since 0.1.0
 * @category defaults
 */
export const waitingMaxTurns = 200_000

/**
 * How long, on the wall clock, a `TestPeer` waits for one reply, line or
 * end of input before it fails with what it received. Far above any reply
 * a test expects, even on a loaded machine; it only turns a hang into a
 * failure that says what was missing.
 *
 * @since 0.1.0
 * @category defaults
 */
export const peerDeadline = "20 seconds"

/**
 * Bytes of one line a `TestPeer` reads before it fails: 1 MiB, far above
 * the line caps servers enforce, so a test sees whatever a server sends.
 *
 * @since 0.1.0
 * @category defaults
 */
export const peerMaxLineBytes = 1024 * 1024

/**
 * Events one explored run (`NetworkScheduler.run`) may take before it is
 * stopped as a livelock. A property's run takes a few hundred; 100 000 is
 * only reached by a run that keeps going without end (two peers that
 * answer each other forever).
 *
 * @since 0.1.0
 * @category defaults
 */
export const schedulerMaxEvents = 100_000

/**
 * Simulated time an explored run may advance (time only moves when nothing
 * else can happen) before it counts as hung. One hour is past every
 * timeout the servers here use by default (idle timeouts, drain grace,
 * deadlines), so a run that still waits after it waits for nothing.
 *
 * @since 0.1.0
 * @category defaults
 */
export const schedulerMaxTime = "1 hour"

/**
 * Runs of an `Interleavings.check` unless the test says otherwise: enough
 * to find an ordering bug a few decisions deep in a handful of clients, few
 * enough for CI. `SOCKET_TO_ME_INTERLEAVING_RUNS` overrides every check's
 * count, to run many more by hand.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingRuns = 100

/**
 * Longest script a generated client runs. Races need few steps per client;
 * longer scripts mostly make runs slower and failures longer to shrink.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingMaxActions = 4

/**
 * Shrink candidates effect's engine tries, in an `Interleavings.check`,
 * after the first failing run (then `Interleavings.minimize` goes on). A
 * run takes milliseconds; a schedule written out as explicit choices has a
 * candidate or four per choice, so a hundred decisions need this many.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingMaxShrinks = 500

/**
 * Most explicit choices a schedule holds (and the longest prefix of a
 * seeded schedule shrinking writes out). A run of a few clients takes far
 * fewer decisions; past them, the oldest event goes first.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingMaxChoices = 1024

/**
 * Events of a failing run printed with it (the last ones). A shrunk run
 * has far fewer; a hung one can have many more, of which the last explain
 * the hang.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingShownEvents = 200

/**
 * Runs per batch of an `Interleavings.check`: effect's property engine
 * grows inputs from empty to full size over the runs of one check, so a
 * check runs batches of this many, each growing again. 50 gives scripts of
 * two clients or more from the 10th run of every batch on.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingBatch = 50

/**
 * Runs `Interleavings.minimize` may take after shrinking: each smaller
 * script is tried with a few schedules, so a failure of a dozen steps takes
 * a few hundred; at a few milliseconds a run, this bounds it to seconds.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingMinimizeRuns = 1000

/**
 * Fresh schedules `Interleavings.minimize` tries for each smaller script
 * after its current one: a race that a random schedule finds once in a
 * few runs is found again in this many.
 *
 * @since 0.1.0
 * @category defaults
 */
export const interleavingMinimizeRetries = 20
