package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks"
	"github.com/bandercheck/bandercheck/sources"
)

// Results are applied rows (path, action, result, error) plus the bytes moved.
func result(path, action, res string, err error, bytes int64) []string {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return []string{path, action, res, msg, strconv.FormatInt(bytes, 10)}
}

// downloader fetches one plan shard's files concurrently.
type downloader struct {
	store  sources.Store
	mirror sinks.Mirror
	fetch  *sinks.Fetcher
	jobs   int
}

// shard downloads rows of plan/download (path,url,size,sha256,reason,upload_time).
func (d *downloader) shard(ctx context.Context, rows [][]string) ([][]string, error) {
	out := make([][]string, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(d.jobs, 1))
	for i, row := range rows {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			r, err := d.one(gctx, row)
			out[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *downloader) one(ctx context.Context, row []string) ([]string, error) {
	path := row[0]
	size, err := sinks.ParseSize(row[2])
	if err != nil {
		return result(path, "download", "failed", fmt.Errorf("size %q: %w", row[2], err), 0), nil
	}
	if ok, err := d.present(ctx, path, size, row[3]); err != nil {
		return nil, err
	} else if ok {
		return result(path, "download", "present", nil, 0), nil
	}
	w := sinks.Want{Key: path, URL: row[1], Size: size, SHA256: row[3]}
	if len(row) > 5 && row[5] != "" {
		if t, err := time.Parse(time.RFC3339, row[5]); err == nil {
			w.Uploaded = t
		}
	}
	n, err := d.fetch.Fetch(ctx, d.mirror, w)
	var fe *sinks.FetchError
	if errors.As(err, &fe) {
		return result(path, "download", "failed", err, 0), nil
	}
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", path, err)
	}
	return result(path, "download", "ok", nil, n), nil
}

// present tells whether the mirror already holds the file with the planned
// size and digest (a rerun of an interrupted shard).
func (d *downloader) present(ctx context.Context, path string, size int64, sum string) (bool, error) {
	o, err := d.store.Stat(ctx, path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if o.Kind != sources.Regular || size >= 0 && o.Size != size {
		return false, nil
	}
	if sum == "" {
		return true, nil
	}
	if stored, err := d.store.StoredSHA256(ctx, path); err == nil && stored != "" {
		return stored == sum, nil
	}
	got, err := sources.HashContent(ctx, d.store, path)
	return err == nil && got == sum, nil // unreadable: fetch it again
}

// deleteShard removes the files of rows of plan/delete (path,size,reason).
func deleteShard(ctx context.Context, m sinks.Mirror, rows [][]string) ([][]string, error) {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r[0]
	}
	errs, err := m.Remove(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		res := "ok"
		if errs[i] != nil {
			res = "failed"
		}
		size, _ := strconv.ParseInt(r[1], 10, 64)
		out[i] = result(r[0], "delete", res, errs[i], size)
	}
	return out, nil
}

// removeProjectsShard removes metadata files and simple folders of removed
// projects (rows of plan/remove-projects: project,path).
func removeProjectsShard(ctx context.Context, m sinks.Mirror, rows [][]string) ([][]string, error) {
	out := make([][]string, len(rows))
	var files []string
	var fileRows []int
	for i, r := range rows {
		path := r[1]
		if strings.HasSuffix(path, "/") {
			err := m.RemoveTree(ctx, path)
			res := "ok"
			if err != nil {
				res = "failed"
			}
			out[i] = result(path, "remove", res, err, 0)
			continue
		}
		files = append(files, path)
		fileRows = append(fileRows, i)
	}
	errs, err := m.Remove(ctx, files)
	if err != nil {
		return nil, err
	}
	for j, i := range fileRows {
		res := "ok"
		if errs[j] != nil {
			res = "failed"
		}
		out[i] = result(rows[i][1], "remove", res, errs[j], 0)
	}
	return out, nil
}

// removedProjects reads the set of projects plan/remove-projects removes.
func removedProjects(state string) (map[string]bool, error) {
	r, err := pipeline.OpenManifest(state, "plan/remove-projects")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	set := map[string]bool{}
	for {
		row, err := r.Next()
		if err == io.EOF {
			return set, nil
		}
		if err != nil {
			return nil, err
		}
		set[row[0]] = true
	}
}
