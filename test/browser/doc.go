// Package browser drives a real browser for tests of the status pages: a
// minimal client of the W3C WebDriver protocol as chromedriver speaks it
// (sessions, navigation, scripts, console log, screenshots, and Chrome
// DevTools commands through chromedriver's goog/cdp/execute), with no
// third-party module.
//
// The test in this package (Linux, root) builds the exporter, runs it in a
// lab namespace with basic authentication on, starts Debian's chromedriver
// and headless Chromium in the same namespace, and checks the pages in the
// browser's DOM. With UPDATE_SCREENSHOTS=1 it writes the screenshots of the
// README to docs/img/.
package browser
