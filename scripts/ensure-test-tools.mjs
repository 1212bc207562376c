// The tests drive real programs: nats-server (integration tests), Chromium (the status page) and
// kubectl (rendering the Kubernetes manifests). On a machine without them, install Debian's
// packages when running as root; otherwise stop at once with one line saying what to install.
import { execFileSync, spawnSync } from 'node:child_process';

const TOOLS = [
  { command: 'nats-server', args: ['--version'], pkg: 'nats-server' },
  { command: 'chromium', args: ['--version'], pkg: 'chromium' },
  { command: 'kubectl', args: ['version', '--client'], pkg: 'kubernetes-client' },
];

const found = (t) => spawnSync(t.command, t.args, { stdio: 'ignore' }).status === 0;
let missing = TOOLS.filter((t) => !found(t));

if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (root && apt) {
    const pkgs = missing.map((t) => t.pkg);
    console.error(`installing Debian's ${pkgs.join(', ')} for the tests`);
    const install = () =>
      execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      install();
    }
    missing = missing.filter((t) => !found(t));
  }
  if (missing.length > 0) {
    console.error(
      `npm test needs ${missing.map((t) => t.command).join(', ')} on the PATH: install ${missing.length > 1 ? 'them' : 'it'} (Debian/Ubuntu: sudo apt-get install ${missing.map((t) => t.pkg).join(' ')}) and run npm test again`,
    );
    process.exit(1);
  }
}
