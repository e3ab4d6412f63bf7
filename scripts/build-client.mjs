#!/usr/bin/env node
// The browser client (client/*.ts -> client/dist/*.js) compiled by SWC in a fraction of a second,
// for `npm start` and `npm run dev`. `npm run build` (and so the Docker image and `npm test`) uses
// `npm run build:client` instead: tsc, which also type-checks and writes the .d.ts declarations.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';

const CLIENT = fileURLToPath(new URL('../client/', import.meta.url));
const OUT = join(CLIENT, 'dist');
mkdirSync(OUT, { recursive: true });

const sources = readdirSync(CLIENT).filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !/\.(e2e-)?spec\.ts$/.test(name));
await Promise.all(
  sources.map(async (name) => {
    const js = basename(name, '.ts') + '.js';
    const { code, map } = await transformFile(join(CLIENT, name), {
      swcrc: false,
      sourceMaps: true,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    });
    writeFileSync(join(OUT, js), `${code}\n//# sourceMappingURL=${js}.map\n`);
    if (map) writeFileSync(join(OUT, `${js}.map`), map);
  }),
);
