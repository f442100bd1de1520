// Reads one small file from the root directory of an ISO 9660 image (ECMA-119), straight from the CD-ROM device.
// Why not mount: mounting needs CAP_SYS_ADMIN and the isofs module (a kernel module on Ubuntu), a private mount
// point and an unmount on every path out, even a crash; reading the three structures involved (the primary volume
// descriptor at sector 16, the root directory's extent, the file's extent) costs a few KiB of reads and no state.
// Names are matched in the primary directory, which every ISO 9660 image has: Rock Ridge and Joliet only add
// alternative names beside it, and the primary name of `ovf-env.xml` is `OVF_ENV.XML;1` or `OVF-ENV.XML;1`
// depending on the tool's strictness, so names are compared without version, case, or the `-`/`_` difference.
import { closeSync, openSync, readSync } from 'node:fs';

const SECTOR = 2048;
const PVD_SECTOR = 16;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** `OVF_ENV.XML;1` → `ovf-env.xml`: the form both the wanted name and the directory's names are compared in. */
export function isoNameKey(name: string): string {
  return name.replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase().replaceAll('_', '-');
}

export type IsoRead =
  | { kind: 'found'; data: Buffer }
  | { kind: 'not-iso9660' }
  | { kind: 'no-such-file' }
  | { kind: 'too-large'; size: number };

/**
 * Reads `name` (compared with isoNameKey) from the root directory of the ISO 9660 image at `path` (a device or a
 * file). Files over `maxBytes` are not read. Errors opening or reading `path` (no medium, no permission) are thrown
 * as they are, for the caller to judge.
 */
export function readIsoRootFile(path: string, name: string, maxBytes: number): IsoRead {
  const fd = openSync(path, 'r');
  try {
    const pvd = readAt(fd, PVD_SECTOR * SECTOR, SECTOR);
    // Volume descriptor type 1 (primary), standard identifier "CD001", version 1.
    if (pvd.length < SECTOR || pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') return { kind: 'not-iso9660' };
    const blockSize = pvd.readUInt16LE(128);
    if (blockSize < 512 || blockSize > SECTOR || (blockSize & (blockSize - 1)) !== 0) return { kind: 'not-iso9660' };
    // The root directory record is embedded in the PVD at byte 156: extent location at +2, data length at +10.
    const rootLba = pvd.readUInt32LE(156 + 2);
    const rootLen = Math.min(pvd.readUInt32LE(156 + 10), 64 * SECTOR);
    const dir = readAt(fd, rootLba * blockSize, rootLen);
    const want = isoNameKey(name);
    let off = 0;
    while (off < dir.length) {
      const len = dir[off] ?? 0;
      if (len === 0) {
        // Records never cross a sector boundary; a zero length pads the rest of this sector.
        off = (Math.floor(off / SECTOR) + 1) * SECTOR;
        continue;
      }
      if (len < 34 || off + len > dir.length) return { kind: 'not-iso9660' };
      const flags = dir[off + 25] ?? 0;
      const nameLen = dir[off + 32] ?? 0;
      const entry = dir.toString('latin1', off + 33, off + 33 + nameLen);
      if ((flags & 0x02) === 0 && isoNameKey(entry) === want) {
        const lba = dir.readUInt32LE(off + 2);
        const size = dir.readUInt32LE(off + 10);
        if (size > maxBytes) return { kind: 'too-large', size };
        return { kind: 'found', data: readAt(fd, lba * blockSize, size) };
      }
      off += len;
    }
    return { kind: 'no-such-file' };
  } finally {
    closeSync(fd);
  }
}
