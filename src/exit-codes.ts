// The exit codes of the whole tool, defined once: every command and the CLI's error report use these,
// and `ladder --help` and the README show this table.

export const EXIT = {
  /** Everything asked for was done, nothing regressed. */
  OK: 0,
  /** A rung (or a job, a required check) failed. */
  FAILED: 1,
  /** Bad input: a flag, a file, a config value. */
  BAD_INPUT: 2,
  /** Another run holds the lock. */
  LOCKED: 3,
  /** A regression (compare --fail-on-regression, nightly) or a figure over its target (overhead). */
  REGRESSION: 10,
} as const;

/** The table as `ladder --help` prints it. */
export const EXIT_CODES_HELP = [
  'Exit codes:',
  `  ${EXIT.OK}   ok`,
  `  ${EXIT.FAILED}   a rung failed`,
  `  ${EXIT.BAD_INPUT}   bad input (a flag, a file, the config)`,
  `  ${EXIT.LOCKED}   another run holds the lock`,
  `  ${EXIT.REGRESSION}  a regression, or a figure over its target`,
].join('\n');
