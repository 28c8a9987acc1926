package docblock

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
)

// Field is an exported field of a struct as its doc comment says it:
// the names of the fields that comment is for, their type, what they are
// and the default the comment's "Default:" gives.
type Field struct {
	Names         []string
	Type, Default string
	Doc           string
	// Tags are the fields' struct tags, unquoted, one per name.
	Tags []string
}

// Fields reads the exported fields of the struct type typ declared in the
// Go files of dir. Fields declared after a commented one without a
// comment of their own share its comment (MaxRead…, MaxWrite… *float64).
func Fields(dir, typ string) ([]Field, error) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok && ts.Name.Name == typ {
					return structFields(fset, st), nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no struct type %s in %s", typ, dir)
}

func structFields(fset *token.FileSet, st *ast.StructType) []Field {
	var out []Field
	prevEnd := -1
	for _, f := range st.Fields.List {
		var names []string
		for _, n := range f.Names {
			if n.IsExported() {
				names = append(names, n.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		var tag string
		if f.Tag != nil {
			tag = strings.Trim(f.Tag.Value, "`")
		}
		line := fset.Position(f.Pos()).Line
		if f.Doc == nil && len(out) > 0 && line == prevEnd+1 {
			// Continues the field above, under its comment.
			out[len(out)-1].Names = append(out[len(out)-1].Names, names...)
			for range names {
				out[len(out)-1].Tags = append(out[len(out)-1].Tags, tag)
			}
			prevEnd = fset.Position(f.End()).Line
			continue
		}
		prevEnd = fset.Position(f.End()).Line
		doc, def := "", ""
		if f.Doc != nil {
			text := f.Doc.Text()
			if i := strings.Index(text, "Default:"); i >= 0 {
				doc, def = text[:i], text[i+len("Default:"):]
			} else {
				doc = text
			}
		}
		var typ strings.Builder
		writeType(&typ, f.Type)
		tags := make([]string, len(names))
		for i := range tags {
			tags[i] = tag
		}
		out = append(out, Field{Names: names, Type: typ.String(), Doc: oneLine(doc), Default: strings.TrimPrefix(oneLine(def), "- "), Tags: tags})
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func writeType(b *strings.Builder, e ast.Expr) {
	switch t := e.(type) {
	case *ast.Ident:
		b.WriteString(t.Name)
	case *ast.StarExpr:
		b.WriteString("*")
		writeType(b, t.X)
	case *ast.SelectorExpr:
		writeType(b, t.X)
		b.WriteString("." + t.Sel.Name)
	case *ast.ArrayType:
		b.WriteString("[]")
		writeType(b, t.Elt)
	case *ast.MapType:
		b.WriteString("map[")
		writeType(b, t.Key)
		b.WriteString("]")
		writeType(b, t.Value)
	default:
		fmt.Fprintf(b, "%T", e)
	}
}

// Table writes fields as a Markdown table: each field's names, type, default
// and doc, under the given header of the names' column.
func Table(header string, fields []Field) string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	fmt.Fprintf(&b, "| %s | type | default | what it is |\n| --- | --- | --- | --- |\n", header)
	for _, f := range fields {
		names := make([]string, len(f.Names))
		for i, n := range f.Names {
			names[i] = "`" + n + "`"
		}
		def := f.Default
		if def == "" {
			def = "required"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", strings.Join(names, ", "), f.Type, cell(def), cell(f.Doc))
	}
	return b.String()
}
