package sinks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/bandercheck/bandercheck/sources"
)

// RootIndexes are the root simple index files bandersnatch writes.
var RootIndexes = []string{"web/simple/index.html", "web/simple/index.v1_html", "web/simple/index.v1_json"}

var anchor = regexp.MustCompile(`<a [^>]*>([^<]*)</a>`)

// RewriteRootIndex rewrites the root simple indexes without the removed
// projects (normalized names), so the mirror stops advertising them. Each
// file streams through a filter into an Upload; a missing file is skipped.
func RewriteRootIndex(ctx context.Context, store sources.Store, m Mirror, removed map[string]bool) error {
	if len(removed) == 0 {
		return nil
	}
	for _, key := range RootIndexes {
		rc, err := store.Open(ctx, key)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", key, err)
		}
		up, err := m.Create(ctx, key, Meta{})
		if err != nil {
			rc.Close()
			return fmt.Errorf("rewrite %s: %w", key, err)
		}
		filter := filterHTML
		if strings.HasSuffix(key, ".v1_json") {
			filter = filterJSON
		}
		err = filter(rc, up, removed)
		rc.Close()
		if err != nil {
			return errors.Join(fmt.Errorf("rewrite %s: %w", key, err), up.Abort())
		}
		if err := up.Commit(ctx); err != nil {
			return fmt.Errorf("rewrite %s: %w", key, err)
		}
	}
	return nil
}

// filterHTML drops the lines whose anchor names a removed project.
func filterHTML(r io.Reader, w io.Writer, removed map[string]bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := sc.Text()
		if m := anchor.FindStringSubmatch(line); m != nil && removed[sources.Normalize(strings.TrimSpace(m[1]))] {
			continue
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}

// filterJSON copies a PEP 691 index, leaving removed projects out of "projects".
func filterJSON(r io.Reader, w io.Writer, removed map[string]bool) error {
	dec := jsontext.NewDecoder(r)
	enc := jsontext.NewEncoder(w)
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return errors.New("the index is not a JSON object")
	}
	if err := enc.WriteToken(tok); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		key, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := enc.WriteToken(key); err != nil {
			return err
		}
		if key.String() != "projects" || dec.PeekKind() != '[' {
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			if err := enc.WriteValue(v); err != nil {
				return err
			}
			continue
		}
		open, _ := dec.ReadToken()
		if err := enc.WriteToken(open); err != nil {
			return err
		}
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			var p struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(v, &p); err == nil && removed[sources.Normalize(p.Name)] {
				continue
			}
			if err := enc.WriteValue(v); err != nil {
				return err
			}
		}
		end, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := enc.WriteToken(end); err != nil {
			return err
		}
	}
	end, err := dec.ReadToken()
	if err != nil {
		return err
	}
	return enc.WriteToken(end)
}
