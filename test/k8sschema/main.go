// Command k8sschema validates Kubernetes manifests offline: every document of
// the YAML files named on the command line (or of standard input) is decoded
// strictly into its Go API type from k8s.io/api or the Prometheus Operator's
// monitoring.coreos.com/v1 types. An unknown apiVersion/kind, an unknown or
// misplaced field, a value of the wrong type or an unparsable quantity is an
// error naming the document. It is a separate module so that the
// Kubernetes API types stay out of the exporter's module graph.
//
// Usage: helm template ... | go run ./test/k8sschema   (from this directory: go run . FILE...)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	yamlv2 "go.yaml.in/yaml/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// types maps apiVersion/kind to a constructor of its Go type.
var types = map[string]func() any{
	"v1/ConfigMap":                             func() any { return &corev1.ConfigMap{} },
	"v1/Service":                               func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                        func() any { return &corev1.ServiceAccount{} },
	"v1/Secret":                                func() any { return &corev1.Secret{} },
	"apps/v1/Deployment":                       func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                      func() any { return &appsv1.StatefulSet{} },
	"apps/v1/DaemonSet":                        func() any { return &appsv1.DaemonSet{} },
	"policy/v1/PodDisruptionBudget":            func() any { return &policyv1.PodDisruptionBudget{} },
	"rbac.authorization.k8s.io/v1/Role":        func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding": func() any { return &rbacv1.RoleBinding{} },
	"monitoring.coreos.com/v1/ServiceMonitor":  func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PodMonitor":      func() any { return &monitoringv1.PodMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule":  func() any { return &monitoringv1.PrometheusRule{} },
}

func main() {
	n, err := run(os.Args[1:], os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
	fmt.Printf("k8sschema: %d objects valid\n", n)
}

func run(files []string, stdin io.Reader) (int, error) {
	if len(files) == 0 {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return 0, err
		}
		return validate("<stdin>", b)
	}
	total := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return total, err
		}
		n, err := validate(f, b)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// validate checks every document of a multi-document YAML stream.
func validate(name string, b []byte) (int, error) {
	dec := yamlv2.NewDecoder(bytes.NewReader(b))
	n := 0
	var errs []error
	for doc := 1; ; doc++ {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		if v == nil {
			continue
		}
		y, err := yamlv2.Marshal(v)
		if err != nil {
			return n, err
		}
		if err := validateObject(y); err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %w", name, doc, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// validateObject decodes one object strictly into its API type.
func validateObject(y []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(y, &head); err != nil {
		return err
	}
	id := head.APIVersion + "/" + head.Kind
	mk, ok := types[id]
	if !ok {
		return fmt.Errorf("%s %q: no schema for this apiVersion/kind", id, head.Metadata.Name)
	}
	if head.Metadata.Name == "" {
		return fmt.Errorf("%s: metadata.name is empty", id)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		return fmt.Errorf("%s %q: %w", id, head.Metadata.Name, err)
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.DisallowUnknownFields()
	if err := d.Decode(mk()); err != nil {
		return fmt.Errorf("%s %q: %w", id, head.Metadata.Name, err)
	}
	return nil
}
