import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The browser client's folder: `client/` beside `src/` and `dist/`. */
const CLIENT_DIR = fileURLToPath(new URL('../../client/', import.meta.url));

/**
 * Where the demo page is served: /demo, and the paths the links in mails open when APP_URL is unset
 * (`{origin}/demo/verify-email?token=…`, `{origin}/demo/reset-password?token=…`). The page reads
 * the token from its own address, so the query string reaches it untouched (no redirect).
 */
export const DEMO_PAGE_PATHS = ['/demo', '/demo/verify-email', '/demo/reset-password'] as const;

/**
 * The demo page at /demo: static HTML and CSS (client/public) and the compiled browser client
 * (client/dist, built by `npm run build:client`). Public by design: it holds no data, and every
 * call it makes goes through the API's own guards.
 */
/**
 * The QR code library the page draws the authenticator app's otpauth URI with (qrcode-generator,
 * MIT, no dependencies): its ES module, served as /demo/qrcode.js, so the page loads it from this
 * server like its own scripts (CSP `script-src 'self'`), and the secret never leaves the page.
 */
function qrCodeModule(): string {
  // The package's CommonJS entry (dist/qrcode.js) sits beside its ES module.
  const main = createRequire(import.meta.url).resolve('qrcode-generator');
  return readFileSync(join(dirname(main), 'qrcode.mjs'), 'utf8');
}

export async function registerDemoPage(fastify: FastifyInstance): Promise<void> {
  const compiled = `${CLIENT_DIR}dist`;
  if (!existsSync(`${compiled}/demo.js`)) {
    throw new Error('The demo page is on but client/dist is missing: run `npm run build:client` (or set DEMO_PAGE=false)');
  }
  const page = readFileSync(`${CLIENT_DIR}public/index.html`, 'utf8');
  await fastify.register(fastifyStatic, {
    root: [compiled, `${CLIENT_DIR}public`],
    prefix: '/demo/',
    decorateReply: false,
    // Only what the page loads: no source maps, no type declarations.
    allowedPath: (path: string) => /^\/[\w-]+\.(js|css|html)$/.test(path),
  });
  const qrcode = qrCodeModule();
  fastify.get('/demo/qrcode.js', (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').send(qrcode),
  );
  for (const path of DEMO_PAGE_PATHS) {
    // The same security headers as every answer (addSecurityHeaders); `Referrer-Policy: no-referrer`
    // among them keeps a link's token out of Referer headers.
    fastify.get(path, (_request, reply) => reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(page));
  }
}
