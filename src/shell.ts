// The one shell quoting: every command ladder prints or records (dry-runs, run.json's `command`,
// best.yaml, Slurm scripts) can be pasted back into a shell and runs exactly what it says.

/** One word, quoted only when it must be: `'...'` with every `'` written `'\''`. */
export const shq = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command this process was started as, quoted for a shell: `ladder reproduce --prompt 'a; b'`. */
export function commandLine(argv: readonly string[] = process.argv.slice(2)): string {
  return ['ladder', ...argv].map(shq).join(' ');
}

/**
 * Text from a file someone else wrote (a run.json's ids and errors), made safe to print: control
 * characters other than tab and newline become `?`, so no escape sequence reaches the terminal.
 */
export const terminalText = (s: string): string => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
