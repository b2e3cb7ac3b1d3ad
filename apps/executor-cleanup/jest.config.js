module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'executor-cleanup',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
