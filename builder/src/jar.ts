// Reads the entries of a zip/jar (central directory; stored or deflated) so `build` and `validate` can
// check that an artifact has the layout the nucleus loads, not only a matching checksum.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntries {
  names: string[];
  /** The entry's bytes, or undefined when it is absent or cannot be read. */
  read(name: string): Buffer | undefined;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** The entries of the zip at `path`, or null when it is not a readable zip. */
export function readZip(path: string): ZipEntries | null {
  const buf = readFileSync(path);
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = new Map<string, { method: number; size: number; local: number }>();
  for (let n = 0; n < count; n++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== CENTRAL) return null;
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    entries.set(buf.subarray(at + 46, at + 46 + nameLen).toString('utf8'), { method, size, local });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return {
    names: [...entries.keys()],
    read(name) {
      const e = entries.get(name);
      if (!e || e.local + 30 > buf.length || buf.readUInt32LE(e.local) !== LOCAL) return undefined;
      const start = e.local + 30 + buf.readUInt16LE(e.local + 26) + buf.readUInt16LE(e.local + 28);
      const data = buf.subarray(start, start + e.size);
      try {
        if (e.method === 0) return data;
        if (e.method === 8) return inflateRawSync(data);
      } catch {
        // corrupt entry: reported as unreadable
      }
      return undefined;
    },
  };
}

/** A manifest's main attributes (continuation lines, which start with one space, joined). */
export function manifestAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const joined: string[] = [];
  for (const line of lines) {
    if (line === '') break; // the main section ends at the first blank line
    if (line.startsWith(' ') && joined.length > 0) joined[joined.length - 1] += line.slice(1);
    else joined.push(line);
  }
  for (const l of joined) {
    const i = l.indexOf(': ');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 2);
  }
  return out;
}
