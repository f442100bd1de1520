import t from 'tap';
import { validateThingName, applyFqdnMode, renderTokens } from '../../common/thing-name.ts';

t.test('accepts names AWS IoT accepts', async (t) => {
  for (const n of ['branch-017', 'a', 'Edge_Core_1', 'x'.repeat(128)]) t.equal(validateThingName(n), n);
});

t.test('refuses with a specific problem', async (t) => {
  const cases: [string, string][] = [
    ['', 'empty'],
    ['x'.repeat(129), 'too-long'],
    ['core1.example.com', 'fqdn'],
    ['my host', 'invalid-characters'],
    ["it's", 'invalid-characters'],
    ['a: b', 'invalid-characters'],
    ['a:b', 'colon'],
    ['LocalHost', 'denied'],
    ['ubuntu', 'denied'],
  ];
  for (const [name, problem] of cases) {
    t.throws(
      () => validateThingName(name),
      { name: 'ThingNameError', problem },
      `${JSON.stringify(name)} -> ${problem}`,
    );
  }
  t.equal(validateThingName('golden'), 'golden');
  t.throws(() => validateThingName('Golden', { templateHostname: 'golden' }), {
    name: 'ThingNameError',
    problem: 'template-hostname',
  });
  t.throws(() => validateThingName('lab-1', { deny: ['LAB-1'] }), { name: 'ThingNameError', problem: 'denied' });
});

t.test('fqdn modes are explicit', async (t) => {
  t.equal(applyFqdnMode('core1.example.com', 'short'), 'core1');
  t.equal(applyFqdnMode('core1.example.com', 'dashes'), 'core1-example-com');
  t.equal(applyFqdnMode('core1.example.com', 'refuse'), 'core1.example.com');
});

t.test('token templates fail on missing values instead of half-building a name', async (t) => {
  t.equal(renderTokens('{{hostname}}-{{serial}}', { hostname: 'h', serial: 'S1' }), 'h-S1');
  t.throws(() => renderTokens('{{hostname}}-{{serial}}', { hostname: 'h' }), {
    name: 'ConfigError',
    reason: 'template-token-missing',
  });
});
