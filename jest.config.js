/** Jest 30 in ESM mode (Nest 12 is ESM-only): run through `npm test`, which sets --experimental-vm-modules. */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  // Unit specs stand beside the code they test; e2e suites and the store contracts (session, ticket) stay in test/.
  testMatch: [
    '<rootDir>/src/**/*.spec.ts',
    '<rootDir>/client/**/*.spec.ts',
    '<rootDir>/test/**/*.e2e-spec.ts',
    '<rootDir>/test/*.contract.spec.ts',
    // The verifier package's own tests run on its source (the mapper below), not on dist/.
    '<rootDir>/packages/*/src/**/*.spec.ts',
    '<rootDir>/packages/*/test/**/*.spec.ts',
  ],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^@tessera/verifier$': '<rootDir>/packages/verifier/src/index.ts',
    '^@tessera/verifier/passport$': '<rootDir>/packages/verifier/src/passport.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  // content-disposition 3 is ESM-only but require()d by @fastify/static (CommonJS, used by Swagger UI);
  // Jest on Node < 24.9 cannot require ESM, so that one leaf package is compiled to CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  transform: {
    '/node_modules/content-disposition/.+\\.js$': ['@swc/jest', { swcrc: false, module: { type: 'commonjs' } }],
    '^.+\\.ts$': [
      '@swc/jest',
      {
        // Not the build's .swcrc: these options are complete on their own.
        swcrc: false,
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'es6' },
      },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Per test and per hook. Starting an app on embedded defaults creates a new PGlite database
  // (about 5 s on an idle 2-core machine, over 30 s on a loaded one); the limit is for hangs only.
  testTimeout: 120_000,
  // Nest apps, PGlite and Redis clients are closed by each suite; this catches any that is not.
  forceExit: false,
};
