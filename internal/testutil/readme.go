package testutil

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// READMETable returns the names a README table lists: in every line that
// starts with rowPrefix, each first group of nameRE found in the row's
// first cell (a cell may name several, "`a`, `b`").
func READMETable(t testing.TB, path, rowPrefix string, nameRE *regexp.Regexp) []string {
	t.Helper()
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, rowPrefix) {
			for _, m := range nameRE.FindAllStringSubmatch(strings.Split(line, "|")[1], -1) {
				names = append(names, m[1])
			}
		}
	}
	return names
}

// SameNames fails t for every name the code defines that the README's
// table lacks, and every name the table lists that the code lacks, so the
// two cannot drift apart. what names the table ("flag", "metrics").
func SameNames(t testing.TB, what string, documented, defined []string) {
	t.Helper()
	for _, name := range defined {
		if !slices.Contains(documented, name) {
			t.Errorf("%s is in the code but not in README's %s table", name, what)
		}
	}
	for _, name := range documented {
		if !slices.Contains(defined, name) {
			t.Errorf("README's %s table lists %s, which the code does not have", what, name)
		}
	}
}
