module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'scheduler-history',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
