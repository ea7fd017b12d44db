package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/fleet"
)

// MaxImage bounds a bundle's slot image. Slots are a few hundred MiB; a
// manifest claiming more is a mistake, refused before any byte is stored.
const MaxImage = 8 << 30

// publish stores a bundle uploaded as the request body. It reads the
// header, checks the manifest's signature against the release keys, the
// board, and that the store would take the release, before it writes a
// byte; then it copies the image to a temporary file beside the final one
// while hashing it, and renames it into place only when the image is
// exactly what the manifest says. The file is the bundle as uploaded:
// nodes download it as it is.
//
// A refusal answers at once, without reading the rest of the upload; the
// HTTP server half-closes the connection before it drops it, so a client
// still sending gets the reason rather than a reset.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) error {
	if s.releaseTrust == nil {
		return badRequest{errors.New("release: no release keys configured: start the server with --release-trust KEY.pub to accept bundles")}
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	start := time.Now()
	var head bytes.Buffer
	h, err := bundle.ReadHeader(io.TeeReader(r.Body, &head))
	if err != nil {
		return badRequest{fmt.Errorf("release: %w", err)}
	}
	m, err := h.Verify(s.releaseTrust)
	if err != nil {
		return badRequest{fmt.Errorf("release: %w", err)}
	}
	if _, err := boards.Lookup(m.Board); err != nil {
		return badRequest{fmt.Errorf("release: manifest: %w", err)}
	}
	if m.Size > MaxImage {
		return badRequest{fmt.Errorf("release: manifest: image size %d is more than %d bytes", m.Size, int64(MaxImage))}
	}
	rel := fleet.Release{
		Board: m.Board, Version: m.Version, Build: m.Build, SHA256: m.SHA256, Size: m.Size,
		Created: m.Created, Downgrade: m.Downgrade, BundleSize: h.Offset + m.Size,
		Bundle: filepath.ToSlash(filepath.Join(ReleasesDir, m.Board, strconv.FormatUint(m.Build, 10)+".bundle")),
	}
	if err := s.store.CheckRelease(rel); err != nil {
		return err
	}
	final := filepath.Join(s.o.DataDir, filepath.FromSlash(rel.Bundle))
	if err := s.storeBundle(final, head.Bytes(), r.Body, m); err != nil {
		return err
	}
	rel.Published = s.o.Now()
	if err := s.store.AddRelease(actorOf(r), rel); err != nil {
		os.Remove(final)
		return err
	}
	s.notify()
	s.log.Info("release published", "board", rel.Board, "version", rel.Version, "build", rel.Build,
		"size", rel.BundleSize, "took", time.Since(start).Round(time.Millisecond), "by", actorOf(r))
	stored, err := s.store.Release(rel.Board, rel.Build)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, releaseInfo(stored))
	return nil
}

// storeBundle writes head and the image read from body to a temporary
// file beside final, and renames it to final once the image checks out.
// On any failure nothing is left behind.
func (s *Server) storeBundle(final string, head []byte, body io.Reader, m bundle.Manifest) (err error) {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(head); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := bundle.CopyImage(f, body, m); err != nil {
		if errors.Is(err, bundle.ErrHash) {
			return badRequest{fmt.Errorf("release: %w", err)}
		}
		return fmt.Errorf("release: %w", err)
	}
	if n, _ := io.CopyN(io.Discard, body, 1); n > 0 {
		return badRequest{fmt.Errorf("release: %w: data after the image's %d bytes", bundle.ErrHash, m.Size)}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.store.Releases(r.URL.Query().Get("board"))
	if err != nil {
		return err
	}
	out := make([]api.Release, 0, len(rs))
	for _, rel := range rs {
		out = append(out, releaseInfo(rel))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func releaseInfo(r fleet.Release) api.Release {
	return api.Release{
		Board: r.Board, Version: r.Version, Build: r.Build, SHA256: r.SHA256, Size: r.Size,
		Created: r.Created, Downgrade: r.Downgrade, BundleSize: r.BundleSize, Published: r.Published,
	}
}

// bundle serves a release bundle to a node of its board. ServeContent
// answers Range requests, so a node resumes a download where it broke
// off; the ETag is the image's sha256, which If-Range checks, so a node
// never splices two different bundles.
func (s *Server) bundle(w http.ResponseWriter, r *http.Request, p fleet.Peer) {
	board := r.PathValue("board")
	build, err := strconv.ParseUint(r.PathValue("build"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("bundle: %q is not a build number", r.PathValue("build")))
		return
	}
	c, err := s.store.Render(p.NodeID)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if c.Node.Board != board {
		s.log.Warn("bundle: a node asked for another board's bundle", "node", p.NodeID, "board", c.Node.Board, "asked", board)
		writeError(w, http.StatusForbidden, fmt.Errorf("bundle: node %s is a %q; it may not fetch bundles for board %q", p.NodeID, c.Node.Board, board))
		return
	}
	rel, err := s.store.Release(board, build)
	if err != nil {
		writeError(w, statusOf(err), fmt.Errorf("bundle: no release build %d for board %s: %w", build, board, err))
		return
	}
	f, err := os.Open(filepath.Join(s.o.DataDir, filepath.FromSlash(rel.Bundle)))
	if err != nil {
		s.log.Error("bundle: the file of a published release is missing", "board", board, "build", build, "err", err)
		writeError(w, http.StatusInternalServerError, fmt.Errorf("bundle: %s build %d: the server lost its file", board, build))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("bundle: %w", err))
		return
	}
	s.log.Info("bundle download", "node", p.NodeID, "board", board, "build", build, "range", r.Header.Get("Range"))
	w.Header().Set("ETag", `"`+rel.SHA256+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
