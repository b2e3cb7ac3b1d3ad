module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'node-util',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
