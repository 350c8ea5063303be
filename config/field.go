package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Pos is a position in the configuration file.
type Pos struct {
	Line, Column int // 1-based
}

func nodePos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

// Field is one scalar setting together with where it was written. Set is
// false when the key was absent (or null), and Value is then the zero value.
//
// Supported T: string, int, bool, float64, []float64, []string and
// time.Duration.
// Durations are strings with a unit ("250ms", "1s", "1m", "1d").
type Field[T any] struct {
	Value T
	Pos   Pos
	Set   bool
}

// UnmarshalYAML implements yaml.Unmarshaler. A bad value is a
// *valueError that Parse reports at its position; the other fields of the
// file are still checked.
func (f *Field[T]) UnmarshalYAML(n *yaml.Node) error {
	f.Pos, f.Set = nodePos(n), true
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var msg string
	switch v := any(&f.Value).(type) {
	case *time.Duration:
		msg = decodeDuration(n, v)
	case *string:
		if n.Kind != yaml.ScalarNode {
			msg = fmt.Sprintf("want a string, got %s", describeNode(n))
		} else {
			*v = n.Value
		}
	case *int:
		msg = decodeInt(n, v)
	case *float64:
		msg = decodeFloat(n, v)
	case *bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			msg = fmt.Sprintf("want true or false, got %s", describeNode(n))
		} else if err := n.Decode(v); err != nil {
			msg = fmt.Sprintf("want true or false, got %s", describeNode(n))
		}
	case *[]float64:
		if n.Kind != yaml.SequenceNode {
			msg = fmt.Sprintf("want a list of numbers like [0.001, 0.01, 0.1], got %s", describeNode(n))
			break
		}
		*v = make([]float64, len(n.Content))
		for i, c := range n.Content {
			if m := decodeFloat(c, &(*v)[i]); m != "" {
				return badValue(nodePos(c), fmt.Sprintf("[%d]", i), "item %d: %s", i, m)
			}
		}
	case *[]string:
		if n.Kind != yaml.SequenceNode {
			msg = fmt.Sprintf("want a list of names like [up, counters], got %s", describeNode(n))
			break
		}
		*v = make([]string, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return badValue(nodePos(c), fmt.Sprintf("[%d]", i), "item %d: want a name, got %s", i, describeNode(c))
			}
			(*v)[i] = c.Value
		}
	default:
		panic(fmt.Sprintf("config: Field of unsupported type %T", f.Value))
	}
	if msg != "" {
		return badValue(f.Pos, "", "%s", msg)
	}
	return nil
}

// valueError lists what is wrong with one value of the file, or with items
// inside it.
type valueError struct {
	problems []valueProblem
}

// valueProblem is one problem of a value: sub extends the value's field
// path (like [2] or .site) when it is about an item inside the value.
type valueProblem struct {
	pos Pos
	sub string
	msg string
}

func (e *valueError) add(pos Pos, sub, format string, args ...any) {
	e.problems = append(e.problems, valueProblem{pos: pos, sub: sub, msg: fmt.Sprintf(format, args...)})
}

// Error lists the problems as "line L: column C: message", one per line.
func (e *valueError) Error() string {
	lines := make([]string, len(e.problems))
	for i, p := range e.problems {
		lines[i] = fmt.Sprintf("line %d: column %d: %s", p.pos.Line, p.pos.Column, p.msg)
	}
	return strings.Join(lines, "\n")
}

// orNil returns e, or nil when it holds no problem.
func (e *valueError) orNil() error {
	if len(e.problems) == 0 {
		return nil
	}
	return e
}

// badValue returns a valueError with one problem.
func badValue(pos Pos, sub, format string, args ...any) error {
	e := &valueError{}
	e.add(pos, sub, format, args...)
	return e
}

// describeNode quotes a scalar value for messages about a value of the
// right kind but a wrong content; describeValue (decode.go) also names the
// kind.
func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return describeValue(n)
}

func decodeDuration(n *yaml.Node, d *time.Duration) string {
	const hint = "use a duration with a unit like 250ms, 1s or 5m"
	if n.Kind != yaml.ScalarNode {
		return fmt.Sprintf("want a duration, got %s; %s", describeNode(n), hint)
	}
	s := strings.TrimSpace(n.Value)
	if v, err := time.ParseDuration(s); err == nil {
		*d = v
		return ""
	}
	if v, err := model.ParseDuration(s); err == nil { // adds d, w, y
		*d = time.Duration(v)
		return ""
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return fmt.Sprintf("%q has no unit; %s", n.Value, hint)
	}
	return fmt.Sprintf("%q is not a duration; %s", n.Value, hint)
}

func decodeInt(n *yaml.Node, v *int) string {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int64
		if err := n.Decode(&i); err == nil && i >= math.MinInt32 && i <= math.MaxInt32 {
			*v = int(i)
			return ""
		}
		return fmt.Sprintf("%s is out of range", n.Value)
	}
	return fmt.Sprintf("want a whole number, got %s", describeNode(n))
}

func decodeFloat(n *yaml.Node, v *float64) string {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		if err := n.Decode(v); err == nil {
			return ""
		}
	}
	return fmt.Sprintf("want a number, got %s", describeNode(n))
}

// Label is one user label as written in the file.
type Label struct {
	Name  string
	Value string
	Pos   Pos // of the name
}

// Labels are the user labels of a group or of the defaults, in file order.
type Labels struct {
	Items []Label
	Pos   Pos
	Set   bool
}

// UnmarshalYAML implements yaml.Unmarshaler: a mapping of label names to
// scalar values.
func (l *Labels) UnmarshalYAML(n *yaml.Node) error {
	l.Pos, l.Set = nodePos(n), true
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return badValue(l.Pos, "", "want a mapping of label names to values like {site: lab}, got %s", describeNode(n))
	}
	errs := &valueError{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		vpos := nodePos(v)
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch {
		case k.Kind != yaml.ScalarNode:
			errs.add(nodePos(k), "", "label name must be a string")
			continue
		case v.Kind != yaml.ScalarNode:
			errs.add(vpos, "."+k.Value, "want a string value, got %s", describeNode(v))
			continue
		}
		val := v.Value
		if v.ShortTag() == "!!null" {
			val = ""
		}
		l.Items = append(l.Items, Label{Name: k.Value, Value: val, Pos: nodePos(k)})
	}
	return errs.orNil()
}

// Target is one entry of a group's targets list: an IP address, a CIDR
// block or a host name, as written.
type Target struct {
	Value string
	Pos   Pos
}

// Targets is the targets list of a group.
type Targets struct {
	Items []Target
	Pos   Pos
	Set   bool
}

// UnmarshalYAML implements yaml.Unmarshaler: a list of strings.
func (t *Targets) UnmarshalYAML(n *yaml.Node) error {
	t.Pos, t.Set = nodePos(n), true
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		return badValue(t.Pos, "", "want a list like [127.0.0.1, \"::1\", localhost, 10.0.0.0/30], got %s", describeNode(n))
	}
	errs := &valueError{}
	for i, c := range n.Content {
		pos := nodePos(c)
		if c.Kind == yaml.AliasNode && c.Alias != nil {
			c = c.Alias
		}
		if c.Kind != yaml.ScalarNode || c.ShortTag() == "!!null" {
			errs.add(pos, fmt.Sprintf("[%d]", i), "want an address, CIDR block or host name, got %s", describeNode(c))
			continue
		}
		t.Items = append(t.Items, Target{Value: c.Value, Pos: pos})
	}
	return errs.orNil()
}
