package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
)

// object is one Kubernetes object from a manifest, as plain YAML data.
type object struct {
	file string
	m    map[string]any
}

func (o object) kind() string { return str(o.m["kind"]) }
func (o object) name() string { return str(get(o.m, "metadata", "name")) }
func (o object) String() string {
	return fmt.Sprintf("%s %s/%s", filepath.Base(o.file), o.kind(), o.name())
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// get walks nested maps; a missing key gives nil.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func labels(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, v := range m {
		out[k] = str(v)
	}
	return out
}

func loadManifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objs []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			o := object{file: f, m: m}
			if str(m["apiVersion"]) == "" || o.kind() == "" || o.name() == "" {
				t.Fatalf("%s: object without apiVersion, kind or metadata.name: %v", f, m)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

func find(objs []object, kind, name string) (object, bool) {
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o, true
		}
	}
	return object{}, false
}

func isSubset(sel, lbl map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lbl[k] != v {
			return false
		}
	}
	return true
}

// pinnedImage matches an image reference with a release tag or a digest.
var pinnedImage = regexp.MustCompile(`^[^:@\s]+(/[^:@\s]+)*(:v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?|@sha256:[0-9a-f]{64})$`)

// envRef matches Kubernetes' $(VAR) references in args.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// TestKubernetesWorkloads checks every Deployment, StatefulSet and DaemonSet.
func TestKubernetesWorkloads(t *testing.T) {
	objs := loadManifests(t)
	n := 0
	for _, o := range objs {
		switch o.kind() {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			continue
		}
		n++
		t.Run(o.String(), func(t *testing.T) { checkWorkload(t, objs, o) })
	}
	if n < 2 {
		t.Fatalf("%d workloads in deploy/kubernetes, want a per-location Deployment and a sharded StatefulSet", n)
	}
}

func checkWorkload(t *testing.T, objs []object, o object) {
	spec := get(o.m, "spec")
	tmpl := get(spec, "template")
	podLabels := labels(get(tmpl, "metadata", "labels"))
	if sel := labels(get(spec, "selector", "matchLabels")); !isSubset(sel, podLabels) {
		t.Errorf("selector %v does not select the pod template's labels %v", sel, podLabels)
	}
	ann := labels(get(tmpl, "metadata", "annotations"))
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "10427" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape \"true\" and prometheus.io/port \"10427\"", ann)
	}

	pod := get(tmpl, "spec")
	psc := get(pod, "securityContext")
	if get(psc, "runAsNonRoot") != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	uid, _ := get(psc, "runAsUser").(int)
	gid, _ := get(psc, "runAsGroup").(int)
	if uid == 0 || gid == 0 {
		t.Errorf("runAsUser %v / runAsGroup %v: want non-zero", get(psc, "runAsUser"), get(psc, "runAsGroup"))
	}
	// The container runtime's default seccomp profile, at pod or container
	// level (the exporter needs no system call outside it).
	if str(get(psc, "seccompProfile", "type")) != "RuntimeDefault" {
		csc0 := get(list(get(pod, "containers"))[0], "securityContext")
		if str(get(csc0, "seccompProfile", "type")) != "RuntimeDefault" {
			t.Errorf("seccompProfile %v: want type RuntimeDefault (pod or container securityContext)", get(psc, "seccompProfile"))
		}
	}
	if get(pod, "hostNetwork") == true {
		t.Error("hostNetwork: net.* sysctls are refused with host networking")
	}
	// The ping sysctl must let the pod's group open ping sockets.
	found := false
	for _, s := range list(get(psc, "sysctls")) {
		if str(get(s, "name")) != "net.ipv4.ping_group_range" {
			continue
		}
		found = true
		var lo, hi int
		if _, err := fmt.Sscanf(str(get(s, "value")), "%d %d", &lo, &hi); err != nil || gid < lo || gid > hi {
			t.Errorf("ping_group_range %q does not contain runAsGroup %d", str(get(s, "value")), gid)
		}
	}
	if !found {
		t.Error("no securityContext.sysctls net.ipv4.ping_group_range: ping sockets would fail")
	}

	containers := list(get(pod, "containers"))
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]
	if img := str(get(c, "image")); !pinnedImage.MatchString(img) {
		t.Errorf("image %q: want a release tag (vX.Y.Z) or a digest, never latest or no tag", img)
	}
	csc := get(c, "securityContext")
	if get(csc, "allowPrivilegeEscalation") != false || get(csc, "readOnlyRootFilesystem") != true ||
		!slices.Contains(list(get(csc, "capabilities", "drop")), any("ALL")) {
		t.Errorf("container securityContext %v: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, drop ALL", csc)
	}
	for probe, path := range map[string]string{"readinessProbe": "/-/ready", "livenessProbe": "/-/healthy"} {
		if got := str(get(c, probe, "httpGet", "path")); got != path || str(get(c, probe, "httpGet", "port")) != "http-metrics" {
			t.Errorf("%s: httpGet %v, want %s on port http-metrics", probe, get(c, probe, "httpGet"), path)
		}
	}
	port := false
	for _, p := range list(get(c, "ports")) {
		if get(p, "containerPort") == 10427 && str(get(p, "name")) == "http-metrics" {
			port = true
		}
	}
	if !port {
		t.Error("no containerPort 10427 named http-metrics")
	}

	// Args: $(VAR) references must name env vars of the container.
	env := map[string]any{}
	for _, e := range list(get(c, "env")) {
		env[str(get(e, "name"))] = e
	}
	var args []string
	for _, a := range list(get(c, "args")) {
		args = append(args, str(a))
		for _, m := range envRef.FindAllStringSubmatch(str(a), -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("arg %q references $(%s), which is not in env", a, m[1])
			}
		}
	}

	// The config file: mounted from a ConfigMap of this manifest, and valid.
	cfgPath := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			cfgPath = v
		}
	}
	if cfgPath == "" {
		t.Fatalf("args %q: no --config.file=", args)
	}
	cfg := mountedConfig(t, objs, pod, c, cfgPath)

	if o.kind() == "StatefulSet" {
		checkShards(t, o, c, env, args, cfg)
	}
}

// mountedConfig finds the ConfigMap key mounted at cfgPath and loads it with
// package config, as the exporter would.
func mountedConfig(t *testing.T, objs []object, pod, c any, cfgPath string) *config.Config {
	t.Helper()
	data, name := mountedConfigData(t, objs, pod, c, cfgPath)
	cfg, err := config.Parse([]byte(data), name)
	if err != nil {
		t.Fatalf("the exporter would refuse the configuration: %v", err)
	}
	return cfg
}

// mountedConfigData returns the content of the ConfigMap key mounted at
// cfgPath, and a name for it in messages.
func mountedConfigData(t *testing.T, objs []object, pod, c any, cfgPath string) (data, name string) {
	t.Helper()
	dir, key := filepath.Dir(cfgPath), filepath.Base(cfgPath)
	vol := ""
	for _, m := range list(get(c, "volumeMounts")) {
		if str(get(m, "mountPath")) == dir {
			vol = str(get(m, "name"))
		}
	}
	if vol == "" {
		t.Fatalf("no volumeMount at %s for --config.file=%s", dir, cfgPath)
	}
	cmName := ""
	for _, v := range list(get(pod, "volumes")) {
		if str(get(v, "name")) == vol {
			cmName = str(get(v, "configMap", "name"))
		}
	}
	cm, ok := find(objs, "ConfigMap", cmName)
	if !ok {
		t.Fatalf("volume %q: ConfigMap %q not in the manifests", vol, cmName)
	}
	data = str(get(cm.m, "data", key))
	if data == "" {
		t.Fatalf("ConfigMap %s has no key %s", cmName, key)
	}
	return data, cm.String() + ":" + key
}

// checkShards expands --shard for every pod ordinal the way the kubelet
// would and checks that the pods together probe every target exactly once.
func checkShards(t *testing.T, o object, c any, env map[string]any, args []string, cfg *config.Config) {
	t.Helper()
	replicas, _ := get(o.m, "spec", "replicas").(int)
	if replicas < 2 {
		t.Fatalf("sharded StatefulSet with %d replicas", replicas)
	}
	shardArg := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--shard="); ok {
			shardArg = v
		}
	}
	if shardArg == "" {
		t.Fatal("StatefulSet without --shard=")
	}
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Targets) < 100 {
		t.Fatalf("example config expands to %d targets; the check needs a few hundred", len(spec.Targets))
	}
	owners := map[string]int{}
	for ord := range replicas {
		podName := fmt.Sprintf("%s-%d", o.name(), ord)
		expanded := envRef.ReplaceAllStringFunc(shardArg, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			e := env[name]
			if v, ok := get(e, "value").(string); ok {
				return v
			}
			switch fp := str(get(e, "valueFrom", "fieldRef", "fieldPath")); fp {
			case "metadata.labels['apps.kubernetes.io/pod-index']":
				return strconv.Itoa(ord)
			case "metadata.name":
				return podName
			default:
				t.Fatalf("env %s: fieldPath %q is not a pod index or name", name, fp)
				return ""
			}
		})
		s, err := shard.Parse(expanded)
		if err != nil {
			t.Fatalf("pod %s: --shard=%s: %v", podName, expanded, err)
		}
		if s.Index != ord || s.Count != replicas {
			t.Fatalf("pod %s gets shard %v, want %d/%d (SHARDS must equal replicas)", podName, s, ord, replicas)
		}
		part := s.Filter(spec)
		if len(part.Targets) == 0 {
			t.Errorf("pod %s probes no target", podName)
		}
		for i := range part.Targets {
			k := part.Targets[i].Key()
			if prev, dup := owners[k]; dup {
				t.Fatalf("target %q probed by pods %d and %d", part.Targets[i].Name, prev, ord)
			}
			owners[k] = ord
		}
	}
	if len(owners) != len(spec.Targets) {
		t.Fatalf("the pods probe %d of %d targets", len(owners), len(spec.Targets))
	}
}

func TestKubernetesServices(t *testing.T) {
	objs := loadManifests(t)
	kinds := checkServices(t, objs)
	for _, k := range []string{"ConfigMap", "Deployment", "StatefulSet", "Service", "PodMonitor", "ServiceMonitor"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("no %s in deploy/kubernetes", k)
		}
	}
}

// checkServices checks that Services, ServiceMonitors and PodMonitors select
// the workloads' pods on port http-metrics, and that a StatefulSet's
// governing Service exists. It returns the kinds of objs.
func checkServices(t *testing.T, objs []object) []string {
	t.Helper()
	podLabels := map[string]map[string]string{}
	for _, o := range objs {
		switch o.kind() {
		case "Deployment", "StatefulSet", "DaemonSet":
			podLabels[o.name()] = labels(get(o.m, "spec", "template", "metadata", "labels"))
		}
	}
	selects := func(sel map[string]string) bool {
		for _, l := range podLabels {
			if isSubset(sel, l) {
				return true
			}
		}
		return false
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind())
		t.Run(o.String(), func(t *testing.T) {
			switch o.kind() {
			case "Service":
				if !selects(labels(get(o.m, "spec", "selector"))) {
					t.Errorf("selector %v matches no workload's pods", get(o.m, "spec", "selector"))
				}
				if !slices.ContainsFunc(list(get(o.m, "spec", "ports")), func(p any) bool {
					return str(get(p, "name")) == "http-metrics" && get(p, "port") == 10427
				}) {
					t.Error("no port http-metrics 10427")
				}
			case "StatefulSet":
				if _, ok := find(objs, "Service", str(get(o.m, "spec", "serviceName"))); !ok {
					t.Errorf("serviceName %q is not a Service in the manifests", get(o.m, "spec", "serviceName"))
				}
			case "PodMonitor":
				if !selects(labels(get(o.m, "spec", "selector", "matchLabels"))) {
					t.Error("PodMonitor selects no workload's pods")
				}
				for _, ep := range list(get(o.m, "spec", "podMetricsEndpoints")) {
					if str(get(ep, "port")) != "http-metrics" {
						t.Errorf("endpoint port %v, want http-metrics", get(ep, "port"))
					}
				}
			case "ServiceMonitor":
				sel := labels(get(o.m, "spec", "selector", "matchLabels"))
				ok := false
				for _, s := range objs {
					if s.kind() == "Service" && isSubset(sel, labels(get(s.m, "metadata", "labels"))) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("ServiceMonitor selector %v matches no Service", sel)
				}
				for _, ep := range list(get(o.m, "spec", "endpoints")) {
					if str(get(ep, "port")) != "http-metrics" {
						t.Errorf("endpoint port %v, want http-metrics", get(ep, "port"))
					}
				}
			}
		})
	}
	return kinds
}
