module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'agent-feature',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
