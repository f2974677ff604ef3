package output

import (
	"context"
	"fmt"
	"hash/maphash"
	"io/fs"
	"iter"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gpupipe/gpupipe/internal/termsafe"
	"github.com/gpupipe/gpupipe/stages/walk"
)

// Plan is what a Writer learned about a run's inputs before any work: how many there are,
// that no two of them map to one output, and which files they are, so that no output
// replaces one.
//
// It keeps 8 bytes per input (a hash of its output name, until the check is done) and 16
// bytes per input (its identity), never the names: planning 20,000 files costs about half a
// megabyte, a million about 24 MB at the peak.
type Plan struct {
	files  int
	inputs []walk.ID // sorted, without duplicates
}

// Files is the number of inputs planned.
func (p *Plan) Files() int { return p.files }

// IsInput reports whether the file info describes (from Lstat or Stat) is one of the inputs.
func (p *Plan) IsInput(info fs.FileInfo) bool {
	id, ok := walk.IDOf(info)
	if !ok {
		return false
	}
	return p.HasInput(id)
}

// HasInput reports whether the file of identity id is one of the inputs.
func (p *Plan) HasInput(id walk.ID) bool {
	_, found := slices.BinarySearchFunc(p.inputs, id, compareIDs)
	return found
}

// ProtectID is Protect for an output known by its identity, such as an object in a bucket
// (package stages/blob), which has no fs.FileInfo.
func (p *Plan) ProtectID(id walk.ID) error {
	if p.HasInput(id) {
		return ErrInput
	}
	return nil
}

// Protect is an Options.Protect that refuses to replace any input of the run.
func (p *Plan) Protect(info fs.FileInfo) error {
	if p.IsInput(info) {
		return ErrInput
	}
	return nil
}

func compareIDs(a, b walk.ID) int {
	if a.Dev != b.Dev {
		return cmpUint(a.Dev, b.Dev)
	}
	return cmpUint(a.Ino, b.Ino)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Collision is one output that two or more inputs map to.
type Collision struct {
	Output string   // the output's path
	Inputs []string // the inputs' paths, in walk order
}

// CollisionError is Plan's refusal of a run in which inputs share an output: run as it is,
// one of each group would win at random and the others would be lost.
type CollisionError struct {
	Template   string      // the template that gave the collisions
	Collisions []Collision // the first MaxCollisions groups, in walk order
	Total      int         // the number of groups, listed or not
	// Suggestion is a template, made from Template by adding {srcext} (for "a.jpg" and
	// "a.png") or {root} (for inputs of several roots), under which every input has its own
	// output; "" when neither does.
	Suggestion string
}

// MaxCollisions is the most groups a CollisionError lists; it counts the others.
const MaxCollisions = 100

func (e *CollisionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "output: the name template %s gives %d output%s to more than one input:",
		termsafe.Name(e.Template), e.Total, plural(e.Total))
	for _, c := range e.Collisions {
		fmt.Fprintf(&b, "\n  %s", c.String())
	}
	if more := e.Total - len(e.Collisions); more > 0 {
		fmt.Fprintf(&b, "\n  and %d more", more)
	}
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "\nthe template %s gives each input its own output", termsafe.Name(e.Suggestion))
	}
	return b.String()
}

// String is the collision on one line: the output, then its inputs, each name escaped.
func (c Collision) String() string {
	names := make([]string, len(c.Inputs))
	for i, in := range c.Inputs {
		names[i] = termsafe.Name(in)
	}
	return fmt.Sprintf("%s from %s", termsafe.Name(c.Output), strings.Join(names, ", "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Plan reads a run's inputs, in walk order, and checks that no two map to one output. When
// some do, it returns a *CollisionError naming every group (up to MaxCollisions) and a
// template that resolves them. Inputs whose name the template cannot give are left for the
// writes to fail one by one.
//
// files is read once, and again only when there are collisions (to name them and to try
// the suggested templates); an error it yields stops the plan with that error. Give it all
// the files that write into the folder, including those of other shards of the same run:
// then every shard reaches the same verdict.
func (w *Writer) Plan(ctx context.Context, files iter.Seq2[walk.File, error]) (*Plan, error) {
	p := &Plan{}
	seed := maphash.MakeSeed()
	hashes, err := w.hashNames(ctx, w.template(), seed, files, func(f walk.File) {
		p.files++
		if !f.ID.IsZero() {
			p.inputs = append(p.inputs, f.ID)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(p.inputs, compareIDs)
	p.inputs = slices.Clip(slices.Compact(p.inputs))
	dups := duplicates(hashes)
	if len(dups) == 0 {
		return p, nil
	}
	collisions, total, err := w.name(ctx, w.template(), seed, dups, files)
	if err != nil || total == 0 { // total 0: only hashes collided
		return p, err
	}
	ce := &CollisionError{Template: w.template().String(), Collisions: collisions, Total: total}
	ce.Suggestion, err = w.suggest(ctx, files)
	if err != nil {
		return nil, err
	}
	return nil, ce
}

// hashNames hashes the output name of every file that has one, calling each for every file.
func (w *Writer) hashNames(ctx context.Context, t *Template, seed maphash.Seed, files iter.Seq2[walk.File, error], each func(walk.File)) ([]uint64, error) {
	var hashes []uint64
	for f, err := range files {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if each != nil {
			each(f)
		}
		if rel, err := t.Expand(f, w.Ext); err == nil {
			hashes = append(hashes, maphash.String(seed, rel))
		}
	}
	return hashes, nil
}

// duplicates sorts hashes and returns those that occur more than once.
func duplicates(hashes []uint64) map[uint64]bool {
	slices.Sort(hashes)
	var dups map[uint64]bool
	for i := 1; i < len(hashes); i++ {
		if hashes[i] == hashes[i-1] {
			if dups == nil {
				dups = map[uint64]bool{}
			}
			dups[hashes[i]] = true
		}
	}
	return dups
}

// name reads the files again and groups those whose output hash is in dups by their output
// name; groups of one (hashes that collided, names that did not) are dropped.
func (w *Writer) name(ctx context.Context, t *Template, seed maphash.Seed, dups map[uint64]bool, files iter.Seq2[walk.File, error]) ([]Collision, int, error) {
	groups := map[string][]string{}
	var order []string
	for f, err := range files {
		if err != nil {
			return nil, 0, err
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		rel, err := t.Expand(f, w.Ext)
		if err != nil || !dups[maphash.String(seed, rel)] {
			continue
		}
		if _, ok := groups[rel]; !ok {
			order = append(order, rel)
		}
		groups[rel] = append(groups[rel], f.Path())
	}
	var out []Collision
	total := 0
	for _, rel := range order {
		if len(groups[rel]) < 2 {
			continue
		}
		total++
		if len(out) < MaxCollisions {
			out = append(out, Collision{Output: filepath.Join(w.Dir, rel), Inputs: groups[rel]})
		}
	}
	return out, total, nil
}

// suggest returns the first of the template with {srcext}, with {root}, and with both,
// under which no two inputs share an output; "" when none is.
func (w *Writer) suggest(ctx context.Context, files iter.Seq2[walk.File, error]) (string, error) {
	for _, text := range candidates(w.template().String()) {
		t, err := ParseTemplate(text)
		if err != nil {
			continue
		}
		seed := maphash.MakeSeed()
		hashes, err := w.hashNames(ctx, t, seed, files, nil)
		if err != nil {
			return "", err
		}
		dups := duplicates(hashes)
		total := 0
		if len(dups) > 0 { // hashes can collide where names do not: the names decide
			if _, total, err = w.name(ctx, t, seed, dups, files); err != nil {
				return "", err
			}
		}
		if total == 0 {
			return text, nil
		}
	}
	return "", nil
}

// candidates are the templates that suggest tries: {srcext} after the first {name} or {rel}
// (when the template has none), {root}/ in front (when it has none), and both.
func candidates(text string) []string {
	var withExt, withRoot string
	if !strings.Contains(text, "{srcext}") {
		for _, field := range []string{"{name}", "{rel}"} {
			if i := strings.Index(text, field); i >= 0 {
				j := i + len(field)
				withExt = text[:j] + ".{srcext}" + text[j:]
				break
			}
		}
	}
	if !strings.Contains(text, "{root}") {
		withRoot = "{root}/" + strings.TrimPrefix(text, "/")
	}
	var out []string
	for _, c := range []string{withExt, withRoot} {
		if c != "" {
			out = append(out, c)
		}
	}
	if withExt != "" && withRoot != "" {
		out = append(out, "{root}/"+strings.TrimPrefix(withExt, "/"))
	}
	return out
}
