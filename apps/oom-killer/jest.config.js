module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'oom-killer',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
