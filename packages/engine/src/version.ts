import { createRequire } from 'node:module';

/** The Tessera version (engine package version). */
export const TESSERA_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
