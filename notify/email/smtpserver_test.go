package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// received is one message as the test SMTP server saw it.
type received struct {
	helo     string
	tls      bool
	authUser string
	authPass string
	from     string
	to       []string
	data     []byte
}

// smtpServer is a minimal ESMTP server on loopback: EHLO, STARTTLS (when
// it has a certificate), AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type smtpServer struct {
	ln       net.Listener
	tlsConf  *tls.Config
	rcptCode int  // reply to RCPT; 250 unless set
	implicit bool // the listener speaks TLS
	msgs     chan received
}

func newSMTPServer(t *testing.T, withTLS bool) (*smtpServer, *x509.CertPool) {
	return startSMTPServer(t, withTLS, false)
}

// startSMTPServer starts the server; implicit makes it speak TLS from
// the first byte (SMTPS) instead of offering STARTTLS.
func startSMTPServer(t *testing.T, withTLS, implicit bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{rcptCode: 250, msgs: make(chan received, 4)}
	var pool *x509.CertPool
	if withTLS || implicit {
		cert, p := selfSigned(t)
		s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}}
		pool = p
	}
	if implicit {
		ln = tls.NewListener(ln, s.tlsConf)
		s.implicit = true
	}
	s.ln = ln
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s, pool
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *smtpServer) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	r := received{tls: s.implicit}
	tp.PrintfLine("220 test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			r.helo = arg
			tp.PrintfLine("250-test greets %s", arg)
			if s.tlsConf != nil && !r.tls {
				tp.PrintfLine("250-STARTTLS")
			}
			tp.PrintfLine("250-AUTH PLAIN")
			tp.PrintfLine("250 8BITMIME")
		case "STARTTLS":
			tp.PrintfLine("220 ready")
			tc := tls.Server(conn, s.tlsConf)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn = tc
			tp = textproto.NewConn(tc)
			r.tls = true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			if mech != "PLAIN" || err != nil || len(parts) != 3 {
				tp.PrintfLine("535 bad auth")
				continue
			}
			r.authUser, r.authPass = parts[1], parts[2]
			tp.PrintfLine("235 ok")
		case "MAIL":
			addr, _, _ := strings.Cut(arg, " ") // drop parameters such as BODY=8BITMIME
			r.from = strings.Trim(strings.TrimPrefix(addr, "FROM:"), "<>")
			tp.PrintfLine("250 ok")
		case "RCPT":
			if s.rcptCode != 250 {
				tp.PrintfLine("%d recipient refused", s.rcptCode)
				continue
			}
			r.to = append(r.to, strings.Trim(arg[3:], "<>"))
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go ahead")
			b, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			r.data = b
			tp.PrintfLine("250 queued")
			s.msgs <- r
		case "RSET", "NOOP":
			tp.PrintfLine("250 ok")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 not implemented")
		}
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
