package server

import (
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// registered returns the flag set RegisterFlags builds.
func registered() *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := DefaultConfig()
	RegisterFlags(fs, &c)
	return fs
}

// TestConfigErrorsNameRegisteredFlags: a ConfigError can only name a flag
// through a flagName constant (never a string of its own), and every such
// constant is a flag RegisterFlags registers; so every ConfigError names a
// flag the user can give. Invalid settings of each area also come back
// naming a registered flag.
func TestConfigErrorsNameRegisteredFlags(t *testing.T) {
	fs := registered()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	consts := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				return n.Name.Name != "bad" // the one place that builds a ConfigError
			case *ast.ValueSpec:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "flagName" {
					for _, v := range n.Values {
						lit, _ := v.(*ast.BasicLit)
						name, err := strconv.Unquote(lit.Value)
						if err != nil || fs.Lookup(name) == nil {
							t.Errorf("%s: flagName %s is not a registered flag", fset.Position(v.Pos()), lit.Value)
						}
						consts++
					}
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "bad" && len(n.Args) > 0 {
					if _, lit := n.Args[0].(*ast.BasicLit); lit {
						t.Errorf("%s: bad() names its flag with a string; use a flagName constant", fset.Position(n.Pos()))
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "ConfigError" {
					t.Errorf("%s: build ConfigErrors with bad(), which takes a flagName", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if consts == 0 {
		t.Fatal("found no flagName constants")
	}

	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{name: "listeners", cfg: Config{Addr: "127.0.0.1:0", ReusePort: true}},
		{name: "addr", cfg: Config{Addr: "8888"}},
		{name: "proxy", cfg: Config{DirectAddr: "127.0.0.1:0"}},
		{name: "websocket", cfg: Config{WSConfig: WSConfig{WSMaxHeader: 1}}},
		{name: "ws addr", cfg: Config{WSConfig: WSConfig{WSAddr: "8080"}}},
		{name: "limits", cfg: Config{MaxLine: -1}},
		{name: "control", cfg: Config{Pprof: true}},
		{name: "cluster", cfg: Config{ClusterURLs: "nats-a:4222"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.withDefaults().Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v, want a ConfigError", err)
			}
			if !strings.HasPrefix(ce.Flag, "--") || fs.Lookup(strings.TrimPrefix(ce.Flag, "--")) == nil {
				t.Fatalf("ConfigError names %q, not a registered flag", ce.Flag)
			}
		})
	}
}
