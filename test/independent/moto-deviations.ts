// Where moto 5.2.1 itself does not do what AWS documents. Each entry: what moto does, what AWS does, and the public
// page that says so. moto-deviations.test.ts shows each one still holds (on moto) and that the AWS stand-in does what
// AWS does; the comparison tests (moto-claim, moto-fleet) avoid relying on them or normalise them by name.
export interface MotoDeviation {
  moto: string;
  aws: string;
  source: string;
}

export const MOTO_DEVIATIONS = {
  certificateIdIsPemHash: {
    moto: 'a certificate id is the SHA-256 of the PEM text unless iot.use_valid_cert is on (the harness sets it)',
    aws:
      'the certificate id is the SHA-256 of the certificate DER (64 hex characters); the builder finds a certificate ' +
      'it wrote to disk by that id',
    source:
      'IoT API reference, CertificateDescription (certificateId: fixed length 64, hex); the DER relation is not ' +
      'on that page: it is what AWS answers (the SHA-256 fingerprint, ' +
      '`openssl x509 -noout -fingerprint -sha256`), and ' +
      "moto's own iot/models.py calls its PEM hash incorrect",
  },
  noPagination: {
    moto:
      'ListCertificates, ListPolicies (pageSize), ListThingGroups, ListThingPrincipals, ListThingsInThingGroup ' +
      '(maxResults), ListAttachedPolicies (pageSize) return every item and no nextToken/nextMarker',
    aws: 'each returns at most the page size asked for and a nextToken or nextMarker for the rest',
    source:
      'IoT API reference: ListCertificates, ListPolicies, ListAttachedPolicies (pageSize, marker, nextMarker); ' +
      'ListThingGroups, ListThingPrincipals, ListThingsInThingGroup (maxResults, nextToken)',
  },
  createThingReplaces: {
    moto: 'CreateThing of an existing name with another configuration replaces it (new thingId, attributes dropped)',
    aws: 'same name and configuration succeeds; same name, different configuration: ResourceAlreadyExistsException',
    source: 'IoT API reference, CreateThing',
  },
  deleteMissingThing404: {
    moto: 'DeleteThing of a thing that does not exist: ResourceNotFoundException (404)',
    aws: 'returns successfully when the thing does not exist',
    source: 'IoT API reference, DeleteThing; IoT developer guide, "Delete a thing"',
  },
  describeEndpointRandom: {
    moto: 'DescribeEndpoint answers a new random prefix on every call',
    aws: 'a unique endpoint specific to the account (the same answer on every call, per region)',
    source: 'IoT API reference, DescribeEndpoint',
  },
  createThingGroupSameConflict: {
    moto: 'CreateThingGroup of an existing group with the same properties: ResourceAlreadyExistsException (409)',
    aws: 'the exact same attributes as an existing group: 200 success',
    source: 'IoT API reference, CreateThingGroup',
  },
  noGreengrassV2: {
    moto: 'no Greengrass v2 API (moto has Greengrass v1 only)',
    aws: 'GetCoreDevice, ListClientDevicesAssociatedWithCoreDevice, BatchAssociateClientDevice..., CreateDeployment',
    source: 'Greengrass v2 API reference; moto IMPLEMENTATION_COVERAGE.md (no greengrassv2 section)',
  },
  noFleetProvisioning: {
    moto: 'no provisioning templates (CreateProvisioningTemplate not implemented), no MQTT broker',
    aws: 'CreateProvisioningTemplate; topics $aws/certificates/create, $aws/provisioning-templates/<name>/provision',
    source:
      'IoT API reference, CreateProvisioningTemplate; IoT developer guide, "Device provisioning MQTT API"; ' +
      'moto IMPLEMENTATION_COVERAGE.md',
  },
} as const satisfies Record<string, MotoDeviation>;
