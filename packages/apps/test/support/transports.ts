/**
 * The transports every end-to-end test body runs over.
 */
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import { nodeTcp } from "./NodeTestTransport.ts"

export const transports: ReadonlyArray<TestTransport.TestTransport> = [TestTransport.memory, nodeTcp]
