package otlp

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/icmp-exporter/icmp_exporter/config"
)

// TestTLS pushes over TLS (gRPC and HTTP) with the server's certificate as
// ca_file, and checks that without it the certificate is refused.
func TestTLS(t *testing.T) {
	// httptest's self-signed certificate for 127.0.0.1 serves both servers.
	hr, hsrv := newHTTPReceiverUnstarted(t)
	hsrv.StartTLS()
	hr.endpoint = "https://" + hsrv.Listener.Addr().String() + "/v1/metrics"
	cert := hsrv.TLS.Certificates[0]
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hsrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	gr := newGRPCReceiver(t, "127.0.0.1:0", grpc.Creds(credentials.NewServerTLSFromCert(&cert)))

	for _, tc := range []struct {
		name     string
		protocol string
		rc       *receiver
		ca       bool
		wantErr  string
	}{
		{"grpc", "grpc", gr, true, ""},
		{"grpc unknown CA", "grpc", gr, false, "certificate"},
		{"http", "http", hr, true, ""},
		{"http unknown CA", "http", hr, false, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(tc.protocol, tc.rc.endpoint)
			cfg.Insecure = false
			cfg.Timeout = 3 * time.Second
			if tc.ca {
				cfg.TLS = config.OTLPTLS{CAFile: caFile, ServerName: "127.0.0.1"}
			}
			before := len(tc.rc.requests())
			p := startPusher(t, cfg, newFakeSource(2), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := p.ForceFlush(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("push over TLS: %v", err)
				}
				if len(tc.rc.requests()) != before+1 {
					t.Errorf("receiver got %d new requests, want 1", len(tc.rc.requests())-before)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one about the %s", err, tc.wantErr)
			}
		})
	}
}
