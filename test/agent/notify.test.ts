// Progress for `systemctl status`: the built agent's STATUS= messages (sd_notify(3)), received on a NOTIFY_SOCKET
// of the test's own, as systemd would receive them (one datagram each; a barrier's fd closed once read).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, ensureBuilt, startAgent } from '../../harness/agent-exe.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';

// A stand-in for systemd's notification socket: prints each datagram's text and its sender's PID (the kernel's
// SCM_CREDENTIALS, which PID 1 uses to find the unit) on one line (JSON) and closes any fd it carries (a barrier
// waits for that). Python: Node has no AF_UNIX datagram sockets.
const LISTENER = `
import socket, sys, os, array, json, struct, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iii", payload[:12])[0]
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(payload[: len(payload) - len(payload) % 4])
            for fd in fds: os.close(fd)
    print(json.dumps({"text": data.decode(), "pid": pid, "at": time.time() * 1000}), flush=True)
`;

interface Datagram {
  text: string;
  pid: number;
  /** When the listener read it (ms since the epoch). */
  at: number;
}

/** Start the listener on a socket in a fresh directory; `messages()` parses what it has read so far. */
async function listen(t: Test): Promise<{ dir: string; socketPath: string; messages: () => Datagram[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'gg-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'notify');
  const listener = spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => listener.kill());
  let out = '';
  await new Promise<void>((resolve, reject) => {
    listener.on('error', reject);
    listener.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) resolve();
    });
  });
  t.ok(existsSync(socketPath));
  const messages = () =>
    out
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Datagram);
  return { dir, socketPath, messages };
}

const senders = (messages: Datagram[]) => messages.map((m) => `${m.pid} ${m.text.split('=')[0]}`).join(', ');

t.test('systemctl status shows what the agent waits for, then how it ended', async (t) => {
  ensureBuilt();
  const { socketPath, messages: read } = await listen(t);

  const root = createDeviceRoot({ hostname: 'branch-017', endpoint: { host: '127.0.0.1', port: await closedPort() } });
  t.teardown(() => root.cleanup());
  root.writeAgentConfig({ preflight: { networkWaitSeconds: 3 } });
  const agent = startAgent(root, ['run'], { NOTIFY_SOCKET: socketPath });
  const r = await agent.done;
  t.equal(r.code, 75, r.stderr);
  await new Promise((res) => setTimeout(res, 300));
  const messages = read();
  // PID 1 attributes a message to a unit by its sender's PID; one from a process that has already exited is
  // dropped ("Cannot find unit for notify message of PID n"). Every message must come as the agent (the unit's
  // main process, alive for the whole run), none as a short-lived helper.
  t.same(
    [...new Set(messages.map((m) => m.pid))],
    [agent.child.pid],
    `every datagram is sent as the agent: ${senders(messages)}`,
  );
  const statuses = messages
    .map((m) => m.text)
    .filter((m) => m.startsWith('STATUS='))
    .map((m) => m.slice('STATUS='.length));
  t.match(statuses[0], /^preflight: /, `the phase first: ${statuses.join(' / ')}`);
  t.ok(
    statuses.some((s) => /^waiting for the IoT data endpoint 127\.0\.0\.1:\d+, \d s of 3$/.test(s)),
    'what it waits for, how long of how long',
  );
  t.match(
    statuses.at(-1),
    /^failed \(endpoint-unreachable, exit 75\): the IoT data endpoint 127\.0\.0\.1:\d+ is unreachable/,
    'the last status says how the run ended',
  );
});

// On a loaded first boot (a guest under emulation, the nucleus starting beside it) systemd-notify can take seconds
// to start. Had the agent exited with one still on its way, that one would have sent as itself (its parent gone),
// after the unit's main process ended: PID 1 drops it and says "Cannot find unit for notify message". The agent
// must not leave a helper behind that speaks after it.
t.test('a status helper slow to start never speaks after the agent has exited', async (t) => {
  ensureBuilt();
  const { dir, socketPath, messages: read } = await listen(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // The failure status (the run's last) is sent by a systemd-notify that takes 12 s to start, well past the 5 s
  // the agent waits for it at exit.
  const shim = join(bin, 'systemd-notify');
  writeFileSync(shim, `#!/bin/sh\ncase "$*" in *--status=failed*) sleep 12 ;; esac\nexec ${systemdNotify()} "$@"\n`);
  chmodSync(shim, 0o755);

  const root = createDeviceRoot({ hostname: 'branch-017', endpoint: { host: '127.0.0.1', port: await closedPort() } });
  t.teardown(() => root.cleanup());
  root.writeAgentConfig({ preflight: { networkWaitSeconds: 1 } });
  const agent = startAgent(root, ['run'], { NOTIFY_SOCKET: socketPath, PATH: `${bin}:${process.env.PATH}` });
  const r = await agent.done;
  const exitedAt = Date.now();
  t.equal(r.code, 75, r.stderr);
  await new Promise((res) => setTimeout(res, 9000));
  const messages = read();
  t.ok(messages.length > 0, 'the statuses before the last arrived');
  t.same(
    [...new Set(messages.map((m) => m.pid))],
    [agent.child.pid],
    `every datagram is sent as the agent: ${senders(messages)}`,
  );
  t.same(
    messages.filter((m) => m.at > exitedAt + 2000).map((m) => m.text),
    [],
    'nothing arrives after the agent has exited',
  );
});

function systemdNotify(): string {
  for (const d of ['/usr/bin', '/bin']) if (existsSync(join(d, 'systemd-notify'))) return join(d, 'systemd-notify');
  throw new Error('systemd-notify not found');
}
