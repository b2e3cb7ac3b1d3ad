module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'scheduler-feature',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
