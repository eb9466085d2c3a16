#!/usr/bin/env node
// The autoharden binary: run the command line (cli/program.ts) and turn errors into one line on
// stderr and a documented exit code.
import { CommanderError } from 'commander';
import { EXIT_CODES, errorCodeOf, exitCodeOf } from '../core/errors.js';
import { releaseStdioAfterHangup, stdioHungUp } from './common.js';
import { buildProgram } from './program.js';

const program = buildProgram();

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      return EXIT_CODES.Usage; // commander already printed the one-line error
    }
    process.stderr.write(`autoharden: ${errorCodeOf(e).message}\n`);
    return exitCodeOf(e);
  }
}

const exitCode = await main(process.argv);
process.exitCode = exitCode;
// A command that talked to the daemon may leave a bus socket half-closed: don't wait for it.
// process.exit() drops what a pipe has not taken yet (stdout to a pipe is asynchronous): a large
// `journal --json` came out cut short. Wait until stdout and stderr are drained — bounded, and not
// at all after a hang-up, when nobody reads them any more.
if (process.argv[2] !== 'daemon') {
  const drained = (s: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (s.writableLength === 0 || s.destroyed) return resolve();
      s.once('drain', () => resolve());
      s.once('error', () => resolve());
      s.once('close', () => resolve());
    });
  const bound = new Promise<void>((resolve) => setTimeout(resolve, 30_000).unref());
  setImmediate(() => {
    const wait = stdioHungUp() ? Promise.resolve() : Promise.race([Promise.all([drained(process.stdout), drained(process.stderr)]), bound]);
    void wait.then(() => {
      releaseStdioAfterHangup();
      process.exit(exitCode);
    });
  });
}
