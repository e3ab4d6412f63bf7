import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startApp, type TestApp } from '../support/app.js';

/** The demo page answers at the paths the links in mails open, exactly as at /demo. */
describe('the demo page at /demo and at the mail links’ paths', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ DEMO_PAGE: 'true' });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('/demo/verify-email and /demo/reset-password serve the same page, with the same headers, query string and all', async () => {
    const demo = await t.http().get('/demo').expect(200);
    for (const path of ['/demo/verify-email?token=abc', '/demo/reset-password?token=abc', '/demo/verify-email', '/demo/reset-password']) {
      const response = await t.http().get(path);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.text).toBe(demo.text);
      for (const header of ['content-type', 'content-security-policy', 'referrer-policy', 'x-frame-options', 'cache-control']) {
        expect({ path, header, value: response.headers[header] }).toEqual({ path, header, value: demo.headers[header] });
      }
    }
    // No inline script: the page's code comes from /demo/demo.js, which the CSP (script-src 'self') allows.
    expect(demo.headers['content-security-policy']).toContain("script-src 'self'");
    expect(demo.headers['referrer-policy']).toBe('no-referrer');
    expect(demo.text).toContain('<script type="module" src="/demo/demo.js"></script>');
    expect(demo.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  test('other paths under /demo/ are still only the page’s assets', async () => {
    await t.http().get('/demo/demo.js').expect(200);
    // The QR code library, from the qrcode-generator package (its ES module), for the two-factor panel.
    expect((await t.http().get('/demo/qrcode.js').expect(200)).text).toMatch(/export default qrcode/);
    await t.http().get('/demo/verify-email/extra').expect(404);
    await t.http().get('/demo/tessera-client.js.map').expect(404);
  });
});
