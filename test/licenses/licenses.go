package licenses

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// allowed lists the SPDX identifiers a dependency may carry: permissive
// licences, and MPL-2.0 (file-level copyleft: unmodified MPL files may be
// linked into a binary under another licence).
var allowed = []string{"Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "MIT", "MPL-2.0"}

// rule recognises one licence: every phrase must occur in the normalised
// text, and none of the excluded ones.
type rule struct {
	id      string
	all     []string
	without []string
}

// rules are tried in order; a file may match several (dual-licensed texts).
var rules = []rule{
	{id: "Apache-2.0", all: []string{"apache license", "version 2.0"}},
	{id: "MIT", all: []string{"permission is hereby granted, free of charge, to any person obtaining a copy",
		"the above copyright notice and this permission notice shall be included"}},
	{id: "BSD-3-Clause", all: []string{"redistribution and use in source and binary forms",
		"neither the name of"}},
	{id: "BSD-3-Clause", all: []string{"redistribution and use in source and binary forms",
		"the names of its contributors may not be used to endorse"}},
	{id: "BSD-2-Clause", all: []string{"redistribution and use in source and binary forms",
		"redistributions in binary form must reproduce"},
		without: []string{"neither the name of", "may not be used to endorse"}},
	{id: "ISC", all: []string{"permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted"}},
	{id: "MPL-2.0", all: []string{"mozilla public license", "version 2.0"}},
}

var (
	// licenseFile matches the names Go modules use for licence texts.
	licenseFile = regexp.MustCompile(`^(?i)(licen[cs]e|copying|unlicense)(\.(md|txt|libyaml))?$`)
	space       = regexp.MustCompile(`[\s#*>]+`)
)

// normalise lower-cases a licence text and collapses whitespace and comment
// markdown markers, so line wrapping does not matter.
func normalise(text string) string {
	return strings.TrimSpace(space.ReplaceAllString(strings.ToLower(text), " "))
}

// classify returns the SPDX identifiers whose rules match text, sorted and
// without repeats; nil when none does.
func classify(text string) []string {
	n := normalise(text)
	var ids []string
	for _, r := range rules {
		ok := true
		for _, p := range r.all {
			ok = ok && strings.Contains(n, p)
		}
		for _, p := range r.without {
			ok = ok && !strings.Contains(n, p)
		}
		if ok && !slices.Contains(ids, r.id) {
			ids = append(ids, r.id)
		}
	}
	slices.Sort(ids)
	return ids
}

// moduleLicense is the outcome for one module directory.
type moduleLicense struct {
	Files []string // licence file names found
	IDs   []string // licences recognised over all files
	Bad   []string // files whose licence was not recognised
}

// inspect reads the licence files at the top of a module directory.
func inspect(dir string) (moduleLicense, error) {
	var ml moduleLicense
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ml, err
	}
	for _, e := range entries {
		if e.IsDir() || !licenseFile.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return ml, err
		}
		ml.Files = append(ml.Files, e.Name())
		ids := classify(string(b))
		if ids == nil {
			ml.Bad = append(ml.Bad, e.Name())
		}
		for _, id := range ids {
			if !slices.Contains(ml.IDs, id) {
				ml.IDs = append(ml.IDs, id)
			}
		}
	}
	slices.Sort(ml.IDs)
	return ml, nil
}
