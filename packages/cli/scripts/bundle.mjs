// Bundles the tessera command (dist/main.js) and the embedded pool's worker thread
// (@tessera/engine's dist/worker.js) into dist/bundle: the command then loads a handful of files
// instead of about 200 ES modules, which is most of its start-up time. Run after tsc.
//
// - The workspace's packages, zod, yaml and commander are bundled; every other package stays an
//   import of node_modules (native addons, packages that find their own files, the heavy ones
//   only some commands load).
// - A module's `import.meta.url` keeps pointing at its own dist file, so that the files it finds
//   beside itself (protocol files, the status page, data, package.json) are found from the
//   bundle. The executor's is the exception: its `./worker.js` is the bundled worker.
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(cli, '..', '..');
const outdir = join(cli, 'dist', 'bundle');
const BUNDLED_PACKAGES = /^(@tessera\/|zod(\/|$)|yaml(\/|$)|commander(\/|$))/;
const OWN_URL = new Set([join(root, 'packages', 'engine', 'dist', 'embedded.js')]);

const placement = {
  name: 'placement',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('node:') || !BUNDLED_PACKAGES.test(args.path) ? { path: args.path, external: true } : undefined,
    );
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`) || OWN_URL.has(args.path)) return undefined;
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const from = relative(outdir, args.path).split(sep).join('/');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(from)}, import.meta.url).href`), loader: 'js' };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(cli, 'dist', 'main.js'), worker: join(root, 'packages', 'engine', 'dist', 'worker.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // bundled CommonJS (commander, yaml) requires Node's built-ins
  banner: { js: "import { createRequire as __tesseraRequire } from 'node:module'; const require = __tesseraRequire(import.meta.url);" },
  plugins: [placement],
  logLevel: 'warning',
});
