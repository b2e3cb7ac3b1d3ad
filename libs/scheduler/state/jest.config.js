module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'scheduler-state',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
