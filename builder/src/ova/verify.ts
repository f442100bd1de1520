// An OVA checked as an importer would check it, in one pass over the tar:
//   tar order  the OVF descriptor is the first entry, the manifest (if any) the second, every entry a regular file
//              in a ustar header;
//   manifest   every other entry is listed with a SHA-256 (or SHA-1) digest that matches its content, nothing
//              listed is missing (govc 0.24 does not check the manifest, so this is the project's own check);
//   references every ovf:File is in the tar with its declared size, nothing unreferenced rides along, each Disk
//              names a File, is streamOptimized, and its capacity and populated size match the VMDK (qemu-img);
//   VMDK       qemu-img info says vmdk, create type streamOptimized.
// Problems are collected, not thrown: the caller decides (export refuses, tests assert on them).
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list as tarList, type ReadEntry } from 'tar';
import { NS, STREAM_OPTIMIZED } from './descriptor.ts';
import { parseDescriptor, type ParsedDescriptor } from './descriptor-read.ts';
import { diskInfo, populatedBytes } from './qemu-img.ts';

export interface OvaEntry {
  name: string;
  type: string;
  size: number;
  sha256: string;
  sha1: string;
}

export interface OvaVerification {
  ok: boolean;
  problems: string[];
  entries: OvaEntry[];
  descriptor: ParsedDescriptor | null;
  /** File name -> { algorithm, digest } as the manifest lists them. */
  manifest: Record<string, { algorithm: string; digest: string }>;
  disks: { href: string; createType: string | null; virtualSize: number; populatedBytes: number }[];
}

const MANIFEST_LINE = /^(SHA1|SHA256)\(([^)]+)\)\s*=\s*([0-9a-fA-F]+)$/;

export function parseManifest(text: string): { entries: OvaVerification['manifest']; problems: string[] } {
  const entries: OvaVerification['manifest'] = {};
  const problems: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const m = MANIFEST_LINE.exec(line.trim());
    if (!m) problems.push(`manifest line not understood: ${JSON.stringify(line.slice(0, 120))}`);
    else entries[m[2]] = { algorithm: m[1], digest: m[3].toLowerCase() };
  }
  return { entries, problems };
}

/** The first header of a tar must be ustar (OVF 1.0 requires the USTAR format for an OVA). */
function firstHeader(ova: string): { name: string; magic: string } {
  const buf = Buffer.alloc(512);
  const fd = openSync(ova, 'r');
  try {
    readSync(fd, buf, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  return {
    name: buf.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''),
    magic: buf.subarray(257, 262).toString(),
  };
}

export async function verifyOva(ova: string, o: { tmpDir?: string } = {}): Promise<OvaVerification> {
  const problems: string[] = [];
  const entries: OvaEntry[] = [];
  const texts = new Map<string, string>();
  const work = mkdtempSync(join(o.tmpDir ?? tmpdir(), 'ova-verify-'));
  const writes: Promise<void>[] = [];
  try {
    const head = firstHeader(ova);
    if (head.magic !== 'ustar') problems.push(`not a ustar archive (first header magic ${JSON.stringify(head.magic)})`);
    if (head.name && !head.name.endsWith('.ovf'))
      problems.push(`the first header is ${JSON.stringify(head.name)}, not the OVF descriptor`);
    await tarList({
      file: ova,
      onReadEntry: (e: ReadEntry) => {
        const sha256 = createHash('sha256');
        const sha1 = createHash('sha1');
        const entry: OvaEntry = { name: e.path, type: e.type, size: e.size, sha256: '', sha1: '' };
        entries.push(entry);
        const small = /\.(ovf|mf)$/.test(e.path);
        const chunks: Buffer[] = [];
        const out = /\.vmdk$/.test(e.path) && !e.path.includes('/') ? createWriteStream(join(work, e.path)) : null;
        if (out) writes.push(new Promise((res, rej) => out.on('finish', res).on('error', rej)));
        e.on('data', (d: Buffer) => {
          sha256.update(d);
          sha1.update(d);
          if (small) chunks.push(d);
          out?.write(d);
        });
        e.on('end', () => {
          entry.sha256 = sha256.digest('hex');
          entry.sha1 = sha1.digest('hex');
          if (small) texts.set(e.path, Buffer.concat(chunks).toString('utf8'));
          out?.end();
        });
      },
    });
    await Promise.all(writes);

    // tar order and entry types
    for (const e of entries)
      if (e.type !== 'File' && e.type !== 'OldFile') problems.push(`entry ${e.name} is a ${e.type}, not a file`);
    if (!entries[0]?.name.endsWith('.ovf'))
      problems.push(`first entry is ${entries[0]?.name ?? 'nothing'}, not a .ovf`);
    const mfIndex = entries.findIndex((e) => e.name.endsWith('.mf'));
    if (mfIndex > 1)
      problems.push(`manifest ${entries[mfIndex].name} is entry ${mfIndex + 1}; it must follow the .ovf`);
    const ovfEntry = entries[0]?.name.endsWith('.ovf') ? entries[0] : undefined;

    // descriptor
    let descriptor: ParsedDescriptor | null = null;
    if (ovfEntry) {
      try {
        descriptor = parseDescriptor(texts.get(ovfEntry.name) ?? '');
        if (descriptor.envelopeNamespace !== NS.ovf)
          problems.push(`descriptor namespace ${descriptor.envelopeNamespace ?? '(none)'} is not OVF 1.0 (${NS.ovf})`);
      } catch (err) {
        problems.push(`descriptor ${ovfEntry.name} is not a readable OVF: ${(err as Error).message}`);
      }
    }

    // manifest
    let manifest: OvaVerification['manifest'] = {};
    if (mfIndex < 0) problems.push('no manifest (.mf)');
    else {
      const parsed = parseManifest(texts.get(entries[mfIndex].name) ?? '');
      manifest = parsed.entries;
      problems.push(...parsed.problems);
      for (const e of entries) {
        if (e.name.endsWith('.mf') || e.name.endsWith('.cert')) continue;
        const m = manifest[e.name];
        if (!m) problems.push(`${e.name} is not in the manifest`);
        else if (m.digest !== (m.algorithm === 'SHA1' ? e.sha1 : e.sha256))
          problems.push(`${e.name}: ${m.algorithm} digest mismatch (manifest ${m.digest})`);
      }
      for (const f of Object.keys(manifest))
        if (!entries.some((e) => e.name === f)) problems.push(`manifest lists ${f}, which is not in the OVA`);
    }

    // references and disks
    const disks: OvaVerification['disks'] = [];
    if (descriptor) {
      const byName = new Map(entries.map((e) => [e.name, e]));
      for (const f of descriptor.files) {
        const e = byName.get(f.href);
        if (!e) problems.push(`ovf:File ${f.href} is not in the OVA`);
        else if (f.size !== null && f.size !== e.size)
          problems.push(`ovf:File ${f.href}: declared size ${f.size}, actual ${e.size}`);
      }
      for (const e of entries.slice(1))
        if (!/\.(mf|cert)$/.test(e.name) && !descriptor.files.some((f) => f.href === e.name))
          problems.push(`${e.name} is in the OVA but no ovf:File references it`);
      const referenced = entries.filter((e) => descriptor!.files.some((f) => f.href === e.name)).map((e) => e.name);
      const expectedOrder = descriptor.files.map((f) => f.href).filter((h) => referenced.includes(h));
      if (referenced.join('\n') !== expectedOrder.join('\n'))
        problems.push(`files are not in References order (${referenced.join(', ')})`);
      if (descriptor.disks.length === 0) problems.push('the descriptor declares no disk');
      for (const d of descriptor.disks) {
        const file = descriptor.files.find((f) => f.id === d.fileRef);
        if (!file) {
          problems.push(`disk ${d.diskId} references file id ${d.fileRef}, which References does not declare`);
          continue;
        }
        if (d.format !== STREAM_OPTIMIZED) problems.push(`disk ${d.diskId} format ${d.format} is not streamOptimized`);
        if (!descriptor.items.some((i) => i.HostResource === `ovf:/disk/${d.diskId}`))
          problems.push(`no virtual hardware item attaches disk ${d.diskId}`);
        if (!byName.has(file.href) || file.href.includes('/')) continue;
        const info = await diskInfo(join(work, file.href));
        const populated = await populatedBytes(join(work, file.href));
        disks.push({
          href: file.href,
          createType: info.createType,
          virtualSize: info.virtualSize,
          populatedBytes: populated,
        });
        if (info.format !== 'vmdk' || info.createType !== 'streamOptimized')
          problems.push(
            `${file.href}: qemu-img reads ${info.format} ${info.createType ?? ''}, not a streamOptimized vmdk`,
          );
        if (info.virtualSize !== d.capacityBytes)
          problems.push(`disk ${d.diskId}: capacity ${d.capacityBytes} bytes, the VMDK holds ${info.virtualSize}`);
        if (d.populatedBytes === null) problems.push(`disk ${d.diskId} has no ovf:populatedSize`);
        else if (d.populatedBytes !== populated)
          problems.push(
            `disk ${d.diskId}: populatedSize ${d.populatedBytes}, the VMDK holds ${populated} bytes of data`,
          );
      }
    }
    return { ok: problems.length === 0, problems, entries, descriptor, manifest, disks };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
