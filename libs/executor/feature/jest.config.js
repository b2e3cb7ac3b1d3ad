module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'executor-feature',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
