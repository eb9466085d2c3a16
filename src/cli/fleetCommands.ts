// merge: profiles exported on several hosts (export --format profile, after apply) combined into
// the set that worked on all of them. Reads files only: no daemon, no systemd, no root.
import type { Command } from 'commander';
import { AutohardenError, EXIT_CODES } from '../core/errors.js';
import { writeStderr } from './common.js';
import { printable } from '../core/text.js';

export function registerFleetCommands(program: Command): void {
  program
    .command('merge')
    .description(
      'combine profiles exported on several hosts (export --format profile, after apply) into the set that worked on all of them; ' +
        "an option some host lacks is left out, one whose values differ keeps the weakest (or a union the catalog builds), each listed per host in merged.exceptions; source is the first profile's. " +
        `A file that cannot be read exits ${EXIT_CODES.Usage}, one that is not a profile ${EXIT_CODES.Config}; profiles of different units exit ${EXIT_CODES.Usage}`,
    )
    .argument('<profile...>', 'profile files')
    .option('--json', 'print the merged profile (it is JSON either way)')
    .action(async (files: string[]) => {
      const [{ mergeFiles }, { MAX_PROFILE_BYTES, renderProfile }] = await Promise.all([import('../app/profileFile.js'), import('../core/profile.js')]);
      const r = mergeFiles(files);
      const text = renderProfile(r.profile);
      // what apply could not read back is not worth printing
      const size = Buffer.byteLength(text);
      if (size > MAX_PROFILE_BYTES) throw new AutohardenError('Failed', `the merged profile would be ${size} bytes, more than a profile may have (${MAX_PROFILE_BYTES}): merge fewer hosts`);
      process.stdout.write(text);
      for (const n of r.notes) writeStderr(`${printable(n)}\n`);
      writeStderr(`kept ${r.kept} setting${r.kept === 1 ? '' : 's'} on all ${r.hosts} host${r.hosts === 1 ? '' : 's'}; ${r.exceptions} exception${r.exceptions === 1 ? '' : 's'}\n`);
    });
}
