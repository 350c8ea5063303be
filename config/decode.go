package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The configuration file is parsed into a yaml.Node tree, and decoder walks
// that tree against the schema itself (the struct types of this package and
// their yaml tags): every unknown key, value of the wrong kind and key
// listed twice becomes a Problem with its line and field path. Nothing here
// reads the text of yaml.v3's decoding errors; only a syntax error's line
// comes from yaml.v3's message (syntaxError).

// decoder fills a value from a node tree and collects problems.
type decoder struct {
	ps *problems
	// keys holds the position of every mapping key and list item by field
	// path (like otlp.endpoint, groups[1]), for problems found later.
	keys map[string]Pos
	// expanding holds the aliases being expanded (a cycle is an error).
	expanding map[*yaml.Node]bool
	// budget is the number of nodes that may still be decoded: every
	// alias costs the size of its value, so a small file whose aliases
	// multiply each other cannot make the decoder work for hours.
	budget    int
	exhausted bool
	sizes     map[*yaml.Node]int
}

// aliasBudget is how many nodes aliases may add to four times the file's
// own.
const aliasBudget = 1_000_000

func newDecoder(ps *problems, doc *yaml.Node) *decoder {
	d := &decoder{ps: ps, keys: map[string]Pos{}, expanding: map[*yaml.Node]bool{}, sizes: map[*yaml.Node]int{}}
	d.budget = 4*d.size(doc) + aliasBudget
	return d
}

// size counts the nodes of a tree without following aliases.
func (d *decoder) size(n *yaml.Node) int {
	if c, ok := d.sizes[n]; ok {
		return c
	}
	c := 1
	for _, k := range n.Content {
		c += d.size(k)
	}
	d.sizes[n] = c
	return c
}

// pos returns the position of the key or item at path, or of its closest
// parent that is in the file.
func (d *decoder) pos(path string) Pos {
	for path != "" {
		if p, ok := d.keys[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Pos{}
}

var (
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	// The yaml.v2-style interface that yaml.v3 still honours.
	obsoleteUnmarshaler = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	durationType        = reflect.TypeFor[time.Duration]()
)

// value decodes n into v (addressable) at field path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	cost := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		cost = d.size(n.Alias)
	}
	if d.budget -= cost; d.budget < 0 {
		if !d.exhausted {
			d.exhausted = true
			d.ps.add(nodePos(n), path, "the aliases (*name) expand to too many values; write the values out")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.expanding[n] {
			d.ps.add(nodePos(n), path, "alias *%s refers to a value that contains it; write the value out", n.Value)
			return
		}
		d.expanding[n] = true
		defer delete(d.expanding, n)
	}
	t := resolve(n)
	if t.Kind == yaml.ScalarNode && t.ShortTag() == "!!null" {
		return // a key without value is a key not set
	}
	pt := v.Addr().Type()
	switch {
	case pt.Implements(yamlUnmarshaler):
		// Field, Labels, Targets: they report their problems as
		// *valueError; another type's error is reported as it is.
		err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n)
		var ve *valueError
		if errors.As(err, &ve) {
			for _, p := range ve.problems {
				d.ps.add(p.pos, path+p.sub, "%s", p.msg)
			}
		} else if err != nil {
			d.ps.add(nodePos(n), path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return
	case pt.Implements(obsoleteUnmarshaler), pt.Implements(textUnmarshaler):
		d.decodeAs(t, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(t, v, path)
	case reflect.Slice:
		d.sequence(t, v, path)
	case reflect.Map:
		d.mapOf(t, v, path)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	default:
		d.decodeAs(t, v, path)
	}
}

// resolve returns the node an alias stands for.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// decodeAs lets yaml.v3 decode a scalar (or a type with its own decoding);
// a failure says what the field wants.
func (d *decoder) decodeAs(n *yaml.Node, v reflect.Value, path string) {
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.ps.add(nodePos(n), path, "want %s, got %s", describeType(v.Type()), describeValue(n))
	}
}

// mapping decodes a mapping into struct v: every key must be a field.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.ps.add(nodePos(n), path, "want a mapping, got %s", describeValue(n))
		return
	}
	fields := structFields(v.Type())
	// Keys merged in with <<: *anchor come first: the mapping's own keys
	// override them.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		kp := joinPath(path, k.Value)
		idx, ok := fields[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.ps.add(nodePos(k), path, "want a key name, got %s; allowed here: %s", describeValue(k), strings.Join(sortedKeys(fields), ", "))
			continue
		case !ok:
			d.ps.add(nodePos(k), kp, "unknown field; allowed here: %s", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		if !d.newKey(seen, k, kp) {
			continue
		}
		d.value(val, v.FieldByIndex(idx), kp)
	}
}

// merge decodes the mapping (or list of mappings) of a << key into v.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	t := resolve(n)
	if t.Kind == yaml.SequenceNode {
		// Earlier mappings of the list win over later ones.
		for i := len(t.Content) - 1; i >= 0; i-- {
			d.value(t.Content[i], v, path)
		}
		return
	}
	d.value(n, v, path)
}

// sequence decodes a list into slice v.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.ps.add(nodePos(n), path, "want a list, got %s", describeValue(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.keys[ip] = nodePos(c)
		d.value(c, s.Index(i), ip)
	}
	v.Set(s)
}

// mapOf decodes a mapping into map v, whose keys are strings.
func (d *decoder) mapOf(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.ps.add(nodePos(n), path, "want a mapping, got %s", describeValue(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.ps.add(nodePos(k), path, "want a key name, got %s", describeValue(k))
			continue
		}
		if !d.newKey(seen, k, kp) {
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(val, e, kp)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

// newKey records key k of a mapping, at field path kp; a key the mapping
// already had is reported and false returned.
func (d *decoder) newKey(seen map[string]int, k *yaml.Node, kp string) bool {
	if line, dup := seen[k.Value]; dup {
		d.ps.add(nodePos(k), kp, "set twice in this mapping (first at line %d); keep one", line)
		return false
	}
	seen[k.Value] = k.Line
	d.keys[kp] = nodePos(k)
	return true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields maps the yaml keys of struct type t (inline structs
// included) to field indices.
func structFields(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case opts == "inline":
			for k, idx := range structFields(f.Type) {
				m[k] = append([]int{i}, idx...)
			}
		case name == "":
			m[strings.ToLower(f.Name)] = []int{i}
		default:
			m[name] = []int{i}
		}
	}
	return m
}

func sortedKeys(m map[string][]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describeType says what a value of type t looks like in the file.
func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration like 1s"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// describeValue says what the file holds at n: a list, a mapping, or a
// quoted scalar with its kind.
func describeValue(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "the string " + strconv.Quote(n.Value)
		case "!!int", "!!float":
			return "the number " + strconv.Quote(n.Value)
		case "!!bool":
			return "the boolean " + strconv.Quote(n.Value)
		}
		return n.ShortTag() + " " + strconv.Quote(n.Value)
	}
	return "nothing usable"
}

// parserProblems are the problems of yaml.v3's parser (as opposed to its
// scanner): yaml.v3 reports their line 0-based, scanner lines 1-based.
// TestSyntaxErrorLines pins every one against yaml.v3.
var parserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"did not find expected <stream-start>", "did not find expected key",
	"did not find expected node content", "found duplicate %TAG directive",
	"found duplicate %YAML directive", "found incompatible YAML document", "found undefined tag handle",
}

// syntaxError splits a yaml.v3 syntax error ("yaml: line N: problem", or
// "yaml: problem" when it has no line) into the 1-based line (0 when
// unknown) and the problem.
func syntaxError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, problem, ok := strings.Cut(rest, ": ")
	line, convErr := strconv.Atoi(num)
	if !ok || convErr != nil || line < 0 {
		return 0, msg
	}
	if slices.Contains(parserProblems, problem) {
		line++
	}
	return line, problem
}
