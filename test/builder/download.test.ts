// Artifact downloads streamed to disk: progress with the announced size, the checksum computed on the way,
// nothing left behind when the server fails or cuts the connection.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { downloadToFile, progressText } from '../../builder/src/download.ts';
import { fetchArtifact } from '../../builder/src/artifacts.ts';
import { tmp } from './helpers.ts';

const body = Buffer.alloc(3 * 1024 * 1024, 7);
const sha = createHash('sha256').update(body).digest('hex');

/** Serves `body` in 256 KiB pieces, 30 ms apart; /cut.jar announces it all and stops halfway; /gone.jar is 404. */
async function slowServer(): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    if (req.url === '/gone.jar') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length });
    const end = req.url === '/cut.jar' ? body.length / 2 : body.length;
    for (let i = 0; i < end; i += 256 * 1024) {
      res.write(body.subarray(i, Math.min(i + 256 * 1024, end)));
      await new Promise((r) => setTimeout(r, 30));
    }
    if (req.url === '/cut.jar') res.destroy();
    else res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

t.test('progress text: done, total and percent; no total when the server sends no length', async (t) => {
  t.equal(progressText(12 * 1024 * 1024, 48 * 1024 * 1024), '12.0 of 48.0 MiB (25 %)');
  t.equal(progressText(1536 * 1024, undefined), '1.5 MiB');
});

t.test('a download is streamed to the file with progress lines and its SHA-256', async (t) => {
  const { url, server } = await slowServer();
  t.teardown(() => server.close());
  const dir = tmp('gg-download-');
  const lines: string[] = [];
  const r = await downloadToFile(`${url}/nucleus.zip`, join(dir, 'n.zip'), (l) => lines.push(l), 50);
  t.same(r, { status: 200, sha256: sha, bytes: body.length });
  t.ok(readFileSync(join(dir, 'n.zip')).equals(body));
  t.equal(statSync(join(dir, 'n.zip')).mode & 0o777, 0o600);
  t.ok(lines.length >= 3, `progress reported while it runs (${lines.length} lines)`);
  t.match(lines[0], /^\d+\.\d of 3\.0 MiB \(\d+ %\)$/);
  t.equal(lines.at(-1), '3.0 of 3.0 MiB (100 %)', 'the last line is the whole');
});

t.test(
  'fetchArtifact: progress lines named by artifact; a cut connection is transient and leaves no file',
  async (t) => {
    const { url, server } = await slowServer();
    t.teardown(() => server.close());
    const dir = tmp('gg-download-');
    const lines: string[] = [];
    const req = { kind: 'plugin' as const, version: '1.2.2', sha256: sha, cacheDir: join(dir, 'cache') };
    const a = await fetchArtifact({ ...req, source: `${url}/fleetprovisioningbyclaim-1.2.2.jar` }, (l) =>
      lines.push(l),
    );
    t.equal(a.sha256, sha);
    t.ok(
      lines.some((l) => /^plugin 1\.2\.2: 3\.0 of 3\.0 MiB \(100 %\)$/.test(l)),
      lines.join('\n'),
    );

    await t.rejects(
      fetchArtifact({ ...req, cacheDir: join(dir, 'c2'), source: `${url}/cut.jar` }, () => {}),
      {
        exitCode: 75,
        message: /plugin 1\.2\.2: cannot download .*\/cut\.jar: the connection ended|aborted/,
      },
    );
    await t.rejects(
      fetchArtifact({ ...req, cacheDir: join(dir, 'c3'), source: `${url}/gone.jar` }, () => {}),
      {
        exitCode: 75,
        message: /HTTP 404/,
      },
    );
    for (const c of ['c2', 'c3']) {
      const left = existsSync(join(dir, c)) ? readdirSync(join(dir, c)) : [];
      t.same(left, [], `${c}: no partial file left`);
    }
  },
);
