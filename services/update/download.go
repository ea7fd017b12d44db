package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
)

// errRefused marks a bundle the node must never install: its signature,
// board, build or image is wrong. Such a release is recorded as failed and
// not tried again; any other error is retried.
var errRefused = errors.New("refused")

// refusef is an errRefused error with the reason.
func refusef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRefused, fmt.Sprintf(format, args...))
}

// headerMax is the most a bundle's header takes: magic, length, manifest.
const headerMax = len(bundle.Magic) + 4 + bundle.MaxManifest

// fetchHeader fetches the start of the bundle, so that checkManifest can
// refuse a wrongly signed or mislabelled bundle before its image is
// downloaded at all: such a bundle costs 64 KiB.
func fetchHeader(ctx context.Context, c *http.Client, url string) (bundle.Header, error) {
	var h bundle.Header
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return h, fmt.Errorf("bundle header: %w", err)
	}
	req.Header.Set("Range", "bytes=0-"+strconv.Itoa(headerMax-1))
	resp, err := c.Do(req)
	if err != nil {
		return h, fmt.Errorf("bundle header: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return h, fmt.Errorf("bundle header: %s: %s", resp.Status, errorBody(resp.Body))
	}
	h, err = bundle.ReadHeader(io.LimitReader(resp.Body, int64(headerMax)))
	if err != nil {
		return h, refusef("%v", err)
	}
	return h, nil
}

// checkManifest verifies the header and holds the manifest to what the
// config asked for and what the node is.
func checkManifest(h bundle.Header, u config.Update, board string, running uint64, trust *envelope.TrustSet) (bundle.Manifest, error) {
	if trust == nil {
		return bundle.Manifest{}, refusef("the seed names no release keys (release_trust), so no bundle can be trusted")
	}
	m, err := h.Verify(trust)
	if err != nil {
		return m, refusef("%v", err)
	}
	var probs []string
	if m.Board != board {
		probs = append(probs, fmt.Sprintf("it is for board %q, this node is %q", m.Board, board))
	}
	if m.Build != u.Build || m.Version != u.Version {
		probs = append(probs, fmt.Sprintf("it is %s build %d, the config asks for %s build %d", m.Version, m.Build, u.Version, u.Build))
	}
	if m.SHA256 != u.SHA256 || m.Size != u.Size {
		probs = append(probs, fmt.Sprintf("its image is %s (%d bytes), the config names %s (%d bytes)", m.SHA256, m.Size, u.SHA256, u.Size))
	}
	if m.Build < running && !m.Downgrade {
		probs = append(probs, fmt.Sprintf("build %d is lower than the running build %d, and the bundle is not signed as a downgrade", m.Build, running))
	}
	if len(probs) > 0 {
		return m, refusef("%s", strings.Join(probs, "; "))
	}
	return m, nil
}

// progress is told the staged bytes as the download goes.
type progress func(done, total int64)

// download completes the staged bundle at path, which holds whatever an
// earlier attempt got (its header already checked), resuming with an HTTP
// range. It syncs the file before returning; the caller checks the hash.
func download(ctx context.Context, c *http.Client, url, path string, total int64, p progress) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	if have > total {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("staging: %w", err)
		}
		have = 0
	}
	if have < total {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("download: %w", err)
		}
		if have > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("download: %w", err)
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusPartialContent && have > 0:
			if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
				return fmt.Errorf("download: asked for bytes from %d, got Content-Range %q", have, resp.Header.Get("Content-Range"))
			}
		case resp.StatusCode == http.StatusOK:
			// The server ignored the range: start again.
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("staging: %w", err)
			}
			have = 0
		default:
			return fmt.Errorf("download: %s: %s", resp.Status, errorBody(resp.Body))
		}
		w := &progressWriter{w: io.NewOffsetWriter(f, have), done: have, total: total, p: p}
		n, err := io.Copy(w, io.LimitReader(resp.Body, total-have))
		if serr := f.Sync(); err == nil && serr != nil {
			err = fmt.Errorf("staging: %w", serr)
		}
		if err != nil {
			return fmt.Errorf("download: after %d bytes: %w", have+n, err)
		}
		if have+n < total {
			return fmt.Errorf("download: the server sent %d of %d bytes", have+n, total)
		}
	}
	return nil
}

// rangeStart is the first byte of a Content-Range "bytes a-b/n".
func rangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil && n >= 0
}

// progressWriter reports every progressStep bytes written.
type progressWriter struct {
	w           io.Writer
	done, total int64
	last        int64
	p           progress
}

const progressStep = 4 << 20

func (w *progressWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.done += int64(n)
	if w.p != nil && (w.done-w.last >= progressStep || w.done == w.total) {
		w.last = w.done
		w.p(w.done, w.total)
	}
	return n, err
}

// errorBody is the start of an error response, for the log.
func errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	return string(bytes.TrimSpace(b))
}
