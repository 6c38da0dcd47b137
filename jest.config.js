/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 60000,
  // The addon and LibTorch are process-wide; two workers fit this 2-core machine.
  maxWorkers: 2,
};
