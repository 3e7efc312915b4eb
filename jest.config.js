/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The seeded chaos run (about 3 minutes of fleet churn) runs with `npm run test:chaos`; it joins the
  // default suite once the lifecycle fixes it found have had their own repeated green runs.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/chaos/'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/global-setup.js',
};
