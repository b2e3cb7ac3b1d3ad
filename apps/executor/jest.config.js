module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'executor',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
