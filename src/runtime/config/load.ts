// Reads and validates a bundle's config.json. The rootfs is not looked at here:
// the runtime checks it when it plans the container.
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, NotFoundError } from '../errors';
import type { Spec } from './types';
import { validateConfig } from './validate';

export interface BundleConfig {
  spec: Spec;
  /** Absolute, symlink-free path of the bundle directory. */
  bundle: string;
  /** Absolute path of the config.json that was read. */
  configPath: string;
}

export const CONFIG_FILE = 'config.json';

export function loadBundleConfig(bundleDir: string): BundleConfig {
  let bundle: string;
  try {
    bundle = fs.realpathSync(path.resolve(bundleDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`bundle "${bundleDir}" does not exist`);
    throw new ConfigError(`bundle "${bundleDir}": ${(e as Error).message}`);
  }
  if (!fs.statSync(bundle).isDirectory()) throw new ConfigError(`bundle "${bundleDir}" is not a directory`);

  const configPath = path.join(bundle, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new NotFoundError(`bundle "${bundleDir}" has no ${CONFIG_FILE} (create one with "ccrun spec")`);
    }
    throw new ConfigError(`${CONFIG_FILE}: cannot read ${configPath}: ${(e as Error).message}`);
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${CONFIG_FILE}: invalid JSON: ${(e as Error).message}`);
  }
  return { spec: validateConfig(raw, CONFIG_FILE), bundle, configPath };
}
