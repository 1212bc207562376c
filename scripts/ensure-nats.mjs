// The integration tests start real nats-server processes. On a machine without one, install
// Debian's package when running as root; otherwise stop at once with one line saying what to do.
import { execFileSync, spawnSync } from 'node:child_process';

const found = () => spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0;

if (!found()) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (root && apt) {
    console.error("nats-server not found: installing Debian's nats-server package");
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'ignore' });
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      execFileSync('apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'ignore' });
    }
  }
  if (!found()) {
    console.error(
      'npm test needs nats-server on the PATH: install it (Debian/Ubuntu: sudo apt-get install nats-server; or a release from nats.io) and run npm test again',
    );
    process.exit(1);
  }
}
