/**
 * What the kernel says about a process and the machine: CPU time of a
 * process (`/proc/PID/stat`), per-CPU busy and steal time (`/proc/stat`),
 * memory of a process (`/proc/PID/status`), and the machine's description.
 *
 * The benchmark samples these at the edges of every measured window, so that
 * each figure says what limited it: a server that was not near one full core
 * was waiting on something else (the client, the network, the scheduler).
 */
import { readFileSync } from "node:fs"
import * as Os from "node:os"

/** Clock ticks per second of /proc's CPU counters (USER_HZ, 100 on Linux). */
export const ticksPerSecond = 100

/** User plus system CPU time of `pid`, in clock ticks; undefined when it is gone. */
export const processTicks = (pid: number): number | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
    // Fields 14 (utime) and 15 (stime) of stat(5), counted from field 3 here.
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/** One `/proc/stat` CPU line: busy (all but idle and iowait), steal and total ticks. */
export interface CpuTicks {
  readonly busy: number
  readonly steal: number
  readonly total: number
}

/** Ticks of every CPU, keyed `cpu` (all of them), `cpu0`, `cpu1`, ... */
export const machineTicks = (): Record<string, CpuTicks> => {
  const out: Record<string, CpuTicks> = {}
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    if (!line.startsWith("cpu")) continue
    const [name, ...rest] = line.trim().split(/\s+/)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = rest.map(Number) as Array<number>
    const busy = user! + nice! + system! + irq! + softirq!
    out[name!] = { busy, steal: steal!, total: busy + idle! + iowait! + steal! }
  }
  return out
}

/** A process's resident set now and at its peak, in bytes. */
export const processMemory = (pid: number): { readonly rss: number; readonly peakRss: number } | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8")
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN) * 1024
    return { rss: kib("VmRSS"), peakRss: kib("VmHWM") }
  } catch {
    return undefined
  }
}

/** A snapshot taken at one edge of a window. */
export interface Snapshot {
  readonly at: number
  readonly server: number | undefined
  readonly client: number | undefined
  readonly machine: Record<string, CpuTicks>
}

// The ticks of several processes together; undefined when one is gone.
const ticksOf = (pids: ReadonlyArray<number>): number | undefined => {
  let sum = 0
  for (const pid of pids) {
    const ticks = processTicks(pid)
    if (ticks === undefined) return undefined
    sum += ticks
  }
  return sum
}

/** Samples `serverPid` (or all of them: a server side made of several processes) and `clientPid` (ticks) and the machine at once. */
export const snapshot = (serverPid: number | ReadonlyArray<number>, clientPid: number): Snapshot => ({
  at: performance.now(),
  server: typeof serverPid === "number" ? processTicks(serverPid) : ticksOf(serverPid),
  client: processTicks(clientPid),
  machine: machineTicks()
})

/** What limited a window: CPU shares (1 = one full core) and steal. */
export interface Usage {
  /** Server CPU, in cores. */
  readonly serverCpu: number
  /** Load generator CPU, in cores. */
  readonly clientCpu: number
  /** Steal time, as a share of all CPU time of the machine. */
  readonly steal: number
  /** CPU used by everything else on the machine, in cores (other engineers' tests...). */
  readonly otherCpu: number
}

const round3 = (x: number) => Math.round(x * 1000) / 1000

/** The usage between two snapshots. */
export const usage = (start: Snapshot, end: Snapshot): Usage => {
  const seconds = (end.at - start.at) / 1000
  const cores = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || seconds <= 0 ? Number.NaN : (b - a) / ticksPerSecond / seconds
  const all0 = start.machine["cpu"]
  const all1 = end.machine["cpu"]
  const serverCpu = cores(start.server, end.server)
  const clientCpu = cores(start.client, end.client)
  const busyCores = all0 && all1 ? cores(all0.busy, all1.busy) : Number.NaN
  const steal = all0 && all1 && all1.total > all0.total ? (all1.steal - all0.steal) / (all1.total - all0.total) : Number.NaN
  return {
    serverCpu: round3(serverCpu),
    clientCpu: round3(clientCpu),
    steal: round3(steal),
    otherCpu: round3(Math.max(0, busyCores - serverCpu - clientCpu))
  }
}

/** The machine, as recorded with every result. */
export const describeMachine = () => {
  const cpus = Os.cpus()
  let steal: number | undefined
  const ticks = machineTicks()["cpu"]
  if (ticks !== undefined && ticks.total > 0) steal = round3(ticks.steal / ticks.total)
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cpus: cpus.length,
    memoryBytes: Os.totalmem(),
    kernel: `${Os.type()} ${Os.release()}`,
    node: process.versions.node,
    v8: process.versions.v8,
    loadAverage: Os.loadavg().map(round3),
    stealSinceBoot: steal
  }
}
