// A download streamed to a file: the SHA-256 is computed on the way (nothing is held in memory, the nucleus zip
// and an ISO alike), and progress is reported every few seconds with the size the server announced.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openGet } from './proxy.ts';

export interface Downloaded {
  status: number;
  sha256: string;
  bytes: number;
}

const MiB = 1024 * 1024;
const mib = (n: number) => (n / MiB).toFixed(1);

/** How a download is told: "12.0 of 48.3 MiB (24 %)", or "12.0 MiB" when the server sent no length. */
export function progressText(done: number, total: number | undefined): string {
  return total ? `${mib(done)} of ${mib(total)} MiB (${Math.floor((done / total) * 100)} %)` : `${mib(done)} MiB`;
}

/**
 * GET `url` into `dest` (created 0600). A non-200 answer writes nothing and returns its status. `onProgress`
 * is called at most every `everyMs` and once at the end.
 */
export async function downloadToFile(
  url: string,
  dest: string,
  onProgress: (line: string) => void,
  everyMs = 5_000,
): Promise<Downloaded> {
  const res = await openGet(url);
  const status = res.statusCode ?? 0;
  if (status !== 200) {
    res.resume();
    return { status, sha256: '', bytes: 0 };
  }
  const length = Number(res.headers['content-length']);
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  const hash = createHash('sha256');
  let bytes = 0;
  let last = Date.now();
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (Date.now() - last >= everyMs) {
        last = Date.now();
        onProgress(progressText(bytes, total));
      }
      done(null, chunk);
    },
  });
  await pipeline(res, count, createWriteStream(dest, { mode: 0o600 }));
  onProgress(progressText(bytes, total));
  if (total !== undefined && bytes !== total) throw new Error(`the connection ended after ${bytes} of ${total} bytes`);
  return { status, sha256: hash.digest('hex'), bytes };
}
