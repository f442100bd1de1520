// Greengrass core devices and their client devices, for `cores delete` and the `devices` commands.
import {
  BatchDisassociateClientDeviceFromCoreDeviceCommand,
  GetCoreDeviceCommand,
  ListClientDevicesAssociatedWithCoreDeviceCommand,
} from '@aws-sdk/client-greengrassv2';
import { AwsError } from '../../../common/errors.ts';
import { isAwsErrorNamed, toAwsError, type Clients } from '../aws.ts';
import { ignoreNotFound, type Step } from './thing-removal.ts';

/** The IoT policy `devices create` attaches to client device certificates unless --policy names another. */
export const DEFAULT_CLIENT_DEVICE_POLICY = 'GreengrassClientDevicePolicy';

/** Whether Greengrass knows `name` as a core device (it connected as one). */
export async function isCoreDevice(c: Clients, name: string): Promise<boolean> {
  try {
    await c.gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: name }));
    return true;
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return false;
    throw toAwsError(`GetCoreDevice ${name}`, err);
  }
}

/** The client devices associated with a core, or null when the core is not a Greengrass core device. */
export async function associatedClientDevices(c: Clients, core: string): Promise<string[] | null> {
  if (!(await isCoreDevice(c, core))) return null;
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    let r;
    try {
      r = await c.gg.send(
        new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: core, nextToken }),
      );
    } catch (err) {
      throw toAwsError(`ListClientDevicesAssociatedWithCoreDevice ${core}`, err);
    }
    out.push(...(r.associatedClientDevices ?? []).map((d) => d.thingName ?? '').filter(Boolean));
    nextToken = r.nextToken;
  } while (nextToken);
  return out;
}

export function disassociateSteps(c: Clients, core: string, devices: string[]): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < devices.length; i += 100) {
    const chunk = devices.slice(i, i + 100);
    steps.push({
      describe: `disassociate client device(s) ${chunk.join(', ')} from core ${core}`,
      run: async () => {
        const r = await ignoreNotFound('BatchDisassociateClientDeviceFromCoreDevice', () =>
          c.gg.send(
            new BatchDisassociateClientDeviceFromCoreDeviceCommand({
              coreDeviceThingName: core,
              entries: chunk.map((thingName) => ({ thingName })),
            }),
          ),
        );
        // Per-device failures come back in errorEntries with HTTP 200; a device that is gone already is done.
        const failed = (r?.errorEntries ?? []).filter((e) => e.code !== 'ResourceNotFoundException');
        if (failed.length > 0) {
          throw new AwsError(
            `BatchDisassociateClientDeviceFromCoreDevice ${core}: ${failed.map((e) => `${e.thingName}: ${e.code} ${e.message ?? ''}`.trim()).join('; ')}`,
            'disassociate-failed',
          );
        }
      },
    });
  }
  return steps;
}
