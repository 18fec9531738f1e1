// Package web holds the dashboard's HTML templates and static assets,
// embedded in the binary so the dashboard works on a closed network: no
// CDN, no JavaScript framework. The server package renders the templates;
// every page works without JavaScript.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static returns the static assets (style sheet), rooted so that
// "style.css" is at the top.
func Static() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(fmt.Sprintf("web: static assets: %v", err)) // the embed directive guarantees the directory
	}
	return sub
}

// Templates parses the page templates. Each page template defines
// "content" and is executed through "layout".
func Templates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"hex": func(b []byte) string { return fmt.Sprintf("%x", b) },
		"short": func(s string) string {
			if len(s) > 16 {
				return s[:16] + "…"
			}
			return s
		},
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"trim": strings.TrimSpace,
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
