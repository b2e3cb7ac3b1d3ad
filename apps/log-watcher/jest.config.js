module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'log-watcher',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
