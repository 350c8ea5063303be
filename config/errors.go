package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong in a configuration file.
type Problem struct {
	File   string // path of the file as given to Load
	Line   int    // 1-based; 0 when the problem has no single place
	Column int    // 1-based; 0 when unknown
	Path   string // field path like groups[0].interval; empty for the whole file
	Msg    string // what is wrong and what is allowed
}

// String formats the problem as "file:line: path: msg".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is returned by Load and Parse when the file is invalid. It lists
// every problem found, sorted by line.
type Error struct {
	Problems []Problem
}

// Error returns the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while a file is checked.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) add(pos Pos, path, format string, args ...any) {
	ps.list = append(ps.list, Problem{
		File: ps.file, Line: pos.Line, Column: pos.Column, Path: path, Msg: fmt.Sprintf(format, args...),
	})
}

// err returns nil or an *Error with the problems sorted by position.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	slices.SortStableFunc(ps.list, func(a, b Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Column, b.Column)
	})
	// The same problem can be found twice (a decode error and a check of
	// the same value); report it once.
	ps.list = slices.CompactFunc(ps.list, func(a, b Problem) bool { return a == b })
	return &Error{Problems: ps.list}
}
