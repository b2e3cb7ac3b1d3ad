module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'log-watcher-feature',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
