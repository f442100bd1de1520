// build: the image's name, which Packer gets as vm_name: the qcow2/VMDK file, the vSphere template, the OVA and the
// VM name an OVF import proposes. By default it says what is in the image and when it was built, sorts in build
// order within a nucleus version, and differs from every earlier build's, so a rebuild makes a new image beside
// the last instead of colliding with it. Replacing an image of the same name takes --force.
import { UsageError } from '../../../../common/errors.ts';

/** The image family: every default name starts with it. */
export const IMAGE_FAMILY = 'greengrass-golden';

/** What Packer's vm_name accepts (packer/variables.pkr.hcl), and a vSphere inventory name and a file name can hold. */
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/** `greengrass-golden-<nucleus version>-<yyyymmdd>-<hhmmss>`, the time in UTC. */
export function defaultImageName(nucleusVersion: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${IMAGE_FAMILY}-${nucleusVersion}-${stamp}`;
}

/** --image-name when given, else the default name; either checked before anything is made. */
export function checkedImageName(given: string | undefined, nucleusVersion: string, at = new Date()): string {
  const name = given ?? defaultImageName(nucleusVersion, at);
  if (!IMAGE_NAME.test(name)) {
    const what = given === undefined ? `--nucleus-version ${nucleusVersion} makes the image name` : '--image-name';
    throw new UsageError(
      `${what} ${JSON.stringify(name)}: an image name is 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}
