package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction after line continuations were
// joined and comments dropped.
type instruction struct {
	Line  int
	Cmd   string   // upper case: FROM, RUN, COPY, ...
	Flags []string // leading --flag=value options of RUN, COPY, ADD, FROM
	Args  string
}

type stage struct {
	From   string   // image reference as written
	Flags  []string // FROM flags (--platform=...)
	Name   string   // AS name, "" for none
	Instrs []instruction
}

type dockerfile struct {
	GlobalArgs map[string]string // ARGs before the first FROM, with defaults
	Stages     []stage
}

// parseDockerfile reads the subset of the Dockerfile syntax the repository
// uses: comments, backslash continuations, instructions with leading flags.
func parseDockerfile(t *testing.T, file string) dockerfile {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	defer f.Close()
	df := dockerfile{GlobalArgs: map[string]string{}}
	var (
		cur   strings.Builder
		start int
		n     int
	)
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, rest, _ := strings.Cut(text, " ")
		in := instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(rest)}
		for strings.HasPrefix(in.Args, "--") {
			flag, rest, _ := strings.Cut(in.Args, " ")
			in.Flags = append(in.Flags, flag)
			in.Args = strings.TrimSpace(rest)
		}
		switch {
		case in.Cmd == "FROM":
			fields := strings.Fields(in.Args)
			st := stage{From: fields[0], Flags: in.Flags}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.Name = fields[2]
			}
			df.Stages = append(df.Stages, st)
		case len(df.Stages) == 0 && in.Cmd == "ARG":
			k, v, _ := strings.Cut(in.Args, "=")
			df.GlobalArgs[k] = v
		case len(df.Stages) == 0:
			t.Fatalf("%s:%d: %s before the first FROM", file, in.Line, in.Cmd)
		default:
			st := &df.Stages[len(df.Stages)-1]
			st.Instrs = append(st.Instrs, in)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() > 0) {
			continue // comments, also inside continuations; blank continuation lines
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	flush()
	if len(df.Stages) == 0 {
		t.Fatalf("%s: no FROM", file)
	}
	return df
}

func (df dockerfile) stage(t *testing.T, name string) stage {
	t.Helper()
	for _, st := range df.Stages {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no stage %q", name)
	return stage{}
}

func (st stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range st.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (st stage) last(t *testing.T, cmd string) instruction {
	t.Helper()
	all := st.all(cmd)
	if len(all) == 0 {
		t.Fatalf("stage %q (FROM %s) has no %s", st.Name, st.From, cmd)
	}
	return all[len(all)-1]
}

// shellWords splits a POSIX shell command line into words, handling single
// and double quotes and backslashes, and expands $VAR and ${VAR} from vars.
// An unknown variable is an error: the Dockerfile must declare it with ARG.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inW   bool
	)
	expand := func(i int) (int, error) { // s[i] == '$'
		j := i + 1
		var name string
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return 0, fmt.Errorf("unterminated ${ in %q", s)
			}
			name, j = s[j+1:j+end], j+end+1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
				k++
			}
			name, j = s[j:k], k
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("undeclared variable $%s in %q", name, s)
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inW {
				words = append(words, cur.String())
				cur.Reset()
				inW = false
			}
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			inW, i = true, i+end+2
		case c == '"':
			inW = true
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated \" in %q", s)
				}
				if s[i] == '"' {
					i++
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0 {
					cur.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '$' {
					var err error
					if i, err = expand(i); err != nil {
						return nil, err
					}
					continue
				}
				cur.WriteByte(s[i])
				i++
			}
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			inW, i = true, i+2
		case c == '$':
			var err error
			if i, err = expand(i); err != nil {
				return nil, err
			}
			inW = true
		default:
			cur.WriteByte(c)
			inW, i = true, i+1
		}
	}
	if inW {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	vars := map[string]string{"V": "1.2", "EMPTY": ""}
	tests := []struct {
		in   string
		want []string
	}{
		{`a  b`, []string{"a", "b"}},
		{`x='-s -w' "-X a=$V" -X\ b=${V}c`, []string{"x=-s -w", "-X a=1.2", "-X b=1.2c"}},
		{`"a\"b" 'c$V'`, []string{`a"b`, `c$V`}},
		{`a "" b`, []string{"a", "", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := shellWords(tt.in, vars)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("shellWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := shellWords(`go build -ldflags "-X v=${NOPE}"`, vars); err == nil {
		t.Error("undeclared variable accepted")
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return root
}

// Placeholders for the version ARGs, so both sides expand to the same words.
var versionVars = map[string]string{"VERSION": "@VERSION@", "REVISION": "@REVISION@"}

// makeBuild returns the words of the Makefile's build recipe as `make -n`
// prints it, with the version variables set to placeholders.
func makeBuild(t *testing.T, binary string) []string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not installed (scripts/deps.sh installs it): %v", err)
	}
	cmd := exec.Command("make", "-s", "-n", "-C", repoRoot(t), "build",
		"GO=go", "BINARY="+binary, "VERSION=@VERSION@", "REVISION=@REVISION@")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		t.Fatalf("make -n build printed %d commands, want 1:\n%s", len(lines), out)
	}
	words, err := shellWords(lines[0], nil)
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	return normalizeLdflags(words)
}

// normalizeLdflags collapses the whitespace inside the -ldflags value, which
// the go tool splits on anyway.
func normalizeLdflags(words []string) []string {
	out := slices.Clone(words)
	for i := range out {
		if out[i] == "-ldflags" && i+1 < len(out) {
			out[i+1] = strings.Join(strings.Fields(out[i+1]), " ")
		}
	}
	return out
}

// goBuild finds the `go build` command in a stage's RUN instructions and
// returns its words with the stage's ARGs (VERSION, REVISION) expanded to
// the placeholders; every variable it uses must be declared with ARG before.
func goBuild(t *testing.T, st stage) (words []string, line int) {
	t.Helper()
	vars := map[string]string{}
	for _, in := range st.Instrs {
		switch in.Cmd {
		case "ARG":
			k, _, _ := strings.Cut(in.Args, "=")
			if v, ok := versionVars[k]; ok {
				vars[k] = v
			} else {
				vars[k] = "@" + k + "@"
			}
		case "RUN":
			if !strings.Contains(in.Args, "go build") {
				continue
			}
			w, err := shellWords(in.Args, vars)
			if err != nil {
				t.Fatalf("line %d: %v", in.Line, err)
			}
			if slices.Contains(w, "&&") || slices.Contains(w, ";") {
				t.Fatalf("line %d: keep the go build RUN a single command", in.Line)
			}
			return normalizeLdflags(w), in.Line
		}
	}
	t.Fatalf("stage %q has no RUN with go build", st.Name)
	return nil, 0
}

func outputPath(t *testing.T, words []string) string {
	t.Helper()
	i := slices.Index(words, "-o")
	if i < 0 || i+1 >= len(words) {
		t.Fatalf("go build without -o: %q", words)
	}
	return words[i+1]
}

func TestDockerfileBuildIsMakefileBuild(t *testing.T) {
	df := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	words, line := goBuild(t, df.stage(t, "build"))
	want := makeBuild(t, outputPath(t, words))
	if !slices.Equal(words, want) {
		t.Fatalf("Dockerfile:%d go build differs from `make build`:\n docker: %q\n   make: %q", line, words, want)
	}
	// The Makefile itself must keep what the image relies on.
	for _, w := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags"} {
		if !slices.Contains(words, w) {
			t.Errorf("build command lacks %s: %q", w, words)
		}
	}
	ld := words[slices.Index(words, "-ldflags")+1]
	for _, v := range []string{"version.Version=@VERSION@", "version.Revision=@REVISION@"} {
		if !strings.Contains(ld, v) {
			t.Errorf("-ldflags %q does not stamp %s", ld, v)
		}
	}
}

func TestDockerfilePFRingBuild(t *testing.T) {
	df := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile.pfring"))
	words, line := goBuild(t, df.stage(t, "build"))
	// The pfring build is the Makefile build with cgo and the pfring tag.
	i := slices.Index(words, "-tags")
	if i < 0 || i+1 >= len(words) || words[i+1] != "pfring" {
		t.Fatalf("Dockerfile.pfring:%d: go build without -tags pfring: %q", line, words)
	}
	if !slices.Contains(words, "CGO_ENABLED=1") {
		t.Fatalf("Dockerfile.pfring:%d: go build without CGO_ENABLED=1: %q", line, words)
	}
	got := slices.Delete(slices.Clone(words), i, i+2)
	got[slices.Index(got, "CGO_ENABLED=1")] = "CGO_ENABLED=0"
	want := makeBuild(t, outputPath(t, words))
	if !slices.Equal(got, want) {
		t.Fatalf("Dockerfile.pfring:%d go build is not `make build` + cgo + -tags pfring:\n docker: %q\n   make: %q", line, words, want)
	}
}

func TestDockerfileGoVersion(t *testing.T) {
	root := repoRoot(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	for _, file := range []string{"Dockerfile", "Dockerfile.pfring"} {
		t.Run(file, func(t *testing.T) {
			df := parseDockerfile(t, filepath.Join(root, file))
			from, err := shellWords(df.stage(t, "build").From, df.GlobalArgs)
			if err != nil {
				t.Fatal(err)
			}
			img := from[0]
			if !strings.HasPrefix(img, "golang:"+string(m[1])) {
				t.Errorf("build stage FROM %s, want golang:%s (go.mod's go %s)", img, m[1], m[1])
			}
		})
	}
}

// runtimeStage describes what a runtime stage must look like.
type runtimeStage struct {
	file     string
	stage    string // "" = the last stage (the default target)
	nonRoot  bool
	bases    []string // allowed image prefixes
	copyFrom string   // stage the binary comes from
}

func TestDockerfileRuntimeStages(t *testing.T) {
	root := repoRoot(t)
	ignore := readDockerignore(t, filepath.Join(root, ".dockerignore"))
	for _, rs := range []runtimeStage{
		{file: "Dockerfile", nonRoot: true, bases: []string{"gcr.io/distroless/static", "busybox:stable"}, copyFrom: "build"},
		{file: "Dockerfile", stage: "netraw", nonRoot: true, bases: []string{"gcr.io/distroless/static", "busybox:stable"}, copyFrom: "setcap"},
		{file: "Dockerfile.pfring", bases: []string{"debian:"}, copyFrom: "build"},
	} {
		t.Run(rs.file+"/"+cmp(rs.stage, "default"), func(t *testing.T) {
			df := parseDockerfile(t, filepath.Join(root, rs.file))
			st := df.Stages[len(df.Stages)-1]
			if rs.stage != "" {
				st = df.stage(t, rs.stage)
			}
			from := fromImage(t, df, st)
			if !slices.ContainsFunc(rs.bases, func(p string) bool { return strings.HasPrefix(from, p) }) {
				t.Errorf("FROM %s (%s), want one of %q", st.From, from, rs.bases)
			}

			user := st.last(t, "USER").Args
			uid, _, _ := strings.Cut(user, ":")
			if rs.nonRoot {
				if n, err := strconv.Atoi(uid); err != nil || n == 0 {
					t.Errorf("USER %s: want a numeric non-root UID (runAsNonRoot cannot verify names)", user)
				}
			}

			if exp := strings.Fields(st.last(t, "EXPOSE").Args); !slices.Contains(exp, "10427") && !slices.Contains(exp, "10427/tcp") {
				t.Errorf("EXPOSE %q, want 10427", exp)
			}

			// The binary: copied from the build stage's -o path, started by ENTRYPOINT.
			buildWords, _ := goBuild(t, df.stage(t, "build"))
			built := outputPath(t, buildWords)
			var binary, config string
			for _, in := range st.all("COPY") {
				words := strings.Fields(in.Args)
				if len(words) != 2 {
					t.Fatalf("line %d: COPY %s: want one source and one destination", in.Line, in.Args)
				}
				src, dst := words[0], words[1]
				if slices.Contains(in.Flags, "--from="+rs.copyFrom) {
					if src != built {
						t.Errorf("line %d: COPY --from=%s %s, but the build writes %s", in.Line, rs.copyFrom, src, built)
					}
					binary = dst
					continue
				}
				if slices.ContainsFunc(in.Flags, func(f string) bool { return strings.HasPrefix(f, "--from=") }) {
					continue
				}
				// From the build context: must exist and not be ignored.
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("line %d: COPY %s: %v", in.Line, src, err)
				}
				if p := ignore.match(src); p != "" {
					t.Errorf("line %d: COPY %s, but .dockerignore excludes it (%s)", in.Line, src, p)
				}
				if src == "config.example.yml" {
					config = dst
				}
			}
			if binary == "" {
				t.Fatalf("no COPY --from=%s of the binary", rs.copyFrom)
			}
			if config == "" {
				t.Fatal("config.example.yml is not copied into the image")
			}
			entry := execForm(t, st.last(t, "ENTRYPOINT"))
			if len(entry) != 1 || entry[0] != binary {
				t.Errorf("ENTRYPOINT %q, want [%q]", entry, binary)
			}
			cmd := execForm(t, st.last(t, "CMD"))
			if !slices.Contains(cmd, "--config.file="+config) {
				t.Errorf("CMD %q does not pass --config.file=%s", cmd, config)
			}
		})
	}
}

func TestDockerfileContextHasSources(t *testing.T) {
	root := repoRoot(t)
	ignore := readDockerignore(t, filepath.Join(root, ".dockerignore"))
	files := []string{"go.mod", "go.sum", "main.go", "config.example.yml", "probe/spec.go", "internal/shard/shard.go"}
	for _, f := range files {
		if p := ignore.match(f); p != "" {
			t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, f)
		}
	}
	for _, f := range []string{".git/HEAD", "icmp_exporter", ".cache/x"} {
		if ignore.match(f) == "" {
			t.Errorf(".dockerignore does not exclude %s", f)
		}
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.Args), &v); err != nil {
		t.Fatalf("line %d: %s %s: want the exec (JSON array) form: %v", in.Line, in.Cmd, in.Args, err)
	}
	return v
}

type dockerignore []string

func readDockerignore(t *testing.T, file string) dockerignore {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	var pats dockerignore
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not supported by this test", l)
		}
		pats = append(pats, strings.TrimPrefix(path.Clean(l), "/"))
	}
	return pats
}

// match returns the pattern that excludes name (or one of its parent
// directories), or "". Docker matches with filepath.Match rules per path
// element; the repository's patterns need no "**".
func (d dockerignore) match(name string) string {
	for _, p := range d {
		for dir := name; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if ok, _ := path.Match(p, dir); ok {
				return p
			}
		}
	}
	return ""
}

// fromImage returns the image reference of a stage's FROM with the global
// ARGs expanded.
func fromImage(t *testing.T, df dockerfile, st stage) string {
	t.Helper()
	w, err := shellWords(st.From, df.GlobalArgs)
	if err != nil || len(w) != 1 {
		t.Fatalf("FROM %s: %q, %v", st.From, w, err)
	}
	return w[0]
}

var pinned = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// TestDockerfileRelease checks what the published multi-architecture image
// relies on: base images pinned by digest, the build stage on the build
// machine's platform compiling for TARGETOS/TARGETARCH, and the OCI labels.
func TestDockerfileRelease(t *testing.T) {
	df := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	names := map[string]bool{}
	for _, st := range df.Stages {
		if !names[st.From] {
			if img := fromImage(t, df, st); !pinned.MatchString(img) {
				t.Errorf("FROM %s: %s is not pinned as name[:tag]@sha256:<digest>", st.From, img)
			}
		}
		names[st.Name] = true
	}
	build := df.stage(t, "build")
	if !slices.Equal(build.Flags, []string{"--platform=$BUILDPLATFORM"}) {
		t.Errorf("build stage FROM flags %q, want --platform=$BUILDPLATFORM (cross-compile, no emulation)", build.Flags)
	}
	env := strings.Join(func() []string {
		var a []string
		for _, e := range build.all("ENV") {
			a = append(a, e.Args)
		}
		return a
	}(), " ")
	for _, want := range []string{"GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}"} {
		if !strings.Contains(env, want) {
			t.Errorf("build stage ENV %q lacks %s", env, want)
		}
	}
	labels := strings.Join(func() []string {
		var a []string
		for _, l := range df.Stages[len(df.Stages)-1].all("LABEL") {
			a = append(a, l.Args)
		}
		return a
	}(), " ")
	for _, k := range []string{"title", "description", "source", "licenses", "version", "revision", "created"} {
		if !strings.Contains(labels, "org.opencontainers.image."+k+"=") {
			t.Errorf("default stage lacks LABEL org.opencontainers.image.%s", k)
		}
	}
}
