package noc

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
)

// styleHash is the CSP source for the one inline stylesheet, so the policy
// can forbid everything else, inline style attributes included.
var styleHash = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	// The stylesheet is ours, embedded at build time; template.CSS keeps
	// html/template from filtering it.
	"css": func() template.CSS { return template.CSS(pageCSS) },
}).Parse(pageHTML))

// Render writes p as an HTML page. Nodes are shown in page order (down, in
// progress, maintenance, live, then by ID) whatever order p has them in.
// A zero p.Generated means now. Render writes nothing if the template fails.
func Render(w io.Writer, p Page) error {
	return render(w, p.withDefaults(time.Now))
}

func render(w io.Writer, p Page) error {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, newPageView(p)); err != nil {
		return fmt.Errorf("noc: render page: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("noc: write page: %w", err)
	}
	return nil
}

// contentSecurityPolicy allows the page nothing but its own stylesheet: no
// scripts, no fetches, no frames, no forms.
var contentSecurityPolicy = strings.Join([]string{
	"default-src 'none'",
	"style-src " + styleHash,
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
}, "; ")
