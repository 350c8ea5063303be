package promtest

import (
	"regexp"
	"strings"
)

// Selector is one series selector of a PromQL expression.
type Selector struct {
	Metric   string // the metric name
	Matchers string // the label matchers with their braces; "" when there are none
	Start    int    // byte offset of the selector in the expression
	End      int    // byte offset just after it
}

var selectorRe = regexp.MustCompile(`\b([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?`)

// Selectors returns the selectors of known metrics (KnownMetric) in expr,
// found by a lexical scan: names inside quoted strings do not count.
// Template variables need not be expanded.
func Selectors(expr string) []Selector {
	// Blank out quoted strings, keeping offsets, so that their content is
	// not taken for metric names.
	blank := quoted.ReplaceAllStringFunc(expr, func(q string) string {
		return q[:1] + strings.Repeat("_", len(q)-2) + q[len(q)-1:]
	})
	var out []Selector
	for _, m := range selectorRe.FindAllStringSubmatchIndex(blank, -1) {
		name := blank[m[2]:m[3]]
		if !KnownMetric(name) {
			continue
		}
		s := Selector{Metric: name, Start: m[0], End: m[1]}
		if m[4] >= 0 {
			s.Matchers = expr[m[4]:m[5]]
		}
		out = append(out, s)
	}
	return out
}
