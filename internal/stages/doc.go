// Package stages holds bandercheck's stages as library code: scan storage,
// scan metadata, scan upstream, plan, apply and run, one file each (with its
// helpers beside it). Each stage is an options struct whose Run method takes
// the Env it works in; cmd/bandercheck only parses the command line into them,
// and maps their errors to exit codes.
package stages
