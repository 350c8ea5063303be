package promtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is one group of a rule file.
type RuleGroup struct {
	Name     string     `yaml:"name"`
	Interval string     `yaml:"interval"`
	Rules    []RuleSpec `yaml:"rules"`
}

// RuleSpec is one recording or alerting rule as written in the file.
type RuleSpec struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Name is the alert or record name.
func (r RuleSpec) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// LoadRules reads a rule file strictly (unknown fields are errors).
func LoadRules(path string) (*RuleFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load rules %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f RuleFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("load rules %s: %w", path, err)
	}
	return &f, nil
}

// Dashboard is the part of a Grafana dashboard JSON model the tests read.
// Raw keeps the whole document.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Description   string  `json:"description"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
	Raw map[string]any `json:"-"`
}

// Datasource is a datasource reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is a dashboard panel; rows carry nested Panels when collapsed.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *Datasource `json:"datasource"`
	GridPos     struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults  map[string]any   `json:"defaults"`
		Overrides []map[string]any `json:"overrides"`
	} `json:"fieldConfig"`
	Options map[string]any `json:"options"`
	Targets []Target       `json:"targets"`
	Panels  []Panel        `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *Datasource `json:"datasource"`
	Format     string      `json:"format"`
	Instant    bool        `json:"instant"`
	Range      bool        `json:"range"`
}

// Variable is a template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *Datasource     `json:"datasource"`
	Definition string          `json:"definition"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

// QueryString is the variable's query: a plain string (datasource
// variables: the plugin type) or the query field of an object.
func (v Variable) QueryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil {
		return o.Query
	}
	return ""
}

// Annotation is an annotation query.
type Annotation struct {
	Name       string      `json:"name"`
	Datasource *Datasource `json:"datasource"`
	Expr       string      `json:"expr"`
	BuiltIn    int         `json:"builtIn"`
}

// LoadDashboard reads a Grafana dashboard JSON file.
func LoadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load dashboard %s: %w", path, err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("load dashboard %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &d.Raw); err != nil {
		return nil, fmt.Errorf("load dashboard %s: %w", path, err)
	}
	return &d, nil
}

// LoadDashboards reads every *.json file in dir with LoadDashboard and
// returns the dashboards by file name (without the directory).
func LoadDashboards(dir string) (map[string]*Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("load dashboards in %s: %w", dir, err)
	}
	out := make(map[string]*Dashboard, len(files))
	for _, f := range files {
		d, err := LoadDashboard(f)
		if err != nil {
			return nil, err
		}
		out[filepath.Base(f)] = d
	}
	return out, nil
}

// AllPanels returns every panel, rows and the panels nested in them included.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Query is one PromQL expression of a dashboard with where it comes from.
type Query struct {
	Where string // e.g. `panel 3 "Loss" query B`
	Panel int    // panel id; 0 for annotations
	Expr  string
}

// Queries lists the expressions of every panel target and annotation.
func (d *Dashboard) Queries() []Query {
	var out []Query
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			if t.Expr == "" {
				continue
			}
			out = append(out, Query{Where: fmt.Sprintf("panel %d %q query %s", p.ID, p.Title, t.RefID), Panel: p.ID, Expr: t.Expr})
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, Query{Where: fmt.Sprintf("annotation %q", a.Name), Expr: a.Expr})
		}
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_.]+)(?::[A-Za-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\[\[([A-Za-z0-9_]+)\]\]`)

// VarRefs returns the names of the template variables expr refers to.
func VarRefs(expr string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1]+m[2]+m[3])
	}
	return out
}

// Expand substitutes $name, ${name}, ${name:format} and [[name]] with
// vars[name], as Grafana does before sending a query. It returns an error
// naming the first variable vars lacks.
func Expand(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := varRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("expand %q: no value for variable %s", expr, strings.Join(missing, ", "))
	}
	return out, nil
}

var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)
var queryResult = regexp.MustCompile(`^\s*query_result\(\s*(.+)\s*\)\s*$`)

// VariableExpr turns a Grafana Prometheus variable query into the PromQL
// expression whose result gives the variable's values and the label that
// holds them: label_values(sel, l) becomes `count by (l) (sel)`,
// query_result(e) becomes e with an empty label.
func VariableExpr(q string) (expr, label string, err error) {
	if m := labelValues.FindStringSubmatch(q); m != nil {
		return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), m[2], nil
	}
	if m := queryResult.FindStringSubmatch(q); m != nil {
		return m[1], "", nil
	}
	return "", "", fmt.Errorf("variable query %q: want label_values(selector, label) or query_result(expr)", q)
}
