module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 's3-uploader',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
