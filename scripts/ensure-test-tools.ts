/**
 * The first step of `npm test` (its `pretest` script; `.ci/run` runs `npm test`, so CI takes the same
 * step): the programs the tests run that npm does not bring, installed from Debian when missing.
 * Nothing is downloaded from anywhere else (the machines reach only the npm registry and Debian).
 * Needs root and apt-get for an install; otherwise it stops and says what to install.
 *   node scripts/ensure-test-tools.ts            check, and install what is missing
 *   node scripts/ensure-test-tools.ts --check    check only (exit 1 naming what is missing)
 */
import { spawnSync } from 'node:child_process';

/**
 * A command the tests run → the Debian package that provides it; `env` names a variable that, when set,
 * gives the program the tests use instead (then that one is checked, and nothing is installed for it).
 */
const TOOLS: Record<string, { package: string; env?: string }> = {
  chromium: { package: 'chromium', env: 'CHROMIUM_PATH' }, // tests/e2e: the console in headless Chromium, driven by playwright-core
  aws: { package: 'awscli' }, // the AWS CLI the Step Functions tests call
};

const APT = ['-o', 'DPkg::Lock::Timeout=600'];

function works(command: string): boolean {
  const run = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 60_000 });
  return run.error === undefined && run.status === 0;
}

const missing = () =>
  Object.entries(TOOLS)
    .filter(([command, tool]) => !works((tool.env && process.env[tool.env]) || command))
    .map(([command]) => command);
const packageOf = (command: string) => TOOLS[command].package;

function apt(args: string[]): boolean {
  const run = spawnSync('apt-get', [...APT, ...args], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return run.error === undefined && run.status === 0;
}

/** True when the package cache knows a version of the package it could install. */
function known(pkg: string): boolean {
  const run = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  const candidate = /Candidate:\s*(\S+)/.exec(run.stdout ?? '')?.[1];
  return candidate !== undefined && candidate !== '(none)';
}

function fail(commands: string[], why: string): never {
  const packages = [...new Set(commands.map(packageOf))].join(' ');
  console.error(
    `The tests need ${commands.map((c) => `\`${c}\` (Debian package ${packageOf(c)})`).join(' and ')}, which ${commands.length > 1 ? 'are' : 'is'} not installed, and ${why}.`,
  );
  console.error(`Install ${commands.length > 1 ? 'them' : 'it'} and run the tests again, e.g.:\n  sudo apt-get install -y ${packages}`);
  process.exit(1);
}

const absent = missing();
if (absent.length === 0) process.exit(0);
if (process.argv.includes('--check')) fail(absent, 'this was a check only');
const pointed = absent.find((c) => TOOLS[c].env && process.env[TOOLS[c].env ?? '']);
if (pointed) fail([pointed], `${TOOLS[pointed].env}=${process.env[TOOLS[pointed].env ?? '']} does not run (unset it to use Debian's package)`);
if (!works('apt-get')) fail(absent, 'this machine has no apt-get to install it with');
if (process.getuid?.() !== 0) fail(absent, 'installing needs root (this runs as an ordinary user)');

const packages = [...new Set(absent.map(packageOf))];
console.log(`Installing ${packages.join(', ')} from Debian for ${absent.map((c) => `\`${c}\``).join(', ')} (scripts/ensure-test-tools.ts)`);
let updated = false;
if (!packages.every(known)) {
  updated = apt(['update', '-qq']);
}
const install = ['install', '-y', '-qq', ...packages];
if (!apt(install) && !updated) {
  // A stale package list names files the mirror no longer has: refresh it once and try again.
  apt(['update', '-qq']);
  apt(install);
}
const still = missing();
if (still.length > 0) fail(still, 'apt-get could not install it (see its messages above)');
