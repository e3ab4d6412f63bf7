import { createDownstream } from './app.js';
import { configFromEnv } from './app.module.js';

try {
  const config = configFromEnv();
  const app = await createDownstream(config.verifier);
  await app.listen(config.port, '0.0.0.0');
  console.log(`example downstream service on http://localhost:${config.port} (Tessera at ${config.verifier.tesseraUrl})`);
} catch (error) {
  console.error(`example downstream service could not start: ${(error as Error).message}`);
  process.exit(1);
}
