module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'oom-killer-feature',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
