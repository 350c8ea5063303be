package alerts_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
	"github.com/icmp-exporter/icmp_exporter/test/promtest"
)

const (
	rulesFile   = "icmp_exporter.rules.yml"
	runbookBase = "https://github.com/icmp-exporter/icmp_exporter/blob/main/docs/runbook.md#"
	thresholds  = "icmp_exporter.thresholds"
)

// requiredAlerts are the alerts the rule file must define.
func requiredAlerts() []string {
	return []string{
		"ICMPTargetDown", "ICMPPacketLossHigh", "ICMPLatencyIncrease", "ICMPTargetFlapping",
		"ICMPGroupMostlyDown", "ICMPExporterOverloaded", "ICMPConfigReloadFailed", "ICMPExporterAbsent",
		"ICMPIPv6BrokenIPv4Works", "ICMPBurstLoss",
	}
}

// perTarget are the alerts about one target: their description names the
// target and lists its labels.
func perTarget() []string {
	return []string{"ICMPTargetDown", "ICMPPacketLossHigh", "ICMPLatencyIncrease", "ICMPTargetFlapping", "ICMPBurstLoss"}
}

func loadRules(t *testing.T) *promtest.RuleFile {
	t.Helper()
	f, err := promtest.LoadRules(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPromtool(t *testing.T) {
	promtool := lab.Tool(t, "promtool")
	amtool := lab.Tool(t, "amtool")
	tests, err := filepath.Glob("tests/*.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool tests in tests/: %v", err)
	}
	cases := []struct {
		name string
		cmd  []string
	}{
		{"check rules", []string{promtool, "check", "rules", rulesFile}},
		{"test rules", append([]string{promtool, "test", "rules"}, tests...)},
		{"alertmanager example", []string{amtool, "check-config", "alertmanager-inhibit.yml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := exec.Command(c.cmd[0], c.cmd[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(c.cmd, " "), err, out)
			}
		})
	}
}

// TestEveryAlertIsTested checks that each alert appears in an alert_rule_test
// of tests/*.yml, both firing and silent.
func TestEveryAlertIsTested(t *testing.T) {
	files, _ := filepath.Glob("tests/*.yml")
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			t.Run(r.Alert, func(t *testing.T) {
				fires := regexp.MustCompile(`alertname: ` + r.Alert + `\n\s+exp_alerts:\n\s+- exp_labels`)
				silent := regexp.MustCompile(`alertname: ` + r.Alert + `\n\s+exp_alerts: \[\]`)
				if !fires.MatchString(text) {
					t.Errorf("no promtool test expects %s to fire", r.Alert)
				}
				if !silent.MatchString(text) {
					t.Errorf("no promtool test expects %s to stay silent", r.Alert)
				}
			})
		}
	}
}

func TestAlertStructure(t *testing.T) {
	f := loadRules(t)
	anchors := runbookAnchors(t)
	var alerts []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			t.Run(r.Alert, func(t *testing.T) {
				if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
					t.Errorf("severity %q, want critical, warning or info", s)
				}
				for _, a := range []string{"summary", "description", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("annotation %s missing", a)
					}
				}
				if !strings.Contains(r.Annotations["summary"]+r.Annotations["description"], "$value") &&
					r.Alert != "ICMPConfigReloadFailed" && r.Alert != "ICMPExporterAbsent" {
					t.Errorf("summary and description do not show the value")
				}
				url := r.Annotations["runbook_url"]
				anchor, ok := strings.CutPrefix(url, runbookBase)
				if !ok {
					t.Errorf("runbook_url %q does not start with %s", url, runbookBase)
				} else if anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
					t.Errorf("runbook_url anchor %q: want %q, a heading of docs/runbook.md", anchor, strings.ToLower(r.Alert))
				}
				if slices.Contains(perTarget(), r.Alert) {
					d := r.Annotations["description"]
					for _, want := range []string{"$labels.target", "$labels.group", "$labels.source", "range $k, $v := $labels"} {
						if !strings.Contains(d, want) {
							t.Errorf("description lacks %s", want)
						}
					}
				}
			})
		}
	}
	for _, a := range requiredAlerts() {
		if !slices.Contains(alerts, a) {
			t.Errorf("alert %s missing", a)
		}
	}
}

// TestThresholdsInOnePlace checks that thresholds are constants of the
// thresholds group, each used by an alert, and that alerts compare against no
// other literal than 0 and 1.
func TestThresholdsInOnePlace(t *testing.T) {
	f := loadRules(t)
	constant := regexp.MustCompile(`^vector\(\s*[0-9.eE+-]+\s*\)$`)
	literal := regexp.MustCompile(`(?:[<>]=?|[!=]=)\s*(-?[0-9][0-9.eE+-]*)`)
	var names []string
	var alertExprs strings.Builder
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if g.Name == thresholds {
				if !strings.HasPrefix(r.Record, "icmp:threshold:") || !constant.MatchString(strings.TrimSpace(r.Expr)) {
					t.Errorf("%s: %s = %q: want icmp:threshold:* recorded as vector(<number>)", thresholds, r.Record, r.Expr)
				}
				names = append(names, r.Record)
				continue
			}
			if strings.Contains(r.Record, ":threshold:") {
				t.Errorf("threshold %s outside group %s", r.Record, thresholds)
			}
			if r.Alert == "" {
				continue
			}
			alertExprs.WriteString(r.Expr)
			for _, m := range literal.FindAllStringSubmatch(r.Expr, -1) {
				if m[1] != "0" && m[1] != "1" {
					t.Errorf("%s compares with the literal %s: put thresholds into group %s", r.Alert, m[1], thresholds)
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatalf("no group %s", thresholds)
	}
	for _, n := range names {
		if !strings.Contains(alertExprs.String(), n) {
			t.Errorf("threshold %s is used by no alert", n)
		}
	}
}

// TestMetricNames checks that every rule reads only metrics the exporter
// exposes or the file records, so a renamed metric fails here.
func TestMetricNames(t *testing.T) {
	f := loadRules(t)
	recorded := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			for _, m := range promtest.MetricNames(r.Expr) {
				if !recorded[m] && !promtest.KnownMetric(m) {
					t.Errorf("%s reads %s: neither an exporter metric nor recorded in %s", r.Name(), m, rulesFile)
				}
			}
		}
	}
}

// jobSelector is the mixin's default icmpSelector.
const jobSelector = `job="icmp"`

// TestJobSelector checks that every series a rule reads from the exporters
// (or their up series) is selected by the scrape job, so that other jobs'
// series of the same names do not mix in.
func TestJobSelector(t *testing.T) {
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			for _, sel := range promtest.Selectors(r.Expr) {
				if !strings.Contains(sel.Matchers, jobSelector) {
					t.Errorf("%s reads %s without %s", r.Name(), r.Expr[sel.Start:sel.End], jobSelector)
				}
			}
		}
	}
}

// TestRulesLoadAndEvaluate loads the rule file into a real Prometheus (with
// native histograms on), checks that it reports every group and no rule
// error, and evaluates every expression through the query API.
func TestRulesLoadAndEvaluate(t *testing.T) {
	abs, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	s := promtest.Start(t, promtest.Options{
		Config: "global:\n  evaluation_interval: 1s\nrule_files:\n  - " + abs + "\n",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := loadRules(t)

	// Wait until the thresholds have been recorded once, then check the health of every rule.
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := s.Query(ctx, "icmp:threshold:target_down_seconds", time.Time{})
		if err == nil && len(res.Samples) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threshold rules never evaluated: %v %+v", err, res)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // one more round for every 1s group
	groups, err := s.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]int{}
	for _, g := range groups {
		loaded[g.Name] = len(g.Rules)
		for _, r := range g.Rules {
			if r.Health == "err" {
				t.Errorf("rule %s in %s: %s", r.Name, g.Name, r.LastError)
			}
		}
	}
	for _, g := range f.Groups {
		if loaded[g.Name] != len(g.Rules) {
			t.Errorf("group %s: prometheus loaded %d rules, the file has %d", g.Name, loaded[g.Name], len(g.Rules))
		}
		for _, r := range g.Rules {
			if _, err := s.Query(ctx, r.Expr, time.Time{}); err != nil {
				t.Errorf("%s/%s: %v", g.Name, r.Name(), err)
			}
		}
	}
}

// runbookAnchors returns the GitHub anchors of the headings of docs/runbook.md.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	fh, err := os.Open(filepath.Join("..", "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		anchors[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return anchors
}
