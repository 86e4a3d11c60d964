// Every CLI run a test made, for test/setup.ts to search for secrets. Its own module, with no
// imports, so that setup loads nothing heavy into a file that runs no CLI.

export interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
  /** stdout is a protocol channel that carries the credential by design (test/setup.ts checks it for tokens and auth values only). */
  readonly protocolStdout: boolean
}

const runs: CliRun[] = []

/** Every run since the last call, so an afterEach hook can check them all for secrets. */
export const takeRuns = (): CliRun[] => runs.splice(0)

export const recordRun = (run: CliRun): void => {
  runs.push(run)
}
