package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSyntaxErrorLines pins what parse takes from yaml.v3's syntax errors:
// the "yaml: line N: problem" shape, and which problems count lines from 0
// (the parser's, listed in parserProblems) or from 1 (the scanner's). A
// yaml.v3 that words or numbers them differently fails here.
func TestSyntaxErrorLines(t *testing.T) {
	tests := []struct {
		in      string
		line    int
		problem string
	}{
		// parser problems
		{"%TAG !a! tag:a,2000:\n%TAG !a! tag:b,2000:\n---\na: 1\n", 2, "found duplicate %TAG directive"},
		{"a: 1\nb: !x!y 1\n", 2, "found undefined tag handle"},
		{"a: 1\nb: [1, ]]\n", 2, "did not find expected key"},
		{"a: 1\nb:\n  c: 1\n d: 2\n", 4, "did not find expected key"},
		{"a: 1\nb: {c: ]}\n", 2, "did not find expected node content"},
		{"a: 1\nb:\n  - x\n  c: 1\n", 3, "did not find expected '-' indicator"},
		{"a: 1\nb: {c: 1\nd: 2\n", 2, "did not find expected ',' or '}'"},
		{"a: 1\nb: [1, 2\nc: 2\n", 2, "did not find expected ',' or ']'"},
		// scanner problems
		{"a: 1\nb: \"x\n", 2, "found unexpected end of stream"},
		{"a: 1\n\tb: 1\n", 2, "found a tab character that violates indentation"},
		{"a: 1\nb: @x\n", 2, "found character that cannot start any token"},
		// on the first line yaml.v3 gives no line
		{"a: b: c\n", 0, "mapping values are not allowed in this context"},
		{"%YAML 2.0\n---\na: 1\n", 0, "found incompatible YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.problem, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tt.in), &n)
			if err == nil {
				t.Fatalf("yaml.v3 accepted %q", tt.in)
			}
			line, problem := syntaxError(err)
			if line != tt.line || problem != tt.problem {
				t.Errorf("%q: got line %d %q from %q, want line %d %q", tt.in, line, problem, err, tt.line, tt.problem)
			}
		})
	}
	if line, problem := syntaxError(errors.New("yaml: line x: odd")); line != 0 || problem != "line x: odd" {
		t.Errorf("malformed line: got %d %q", line, problem)
	}
}

// TestDecodeProblems: the schema walk reports every problem of a value's
// kind, unknown or repeated key at its line with its field path, in the
// shape "file:line: path: what is wrong; what is allowed".
func TestDecodeProblems(t *testing.T) {
	ok := "groups: [{name: g, targets: [127.0.0.1]}]\n"
	tests := []struct {
		name, in string
		want     []string
	}{
		{"struct wants a mapping", "source: lab\n" + ok, []string{`d.yml:1: source: want a mapping, got the string "lab"`}},
		{"list wants a list", "groups: !!map {a: b}\n", []string{"d.yml:1: groups: want a list, got a mapping"}},
		{"list item wants a mapping", "groups:\n  - {name: g, targets: [127.0.0.1]}\n  - 5\n", []string{`d.yml:3: groups[1]: want a mapping, got the number "5"`}},
		{"key twice", "groups:\n  - name: g\n    ttl: 1\n    ttl: 2\n    targets: [127.0.0.1]\n",
			[]string{"d.yml:4: groups[0].ttl: set twice in this mapping (first at line 3); keep one"}},
		{"unknown key inline", "groups:\n  - name: g\n    colour: red\n    targets: [127.0.0.1]\n",
			[]string{"d.yml:3: groups[0].colour: unknown field; allowed here: allow_broadcast, down_after, export, file_sd_configs, histogram, history_retention, http_sd_configs, interval, ip_protocol, ip_version, labels, name, outage_history, path, payload_size, relabel_configs, resolve, targets, timeout, tos, ttl, up_after, vantage"}},
		{"plain fields", "otlp: {enabled: maybe, interval: 5, headers: [a], tls: {colour: x}}\n" + ok, []string{
			`d.yml:1: otlp.enabled: want true or false, got the string "maybe"`,
			`d.yml:1: otlp.interval: want a duration like 1s, got the number "5"`,
			"d.yml:1: otlp.headers: want a mapping, got a list",
			"d.yml:1: otlp.tls.colour: unknown field; allowed here: ca_file, cert_file, insecure_skip_verify, key_file, server_name",
		}},
		{"map values", "otlp: {enabled: true, endpoint: 'localhost:4317', headers: {a: [1]}}\n" + ok,
			[]string{"d.yml:1: otlp.headers.a: want a string, got a list"}},
		{"items inside a value", "groups:\n  - name: g\n    histogram: {buckets: [0.1, x]}\n    labels: {a: [1]}\n    targets: [127.0.0.1, [1]]\n", []string{
			`d.yml:3: groups[0].histogram.buckets[1]: item 1: want a number, got "x"`,
			"d.yml:4: groups[0].labels.a: want a string value, got a list",
			"d.yml:5: groups[0].targets[1]: want an address, CIDR block or host name, got a list",
		}},
		{"merge key", "defaults: &d {interval: 1s}\ngroups:\n  - <<: *d\n    name: a\n    colour: red\n    targets: [127.0.0.1]\n",
			[]string{"d.yml:5: groups[0].colour: unknown field; allowed here: allow_broadcast, down_after, export, file_sd_configs, histogram, history_retention, http_sd_configs, interval, ip_protocol, ip_version, labels, name, outage_history, path, payload_size, relabel_configs, resolve, targets, timeout, tos, ttl, up_after, vantage"}},
		{"merged value checked", "defaults: &d {ttl: x}\ngroups:\n  - <<: *d\n    name: a\n    targets: [127.0.0.1]\n",
			[]string{`d.yml:1: defaults.ttl: want a whole number, got "x"`, `d.yml:1: groups[0].ttl: want a whole number, got "x"`}},
		{"alias of an enclosing value", "groups: &g [*g]\n", []string{"d.yml:1: groups[0]: want a mapping, got a list"}},
		{"syntax", "groups: [{name: g\n", []string{"d.yml:2: invalid YAML: did not find expected ',' or '}'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "d.yml")
			if err == nil {
				t.Fatalf("accepted %q", tt.in)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestAliasBounds: aliases that multiply the values are refused, not
// expanded: here 100 groups share a list of 20000 targets.
func TestAliasBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("groups:\n  - name: g\n    targets: &all [")
	for i := range 20000 {
		fmt.Fprintf(&b, "10.%d.%d.%d, ", i>>16, i>>8&255, i&255)
	}
	b.WriteString("]\n")
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "  - {name: g%d, targets: *all}\n", i)
	}
	_, err := Parse([]byte(b.String()), "a.yml")
	if err == nil || !strings.Contains(err.Error(), "the aliases (*name) expand to too many values") {
		t.Fatalf("got %.300v, want the alias budget", err)
	}
}
