// The installer settings the common/ and cloudformation/ tests render from: a complete eu-west-1 core.
import type { InstallerSettings } from '../../common/installer-config.ts';

export const EXAMPLE_SETTINGS: InstallerSettings = {
  nucleusVersion: '2.16.0',
  rootPath: '/greengrass/v2',
  awsRegion: 'eu-west-1',
  iotDataEndpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
  iotCredentialEndpoint: 'xyz.credentials.iot.eu-west-1.amazonaws.com',
  iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
  provisioningTemplate: 'GreengrassFleetProvisioningTemplate',
  claimCertificatePath: '/greengrass/v2/claim-certs/claim.pem.crt',
  claimCertificatePrivateKeyPath: '/greengrass/v2/claim-certs/claim.private.pem.key',
  rootCaPath: '/greengrass/v2/AmazonRootCA1.pem',
};
