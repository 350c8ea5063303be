// Package licenses checks the licences of the module's dependencies.
//
// # What it checks
//
// TestDependencyLicenses reads the licence files of every module that
// `go list -m all` lists (downloading the ones not yet in the module cache
// from the Go module proxy), recognises each file's licence by the
// distinctive sentences of its text, and fails for a module without a
// licence file, with a text it does not recognise, or with a licence that is
// not on the allow list (permissive licences and MPL-2.0, all compatible with
// distributing the Apache-2.0 binary).
//
// TestNotice regenerates the dependency section of the repository's NOTICE
// file (the modules whose packages are linked into the linux binary, with
// their licences) and fails when the checked-in file differs; `go test
// ./test/licenses -update` rewrites it.
package licenses
