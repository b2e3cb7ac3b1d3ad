module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'scheduler-core',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
