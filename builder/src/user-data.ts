// The Ubuntu autoinstall user-data an ISO build serves (packer/user-data.mustache), rendered from the build's
// settings so the build account, its password, keys, locale, keyboard, time zone and apt proxy are set in one
// place. Every value is checked here and written as a quoted YAML scalar, so no value can change the document's
// structure. The build password is generated per build unless one is given: Packer masks sensitive values in
// all its output, and a common word as the password (the old default was "packer") masked Packer's own name.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Mustache from 'mustache';
import { ConfigError, ToolError } from '../../common/errors.ts';

export interface UserDataSettings {
  /** Build account Packer logs in with (ssh_username). */
  username: string;
  /** Its password (ssh_password); only its SHA-512 crypt hash goes into user-data. */
  password: string;
  /** OpenSSH public keys allowed to log in as the build account. */
  authorizedKeys: string[];
  locale: string;
  keyboardLayout: string;
  /** A tz database name, e.g. Etc/UTC or Europe/Berlin. */
  timezone: string;
  /** http(s) proxy for apt during and after the install; empty for none. */
  aptProxy: string;
}

export const USER_DATA_DEFAULTS: Omit<UserDataSettings, 'password'> = {
  username: 'packer',
  authorizedKeys: [],
  locale: 'en_US.UTF-8',
  keyboardLayout: 'us',
  timezone: 'Etc/UTC',
  aptProxy: '',
};

/** A password for the build account that appears nowhere else (32 URL-safe characters). */
export function generateBuildPassword(): string {
  return randomBytes(24).toString('base64url');
}

const RULES: Array<[keyof UserDataSettings, RegExp, string]> = [
  ['username', /^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX user name (lower case, up to 32 characters)'],
  ['locale', /^[A-Za-z]{2,3}(_[A-Z]{2})?(\.[A-Za-z0-9-]+)?(@[a-z]+)?$/, 'a locale such as en_US.UTF-8'],
  ['keyboardLayout', /^[a-z]{2,3}([(+][a-z0-9_()+-]*)?$/, 'an XKB layout such as us or de'],
  ['timezone', /^(?!.*\.\.)[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/, 'a tz database name such as Europe/Berlin'],
];
const KEY = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n]*)?$/;

function check(s: UserDataSettings): void {
  for (const [k, re, what] of RULES) {
    const v = s[k] as string;
    if (!re.test(v)) throw new ConfigError(`user-data: ${k} ${JSON.stringify(v)} is not ${what}`, 'user-data-invalid');
  }
  if (s.password.length < 8 || /[\n\r]/.test(s.password))
    throw new ConfigError(
      'user-data: the build password must be one line of at least 8 characters',
      'user-data-invalid',
    );
  for (const k of s.authorizedKeys)
    if (!KEY.test(k.trim()))
      throw new ConfigError(
        `user-data: ${JSON.stringify(k.slice(0, 40))}... is not an OpenSSH public key line`,
        'user-data-invalid',
      );
  if (s.aptProxy) {
    let u: URL | undefined;
    try {
      u = new URL(s.aptProxy);
    } catch {
      u = undefined;
    }
    if (!u || !/^https?:$/.test(u.protocol))
      throw new ConfigError(
        `user-data: apt proxy ${JSON.stringify(s.aptProxy)} is not an http(s) URL`,
        'user-data-invalid',
      );
  }
}

/** SHA-512 crypt of the password (what autoinstall's identity.password takes); the password goes through stdin. */
export function passwordHash(password: string): string {
  const r = spawnSync('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n`, encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new ToolError(`openssl passwd failed: ${r.error?.message ?? r.stderr.trim()}`, 'openssl-failed');
  return r.stdout.trim();
}

/** JSON's string syntax is a YAML double-quoted scalar: the value stays one string whatever it holds. */
const quote = (v: unknown) => JSON.stringify(String(v));

/** Reads OpenSSH public key files (one key per non-empty, non-comment line). */
export function readAuthorizedKeys(files: string[]): string[] {
  return files.flatMap((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `user-data: cannot read SSH public key file ${f}: ${(err as Error).message}`,
        'user-data-invalid',
        {
          cause: err,
        },
      );
    }
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  });
}

export function renderUserData(template: string, s: UserDataSettings): string {
  check(s);
  const sudoers = `/target/etc/sudoers.d/${s.username}`;
  const view = {
    ...s,
    authorizedKeys: s.authorizedKeys.map((k) => k.trim()),
    passwordHash: passwordHash(s.password),
    sudoersCommand: `echo '${s.username} ALL=(ALL) NOPASSWD:ALL' > ${sudoers}`,
    sudoersChmod: `chmod 0440 ${sudoers}`,
    timezoneLink: `ln -sf /usr/share/zoneinfo/${s.timezone} /target/etc/localtime`,
    timezoneFile: `echo ${s.timezone} > /target/etc/timezone`,
  };
  return Mustache.render(template, view, {}, { escape: quote });
}
