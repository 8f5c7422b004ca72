import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Servers under test log every connection's end at Info: thousands of
    // lines that bury what matters. Info and Debug lines from Effect's logger
    // are dropped; warnings, errors and everything else still show.
    onConsoleLog: (log) => !/^\[[\d:.]+\] (INFO|DEBUG|TRACE) \(#\d+\)/.test(log)
  }
})
