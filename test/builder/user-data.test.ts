// The autoinstall user-data an ISO build serves, rendered from settings: what subiquity would read back.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import {
  USER_DATA_DEFAULTS,
  generateBuildPassword,
  readAuthorizedKeys,
  renderUserData,
  type UserDataSettings,
} from '../../builder/src/user-data.ts';
import { PACKER_SRC } from '../../builder/src/packer.ts';

const template = readFileSync(join(PACKER_SRC, 'user-data.mustache'), 'utf8');
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3W1Z9u9bCw4n0Yz4Yk3b2QmJ3vS2hX0m7h8Wm2v1pQ ops: "laptop" #1';
const settings = (o: Partial<UserDataSettings> = {}): UserDataSettings => ({
  ...USER_DATA_DEFAULTS,
  password: 'correct horse battery',
  ...o,
});
type Doc = { autoinstall: Record<string, any> };
const load = (text: string) => yaml.load(text) as Doc;

function cryptMatches(password: string, hash: string): boolean {
  const salt = hash.split('$')[2]!;
  const r = spawnSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], {
    input: `${password}\n`,
    encoding: 'utf8',
  });
  return r.stdout.trim() === hash;
}

t.test('defaults: the build account with sudo, SSH with password login, DHCP on any NIC', async (t) => {
  const text = renderUserData(template, settings());
  t.match(text, /^#cloud-config\n/, 'starts with #cloud-config (NoCloud reads nothing else)');
  t.notMatch(text, /\{\{|\}\}/, 'no template tag left');
  const ai = load(text).autoinstall;
  t.equal(ai.version, 1);
  t.equal(ai.identity.username, 'packer');
  t.ok(cryptMatches('correct horse battery', ai.identity.password), 'identity.password is the SHA-512 crypt');
  t.notMatch(text, /correct horse battery/, 'the password itself is not in the file');
  t.equal(ai.ssh['install-server'], true);
  t.equal(ai.ssh['authorized-keys'], undefined, 'no keys given, none listed');
  t.equal(ai.locale, 'en_US.UTF-8');
  t.equal(ai.keyboard.layout, 'us');
  t.equal(ai.proxy, undefined, 'no proxy key without a proxy');
  t.same(ai['late-commands'], [
    "echo 'packer ALL=(ALL) NOPASSWD:ALL' > /target/etc/sudoers.d/packer",
    'chmod 0440 /target/etc/sudoers.d/packer',
    'ln -sf /usr/share/zoneinfo/Etc/UTC /target/etc/localtime',
    'echo Etc/UTC > /target/etc/timezone',
  ]);
  t.equal(ai.network.ethernets.primary.match.name, 'e*');
});

t.test('settings reach their keys: account, keys, locale, keyboard, time zone, apt proxy', async (t) => {
  const text = renderUserData(
    template,
    settings({
      username: 'builder',
      authorizedKeys: [KEY, 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ci'],
      locale: 'de_DE.UTF-8',
      keyboardLayout: 'de',
      timezone: 'Europe/Berlin',
      aptProxy: 'http://proxy.branch.example:3128',
    }),
  );
  const ai = load(text).autoinstall;
  t.equal(ai.identity.username, 'builder');
  t.same(ai.ssh['authorized-keys'], [KEY, 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ci'], 'each key one string');
  t.equal(ai.locale, 'de_DE.UTF-8');
  t.equal(ai.keyboard.layout, 'de');
  t.equal(ai.proxy, 'http://proxy.branch.example:3128');
  t.match(ai['late-commands'].join('\n'), /sudoers\.d\/builder/);
  t.match(ai['late-commands'].join('\n'), /zoneinfo\/Europe\/Berlin/);
});

t.test('values that would change the document are refused, with the setting named', async (t) => {
  const bad: Array<[Partial<UserDataSettings>, RegExp]> = [
    [{ username: 'root\n  late-commands: [reboot]' }, /username .* is not a POSIX user name/],
    [{ username: 'Admin' }, /username/],
    [{ locale: 'en_US.UTF-8\nx: 1' }, /locale/],
    [{ keyboardLayout: 'us; reboot' }, /keyboardLayout/],
    [{ timezone: '../../etc/passwd' }, /timezone/],
    [{ aptProxy: 'proxy:3128' }, /apt proxy .* is not an http\(s\) URL/],
    [{ authorizedKeys: ['not a key'] }, /is not an OpenSSH public key line/],
    [{ password: 'short' }, /at least 8 characters/],
    [{ password: 'two\nlines' }, /one line/],
  ];
  for (const [o, msg] of bad) {
    t.throws(() => renderUserData(template, settings(o)), { exitCode: 3, reason: 'user-data-invalid', message: msg });
  }
});

t.test(
  'generated build passwords are long, distinct, and not a word Packer would mask in its own output',
  async (t) => {
    const a = generateBuildPassword();
    const b = generateBuildPassword();
    t.not(a, b);
    t.ok(a.length >= 32);
    t.match(a, /^[A-Za-z0-9_-]+$/, 'no character needing quoting');
    t.notMatch(a.toLowerCase(), /packer/);
  },
);

t.test('SSH public key files: one key per line, comments and blank lines skipped; unreadable file named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-keys-'));
  const f = join(dir, 'keys.pub');
  writeFileSync(f, `# ops keys\n${KEY}\n\nssh-rsa AAAAB3NzaC1yc2E ci\n`);
  t.same(readAuthorizedKeys([f]), [KEY, 'ssh-rsa AAAAB3NzaC1yc2E ci']);
  t.throws(() => readAuthorizedKeys([join(dir, 'missing.pub')]), {
    exitCode: 3,
    message: /cannot read SSH public key file .*missing\.pub/,
  });
});
