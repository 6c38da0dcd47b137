/**
 * `pairloss build`: builds the native addon from source in the installed
 * package's own folder (scripts/build-addon.js), then checks that it loads.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { packageRoot } from '../loader';
import { CommandHelp, commandHelp } from './help';

/** The help of `pairloss build`, in the layout of every pairloss command (./help.ts). */
export const BUILD_HELP: CommandHelp = {
  name: 'build',
  summary: 'build the native addon from source, in place (after installing LibTorch, or to use another one)',
  usage: '[--quiet]',
  details: [
    'Builds the native addon from source into <package>/build/Release/pairloss.node with cmake-js,',
    'against Debian\'s LibTorch or the one LIBTORCH_DIR (the folder with lib/ and share/cmake/Torch)',
    'or Torch_DIR (the folder with TorchConfig.cmake) names; about 1.5 minutes on 2 cores. A build',
    'made in place is loaded before the prebuilt addon shipped in the package. It needs LibTorch,',
    'cmake, a C++17 compiler, and the npm build tools, which pairloss does not install:',
    'npm install --save-dev cmake-js node-addon-api',
  ],
  flags: {
    quiet: { type: 'boolean', description: 'print only the result (the whole output goes to build/build.log)' },
  },
};

/** Runs `pairloss build`; resolves to the exit code. */
export async function runBuild(args: string[], usageError: (message: string) => number): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${commandHelp('pairloss', BUILD_HELP)}\n`);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--quiet');
  if (unknown.length) return usageError(`unexpected argument ${JSON.stringify(unknown[0])}`);
  const root = packageRoot();
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { buildAddon } = require(path.join(root, 'scripts', 'build-addon.js')) as {
    buildAddon(o: { quiet: boolean }): { ok: boolean; message: string };
  };
  const result = buildAddon({ quiet: args.includes('--quiet') });
  if (!result.ok) {
    process.stderr.write(`\n${result.message}\n`);
    return 1;
  }
  // Loads in a fresh process: this one may have loaded another addon already.
  const addon = path.join(root, 'build', 'Release', 'pairloss.node');
  const check = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(addon)}).torchVersion)`], { encoding: 'utf8' });
  if (check.status !== 0) {
    process.stderr.write(`pairloss build: built ${addon}, but it does not load:\n${check.stderr}\n`);
    return 1;
  }
  process.stdout.write(`pairloss build: built ${addon} (LibTorch ${check.stdout})\n`);
  return 0;
}
