/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only; `npm run typecheck` checks the types of lib/ and test/.
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }],
  },
  // The demo CLI package (packages/cli) imports the library by name: in tests
  // it gets the same TypeScript sources the tests do, not dist/.
  moduleNameMapper: {
    '^pairloss$': '<rootDir>/lib/index.ts',
    '^pairloss/(heatmap|tfjs|cli/help)$': '<rootDir>/lib/$1.ts',
  },
  testTimeout: 60000,
  // The addon and LibTorch are process-wide; two workers fit this 2-core machine.
  maxWorkers: 2,
};
