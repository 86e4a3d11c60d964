// The package version, kept equal to package.json's by a test; a constant, so that start-up reads no file.
export const version = '0.1.0'
