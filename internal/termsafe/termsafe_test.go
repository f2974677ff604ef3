package termsafe

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"photos/a b.jpg":         "photos/a b.jpg",
		"été/日本.png":             "été/日本.png",
		`back\slash.jpg`:         `back\slash.jpg`,
		"clear\x1b[2J.jpg":       `"clear\x1b[2J.jpg"`,
		"two\nlines.jpg":         `"two\nlines.jpg"`,
		"cr\r.jpg":               `"cr\r.jpg"`,
		"tab\t.jpg":              `"tab\t.jpg"`,
		"del\x7f.jpg":            `"del\x7f.jpg"`,
		"c1\u009b2J.jpg":         `"c1\u009b2J.jpg"`,
		"rlo\u202egpj.exe":       `"rlo\u202egpj.exe"`,
		"bad\xff.jpg":            `"bad\xff.jpg"`,
		`"quoted".jpg`:           `"\"quoted\".jpg"`,
		"nbsp\u00a0.jpg":         `"nbsp\u00a0.jpg"`,
		"replacement\ufffd.jpg":  "replacement\ufffd.jpg",
		"zero\u200bwidth.jpg":    `"zero\u200bwidth.jpg"`,
		"bell\a and null \x00 x": `"bell\a and null \x00 x"`,
	} {
		got := Name(in)
		if got != want {
			t.Errorf("Name(%q) = %s, want %s", in, got, want)
		}
		for _, c := range got {
			if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				t.Errorf("Name(%q) = %q holds control character %U", in, got, c)
			}
		}
	}
}

func TestNameDoesNotAllocateForPlainNames(t *testing.T) {
	s := strings.Repeat("photos/2024/IMG_0001.jpg ", 4)
	if n := testing.AllocsPerRun(100, func() { _ = Name(s) }); n != 0 {
		t.Errorf("%v allocations for a plain name", n)
	}
}

func FuzzName(f *testing.F) {
	for _, s := range []string{"a.jpg", "\x1b[2J", "a\nb", "\xff", `"x"`, "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Name(s)
		for _, c := range []byte(got) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("Name(%q) = %q holds byte %#x", s, got, c)
			}
		}
		if got != s && !strings.HasPrefix(got, `"`) {
			t.Fatalf("Name(%q) = %q changed the name without quoting it", s, got)
		}
	})
}
