package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// helmVersion is the helm that scripts/deps.d/70-helm.sh installs.
const helmVersion = "v4.3.2"

const chartDir = "helm/icmp-exporter"

func helm(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(repoRoot(t), ".cache", "bin", "helm-"+helmVersion)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm %s not installed (scripts/deps.d/70-helm.sh installs it): %v", helmVersion, err)
	}
	return bin
}

// helmTemplate renders the chart with the given --set values and returns
// its objects.
func helmTemplate(t *testing.T, set ...string) []object {
	t.Helper()
	args := []string{"template", "icmp", chartDir, "--namespace", "monitoring"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(helm(t), args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template output: %v", err)
		}
		if m != nil {
			objs = append(objs, object{file: "helm template " + strings.Join(set, ","), m: m})
		}
	}
	return objs
}

// chartValueSets are the configurations CI renders and checks.
var chartValueSets = map[string][]string{
	"default":  nil,
	"monitors": {"serviceMonitor.enabled=true", "podMonitor.enabled=true", "prometheusRule.enabled=true", "dashboards.enabled=true"},
	"sharded":  {"kind=StatefulSet", "replicas=3", "config.groups[0].name=big", "config.groups[0].targets[0]=198.51.100.0/24", "config.groups[0].targets[1]=203.0.113.0/24"},
	"netraw":   {"icmpAccess=netRaw", "image.digest=sha256:" + strings.Repeat("ab", 32)},
}

func TestHelmLint(t *testing.T) {
	for name, set := range chartValueSets {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir}
			for _, s := range set {
				args = append(args, "--set", s)
			}
			if out, err := exec.Command(helm(t), args...).CombinedOutput(); err != nil {
				t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestHelmTemplate renders every value set and puts the workloads through
// the same checks as deploy/kubernetes (security context, ICMP access,
// probes, the configuration the exporter would load, shards).
func TestHelmTemplate(t *testing.T) {
	for name, set := range chartValueSets {
		t.Run(name, func(t *testing.T) {
			objs := helmTemplate(t, set...)
			checkServices(t, objs)
			n := 0
			for _, o := range objs {
				if o.kind() != "Deployment" && o.kind() != "StatefulSet" {
					continue
				}
				n++
				if name == "netraw" {
					checkNetRaw(t, o)
					continue
				}
				checkWorkload(t, objs, o)
			}
			if n != 1 {
				t.Fatalf("%d workloads, want 1", n)
			}
		})
	}
}

// checkNetRaw: icmpAccess=netRaw adds NET_RAW instead of the sysctl.
func checkNetRaw(t *testing.T, o object) {
	t.Helper()
	pod := get(o.m, "spec", "template", "spec")
	if s := list(get(pod, "securityContext", "sysctls")); len(s) != 0 {
		t.Errorf("netRaw: sysctls %v, want none", s)
	}
	c := list(get(pod, "containers"))[0]
	if add := list(get(c, "securityContext", "capabilities", "add")); !slices.Contains(add, any("NET_RAW")) {
		t.Errorf("netRaw: capabilities.add %v, want NET_RAW", add)
	}
	if img := str(get(c, "image")); !pinnedImage.MatchString(img) {
		t.Errorf("image %q is not pinned", img)
	}
}

// TestHelmRefusesLatest: image.tag=latest and a Deployment with several
// replicas fail to render with a message that says what to do.
func TestHelmRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"image.tag=latest", "not allowed"},
		{"replicas=2", "kind: StatefulSet"},
		{"kind=DaemonSet", "use Deployment or StatefulSet"},
		{"icmpAccess=root", "use pingGroupRange or netRaw"},
	} {
		out, err := exec.Command(helm(t), "template", "icmp", chartDir, "--set", tc.set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("--set %s: err %v, output %q; want a failure saying %q", tc.set, err, out, tc.want)
		}
	}
}

// TestHelmRulesAndDashboards: the PrometheusRule carries exactly the groups
// of alerts/icmp_exporter.rules.yml, and there is one dashboard ConfigMap per
// dashboards/*.json with the file unchanged and the sidecar's label.
func TestHelmRulesAndDashboards(t *testing.T) {
	root := repoRoot(t)
	objs := helmTemplate(t, chartValueSets["monitors"]...)
	b, err := os.ReadFile(filepath.Join(root, "alerts", "icmp_exporter.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules map[string]any
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	var pr *object
	dashboards := map[string]string{}
	for i, o := range objs {
		switch o.kind() {
		case "PrometheusRule":
			pr = &objs[i]
		case "ConfigMap":
			if labels(get(o.m, "metadata", "labels"))["grafana_dashboard"] != "1" {
				continue
			}
			for k, v := range get(o.m, "data").(map[string]any) {
				dashboards[k] = str(v)
			}
		}
	}
	if pr == nil {
		t.Fatal("no PrometheusRule")
	}
	if got := get(pr.m, "spec", "groups"); !reflect.DeepEqual(got, rules["groups"]) {
		t.Errorf("PrometheusRule groups differ from alerts/icmp_exporter.rules.yml")
	}
	files, _ := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards/*.json")
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := dashboards[filepath.Base(f)]
		if !ok {
			t.Errorf("no dashboard ConfigMap for %s", filepath.Base(f))
			continue
		}
		if strings.TrimSpace(got) != strings.TrimSpace(string(want)) || !json.Valid([]byte(got)) {
			t.Errorf("dashboard %s in the ConfigMap differs from the file", filepath.Base(f))
		}
	}
	if len(dashboards) != len(files) {
		t.Errorf("%d dashboard ConfigMaps entries, %d dashboards/*.json", len(dashboards), len(files))
	}
}
