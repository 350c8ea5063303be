package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// checkCommandLine runs the built exporter with args plus --config.check,
// after replacing the configuration path the example uses (configAt) by
// configFile: the flags an example passes must exist, and the configuration
// it ships must load. --config.check sends no packet.
func checkCommandLine(t *testing.T, args []string, configAt, configFile string) {
	t.Helper()
	bin := lab.BuildExporter(t)
	var a []string
	for _, arg := range args {
		a = append(a, strings.ReplaceAll(arg, configAt, configFile))
	}
	a = append(a, "--config.check")
	out, err := exec.Command(bin, a...).CombinedOutput()
	if err != nil {
		t.Fatalf("icmp_exporter %s: %v\n%s", strings.Join(a, " "), err, out)
	}
	if !strings.Contains(string(out), ": OK") {
		t.Fatalf("icmp_exporter %s: no OK in the summary:\n%s", strings.Join(a, " "), out)
	}
}

func TestDockerfileCommandLine(t *testing.T) {
	root := repoRoot(t)
	example := filepath.Join(root, "config.example.yml")
	for _, file := range []string{"Dockerfile", "Dockerfile.pfring"} {
		t.Run(file, func(t *testing.T) {
			df := parseDockerfile(t, filepath.Join(root, file))
			cmd := execForm(t, df.Stages[len(df.Stages)-1].last(t, "CMD"))
			checkCommandLine(t, cmd, "/etc/icmp_exporter/config.yml", example)
		})
	}
}

// defaultFile is the packaged /etc/default/icmp_exporter.
const defaultFile = "deploy/packaging/icmp_exporter.default"

func TestSystemdCommandLine(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	// $ICMP_EXPORTER_OPTS as the packaged /etc/default file sets it.
	def, err := os.ReadFile(filepath.Join(repoRoot(t), defaultFile))
	if err != nil {
		t.Fatal(err)
	}
	opts := regexp.MustCompile(`(?m)^ICMP_EXPORTER_OPTS="([^"]*)"$`).FindSubmatch(def)
	if opts == nil {
		t.Fatalf("%s does not set ICMP_EXPORTER_OPTS=\"...\"", defaultFile)
	}
	var args []string
	for _, w := range strings.Fields(strings.Join(parseUnit(t, b)["Service"]["ExecStart"], " "))[1:] {
		if w == "$ICMP_EXPORTER_OPTS" {
			args = append(args, strings.Fields(string(opts[1]))...)
			continue
		}
		args = append(args, w)
	}
	checkCommandLine(t, args, "/etc/icmp_exporter/config.yml", filepath.Join(repoRoot(t), "config.example.yml"))
}

// TestKubernetesCommandLine runs the container args of every workload, with
// $(VAR) references expanded as the kubelet would for pod 0 and the
// ConfigMap's configuration written to a file.
func TestKubernetesCommandLine(t *testing.T) {
	objs := loadManifests(t)
	for _, o := range objs {
		switch o.kind() {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			continue
		}
		t.Run(o.String(), func(t *testing.T) {
			pod := get(o.m, "spec", "template", "spec")
			c := list(get(pod, "containers"))[0]
			env := map[string]string{}
			for _, e := range list(get(c, "env")) {
				v := str(get(e, "value"))
				switch str(get(e, "valueFrom", "fieldRef", "fieldPath")) {
				case "metadata.labels['apps.kubernetes.io/pod-index']":
					v = "0"
				case "metadata.name":
					v = o.name() + "-0"
				}
				env[str(get(e, "name"))] = v
			}
			var args []string
			cfgPath := ""
			for _, a := range list(get(c, "args")) {
				s := envRef.ReplaceAllStringFunc(str(a), func(ref string) string {
					return env[envRef.FindStringSubmatch(ref)[1]]
				})
				if v, ok := strings.CutPrefix(s, "--config.file="); ok {
					cfgPath = v
				}
				args = append(args, s)
			}
			data, _ := mountedConfigData(t, objs, pod, c, cfgPath)
			file := filepath.Join(t.TempDir(), "config.yml")
			if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			checkCommandLine(t, args, cfgPath, file)
			if n, ok := env["SHARDS"]; ok {
				if _, err := strconv.Atoi(n); err != nil {
					t.Errorf("SHARDS=%q is not a number", n)
				}
			}
		})
	}
}
