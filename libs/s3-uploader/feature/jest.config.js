module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 's3-uploader-feature',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
