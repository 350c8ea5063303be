// Package deploy holds no code: it is the home of the deployment examples
// (the systemd unit in systemd/, Kubernetes manifests in kubernetes/) and of
// the tests that keep them and the repository's Dockerfiles honest.
//
// # What the tests check
//
//   - Dockerfile and Dockerfile.pfring: the go build line is the Makefile's
//     `build` target (expanded with `make -n`), the runtime stages run as a
//     non-root user where they should, expose 10427, copy a configuration
//     that exists and is not excluded by .dockerignore, and start the binary
//     the build stage produced.
//   - The systemd unit: `systemd-analyze verify` and `systemd-analyze security
//     --offline` (exposure must stay "OK"), with the capability and
//     hardening settings the documentation promises.
//   - The Kubernetes manifests: structure (selectors, ports, the ping sysctl,
//     non-root), the embedded configurations load with package config, and
//     the StatefulSet's shards cover every configured target exactly once.
//
// No Docker engine or Kubernetes cluster is needed; docs/deploy.md is the
// user's guide to these files.
package deploy
