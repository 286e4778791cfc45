package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// apiClient is how the subcommands that talk to a running vigil serve
// (incidents, rca report, runbook killswitch and approvals, explain
// --incident) call its HTTP API.
type apiClient struct {
	base, token string
	http        *http.Client
}

// Bounds of an API call from the command line.
const (
	apiClientTimeout = 30 * time.Second
	apiClientMaxBody = 64 << 20
)

// errAPINotFound is wrapped by calls answered 404.
var errAPINotFound = errors.New("not found")

// apiClientFlags adds --url, --token and --token-file to c (for it and its
// subcommands) and returns the constructor of the client they describe.
// The token comes from --token, --token-file or $VIGIL_TOKEN, in that order.
func apiClientFlags(c *cobra.Command) func(cmd *cobra.Command) (*apiClient, error) {
	var apiURL, token, tokenFile string
	f := c.PersistentFlags()
	f.StringVar(&apiURL, "url", "http://127.0.0.1:9380", "base URL of the Vigil API")
	f.StringVar(&token, "token", "", "API token (default: $VIGIL_TOKEN)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the API token, e.g. DATA_DIR/admin.token")
	return func(cmd *cobra.Command) (*apiClient, error) {
		u, err := url.Parse(apiURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError{fmt.Errorf("%s: --url %q is not an http(s) URL (see %s --help)", cmd.CommandPath(), apiURL, cmd.CommandPath())}
		}
		if token != "" && tokenFile != "" {
			return nil, usageError{fmt.Errorf("%s: --token and --token-file exclude each other", cmd.CommandPath())}
		}
		tok := token
		if tokenFile != "" {
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return nil, fmt.Errorf("read token file: %w", err)
			}
			tok = strings.TrimSpace(string(b))
		}
		if tok == "" {
			tok = os.Getenv("VIGIL_TOKEN")
		}
		return &apiClient{base: strings.TrimRight(apiURL, "/"), token: tok, http: &http.Client{Timeout: apiClientTimeout}}, nil
	}
}

// do sends a request (body, when not nil, as JSON) and returns the body of
// a 2xx answer. Errors carry the API's own message, say when the server is
// not running, hint at the token on 401/403, and wrap errAPINotFound on 404.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("connection refused: is vigil serve running at %s?", c.base)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, apiClientMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if len(b) > apiClientMaxBody {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, apiClientMaxBody)
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	var apiErr struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &apiErr) == nil && apiErr.Error.Message != "" {
		msg = apiErr.Error.Message
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s %s: %w: %s", method, path, errAPINotFound, msg)
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("%s %s: %s: %s (pass a token with the right role with --token, --token-file or $VIGIL_TOKEN)", method, path, resp.Status, msg)
	}
	return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
}

// send is do with v marshalled as the JSON body.
func (c *apiClient) send(ctx context.Context, method, path string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, method, path, b)
}

// getJSON reads path into v.
func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	b, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: the answer is not the expected JSON: %w", path, err)
	}
	return nil
}

// cmdContext returns the command's context, or a background one.
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
