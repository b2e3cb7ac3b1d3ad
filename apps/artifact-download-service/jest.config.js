module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'artifact-download-service',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
