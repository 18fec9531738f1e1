package web

import (
	"io/fs"
	"testing"
)

func TestTemplatesParseAndStaticIsEmbedded(t *testing.T) {
	pages, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "overview", "alerts", "recalls", "provenance", "ledger", "verify", "product", "error"} {
		if pages[name] == nil || pages[name].Lookup("layout") == nil || pages[name].Lookup("content") == nil {
			t.Errorf("page %s is missing or lacks layout/content", name)
		}
	}
	if b, err := fs.ReadFile(Static(), "style.css"); err != nil || len(b) == 0 {
		t.Fatalf("style.css: %v", err)
	}
}
