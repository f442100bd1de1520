// Minimal systemd unit-file reader (sections → key → values), enough to check our own unit.
export type UnitFile = Record<string, Record<string, string[]>>;

export function parse(text: string): UnitFile {
  const out: UnitFile = {};
  let section: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = out[sec[1] as string] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !section) continue;
    const k = line.slice(0, eq).trim();
    (section[k] ??= []).push(line.slice(eq + 1).trim());
  }
  return out;
}
