package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the operator API.
type Client struct {
	// Base is the server's API URL, e.g. http://127.0.0.1:8053.
	Base  string
	Token string
	// Actor names the operator in the audit log; optional.
	Actor string
	HTTP  *http.Client
}

// CallError is an error answer from the server.
type CallError struct {
	Status int
	Body   Error
}

func (e *CallError) Error() string {
	if len(e.Body.Fields) == 0 {
		return e.Body.Error
	}
	lines := make([]string, len(e.Body.Fields))
	for i, f := range e.Body.Fields {
		lines[i] = f.Path + ": " + f.Msg
		if f.Path == "" {
			lines[i] = f.Msg
		}
	}
	return strings.Join(lines, "\n")
}

// Do sends a call with an optional JSON body and decodes a JSON answer
// into out (unless out is nil or the answer has no body).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return c.send(hc, req, out)
}

// send adds the operator's headers to req, sends it and decodes the
// answer as Do does.
func (c *Client) send(hc *http.Client, req *http.Request, out any) error {
	method, path := req.Method, req.URL.Path
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if c.Actor != "" {
		req.Header.Set("Goleudy-Actor", c.Actor)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		ce := &CallError{Status: resp.StatusCode}
		if json.Unmarshal(data, &ce.Body) != nil || ce.Body.Error == "" {
			ce.Body.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
		}
		return ce
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	return json.Unmarshal(data, out)
}

// Nodes lists the nodes.
func (c *Client) Nodes(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	return out, c.Do(ctx, http.MethodGet, "/v1/nodes", nil, &out)
}

// AddNode adds a node and returns its one-time token and seed.
func (c *Client) AddNode(ctx context.Context, n NodeInfo) (NewNode, error) {
	var out NewNode
	return out, c.Do(ctx, http.MethodPost, "/v1/nodes", n, &out)
}

// Node returns one node.
func (c *Client) Node(ctx context.Context, id string) (NodeInfo, error) {
	var out NodeInfo
	return out, c.Do(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(id), nil, &out)
}

// UpdateNode replaces a node document.
func (c *Client) UpdateNode(ctx context.Context, n NodeInfo, id string) (NodeInfo, error) {
	var out NodeInfo
	return out, c.Do(ctx, http.MethodPut, "/v1/nodes/"+url.PathEscape(id), n, &out)
}

// RemoveNode removes a node.
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/nodes/"+url.PathEscape(id), nil, nil)
}

// NewToken issues a fresh enrollment token for a node.
func (c *Client) NewToken(ctx context.Context, id string) (NewNode, error) {
	var out NewNode
	return out, c.Do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(id)+"/token", nil, &out)
}

// Config returns a node's rendered config, signed (a DSSE envelope) or not.
func (c *Client) Config(ctx context.Context, id string, signed bool) ([]byte, error) {
	path := "/v1/nodes/" + url.PathEscape(id) + "/config"
	if signed {
		path += "?signed=1"
	}
	var raw json.RawMessage
	return raw, c.Do(ctx, http.MethodGet, path, nil, &raw)
}

// Zones lists the customer zones.
func (c *Client) Zones(ctx context.Context) ([]Zone, error) {
	var out []Zone
	return out, c.Do(ctx, http.MethodGet, "/v1/zones", nil, &out)
}

// AddZone adds a customer zone.
func (c *Client) AddZone(ctx context.Context, z Zone) error {
	return c.Do(ctx, http.MethodPost, "/v1/zones", z, nil)
}

// RemoveZone removes a customer zone.
func (c *Client) RemoveZone(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/zones/"+url.PathEscape(name), nil, nil)
}

// Keys returns the fleet's public keys.
func (c *Client) Keys(ctx context.Context) (Keys, error) {
	var out Keys
	return out, c.Do(ctx, http.MethodGet, "/v1/keys", nil, &out)
}

// Status returns the fleet's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	return out, c.Do(ctx, http.MethodGet, "/v1/status", nil, &out)
}

// Audit returns audit entries after seq after, at most limit (0: all).
func (c *Client) Audit(ctx context.Context, after uint64, limit int) (json.RawMessage, error) {
	var raw json.RawMessage
	path := "/v1/audit?after=" + strconv.FormatUint(after, 10) + "&limit=" + strconv.Itoa(limit)
	return raw, c.Do(ctx, http.MethodGet, path, nil, &raw)
}

// PublishRelease uploads a bundle, streaming it from body; size is its
// length in bytes (-1 if unknown). The call has no timeout of its own: a
// bundle is large, so bound it with ctx.
func (c *Client) PublishRelease(ctx context.Context, body io.Reader, size int64) (Release, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Base, "/")+"/v1/releases", body)
	if err != nil {
		return Release{}, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	var out Release
	return out, c.send(hc, req, &out)
}

// Releases lists the published releases.
func (c *Client) Releases(ctx context.Context) ([]Release, error) {
	var out []Release
	return out, c.Do(ctx, http.MethodGet, "/v1/releases", nil, &out)
}

// StartRollout starts a rollout.
func (c *Client) StartRollout(ctx context.Context, r RolloutRequest) (Rollout, error) {
	var out Rollout
	return out, c.Do(ctx, http.MethodPost, "/v1/rollout", r, &out)
}

// Rollout returns the current rollout.
func (c *Client) Rollout(ctx context.Context) (Rollout, error) {
	var out Rollout
	return out, c.Do(ctx, http.MethodGet, "/v1/rollout", nil, &out)
}

// HaltRollout halts the running rollout.
func (c *Client) HaltRollout(ctx context.Context, reason string) (Rollout, error) {
	var out Rollout
	return out, c.Do(ctx, http.MethodPost, "/v1/rollout/halt", HaltRequest{Reason: reason}, &out)
}
